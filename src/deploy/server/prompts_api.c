/*
** deploy/server/prompts_api.c — the prompt registry over HTTP (deploy/prompts.h):
**   GET  /v1/prompts                          every prompt, its latest version
**   POST /v1/prompts                          {name, type, template, config?, label?} → 201
**   GET  /v1/prompts/{name}?label=L|version=N one version (default: latest)
**   GET  /v1/prompts/{name}/versions          its history, newest first
**   POST /v1/prompts/{name}/versions          {template, config?, label?} → 201, a new version
**   POST /v1/prompts/{name}/labels            {label, version}: deploy or roll back
** and the use of a prompt in a chat request (http_resolve_prompt).
*/
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "deploy/prompts.h"
#include "deploy/server/http.h"

static http_reply reply_of(mast_status st, json_t *v, unsigned ok_status)
{
    if (st != MAST_OK)
        return http_status_error(st);
    return http_ok(ok_status, v);
}

static http_reply with_body(http_ctx *c, const http_request *req, const char *name, int kind)
{
    static const char *const create_fields[] = {"name", "type", "template", "config", "label", NULL};
    static const char *const version_fields[] = {"template", "config", "label", NULL};
    static const char *const label_fields[] = {"label", "version", NULL};
    json_t *b;
    mast_status st = http_body_object(req, kind == 0 ? create_fields : kind == 1 ? version_fields
                                                                                 : label_fields, &b);
    if (st != MAST_OK)
        return http_status_error(st);
    json_t *out = NULL;
    if (kind == 0)
        st = mast_prompt_create(c->store, mast_json_get_str(b, "name", NULL), mast_json_get_str(b, "type", NULL),
                                json_object_get(b, "template"), json_object_get(b, "config"),
                                mast_json_get_str(b, "label", NULL), &out);
    else if (kind == 1)
        st = mast_prompt_update(c->store, name, json_object_get(b, "template"), json_object_get(b, "config"),
                                mast_json_get_str(b, "label", NULL), &out);
    else if (!json_is_integer(json_object_get(b, "version")) || !mast_json_get_str(b, "label", NULL))
        st = mast_fail(MAST_ERR_INVALID, "a label move is {\"label\": \"production\", \"version\": N}");
    else if ((st = mast_prompt_label(c->store, name, mast_json_get_str(b, "label", NULL),
                                     (int)json_integer_value(json_object_get(b, "version")))) == MAST_OK)
        st = mast_prompt_get(c->store, name, mast_json_get_str(b, "label", NULL), 0, &out);
    json_decref(b);
    return reply_of(st, out, kind == 2 ? 200 : 201);
}

http_reply mast_prompts_api(http_ctx *c, const http_request *req, int *matched)
{
    *matched = 0;
    const char *p = req->path;
    if (strncmp(p, "/v1/prompts", 11) || (p[11] && p[11] != '/'))
        return (http_reply){0};
    *matched = 1;
    bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
    json_t *out = NULL;
    if (!p[11] || !p[12]) {
        if (get)
            return reply_of(mast_prompt_list(c->store, &out), out, 200);
        if (post)
            return with_body(c, req, NULL, 0);
    } else {
        char name[256];
        const char *rest = strchr(p + 12, '/');
        size_t n = rest ? (size_t)(rest - (p + 12)) : strlen(p + 12);
        if (n >= sizeof name)
            return http_error(404, "not_found", "no such prompt");
        memcpy(name, p + 12, n);
        name[n] = 0;
        if (!rest && get) {
            const char *v = http_query(req, "version");
            return reply_of(mast_prompt_get(c->store, name, http_query(req, "label"), v ? atoi(v) : 0, &out),
                            out, 200);
        }
        if (rest && !strcmp(rest, "/versions")) {
            if (get)
                return reply_of(mast_prompt_history(c->store, name, &out), out, 200);
            if (post)
                return with_body(c, req, name, 1);
        }
        if (rest && !strcmp(rest, "/labels") && post)
            return with_body(c, req, name, 2);
        if (rest && strcmp(rest, "/versions") && strcmp(rest, "/labels"))
            return http_error(404, "not_found", "no such route: %s %s", req->method, req->path);
    }
    http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on %s", req->method, p);
    r.allow = "GET, POST, OPTIONS";
    return r;
}

mast_status http_resolve_prompt(mast_store *store, const mast_buf *body, mast_trace *trace, mast_buf *out)
{
    json_t *b = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const json_t *ref = json_object_get(b, "prompt");
    if (!json_is_object(ref)) {   /* no prompt: the body as it is (out stays empty) */
        json_decref(b);
        return MAST_OK;
    }
    static const char *const fields[] = {"name", "label", "version", "variables", NULL};
    mast_status st = mast_json_check_fields(ref, fields, "prompt");
    const char *name = mast_json_get_str(ref, "name", NULL);
    if (st == MAST_OK && !name)
        st = mast_fail(MAST_ERR_INVALID, "\"prompt\" needs \"name\" (and a \"label\" or \"version\")");
    json_t *p = NULL, *rendered = NULL;
    if (st == MAST_OK)
        st = mast_prompt_get(store, name, mast_json_get_str(ref, "label", NULL),
                             (int)json_integer_value(json_object_get(ref, "version")), &p);
    if (st == MAST_OK)
        st = mast_prompt_render(p, json_object_get(ref, "variables"), &rendered);
    if (st == MAST_OK) {
        json_t *msgs = json_is_array(rendered) ? json_incref(rendered)
                                               : json_pack("[{s:s, s:O}]", "role", "user", "content", rendered);
        json_array_extend(msgs, json_is_array(json_object_get(b, "messages")) ? json_object_get(b, "messages")
                                                                             : json_array());
        json_object_set_new(b, "messages", msgs);
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(p, "config"), key, v)   /* defaults the request may override */
            if (!json_object_get(b, key))
                json_object_set(b, key, v);
        if (trace) {   /* before the reference goes with the "prompt" member */
            mast_trace_attr_str(trace, "mast.prompt.name", name);
            mast_trace_attr_int(trace, "mast.prompt.version", json_integer_value(json_object_get(p, "version")));
            if (mast_json_get_str(ref, "label", NULL))
                mast_trace_attr_str(trace, "mast.prompt.label", mast_json_get_str(ref, "label", NULL));
        }
        json_object_del(b, "prompt");
        mast_json_dump(b, 0, out);
    }
    json_decref(rendered);
    json_decref(p);
    json_decref(b);
    return st;
}
