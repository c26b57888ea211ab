/*
** deploy/server/admin.c — what the served models are doing, and managing
** which are in memory:
**   GET  /slots                          every chat model's slots (llama-server's route)
**   POST /admin/models/{id}/load         load it now (body: {"keep_alive"?}); 200 with its state
**   POST /admin/models/{id}/unload       unload it once its requests end; 200 with its state
** /v1/models (openai.c) lists the models as http_model_json shows them.
*/
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "deploy/server/gen_job.h"

/* A model load waits this long; an unload for running requests to end. */
#define ADMIN_LOAD_WAIT_S 300
#define ADMIN_UNLOAD_WAIT_S 60

static const char *state_name(mast_model_state s)
{
    switch (s) {
    case MAST_MODEL_UNLOADED: return "unloaded";
    case MAST_MODEL_LOADING: return "loading";
    case MAST_MODEL_READY: return "ready";
    default: return "failed";
    }
}

/* A served model: what it is, whether it is in memory (its bytes, slots and
** queue), and when it unloads. */
json_t *http_model_json(mast_model *m)
{
    mast_model_view v;
    mast_model_view_of(m, &v);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "id", m->id, "object", "model", "created",
                          (json_int_t)m->created, "owned_by", "mast");
    json_object_set_new(o, "status", json_string(state_name(v.state)));
    json_object_set_new(o, "loaded", json_boolean(v.state == MAST_MODEL_READY));
    if (v.error[0])
        json_object_set_new(o, "error", mast_json_string_lossy(v.error));
    json_t *caps = json_array();
    if (m->kind == MAST_MODEL_CHAT) {
        json_array_append_new(caps, json_string("chat"));
        json_array_append_new(caps, json_string("completions"));
        json_array_append_new(caps, json_string("tools"));
        json_array_append_new(caps, json_string("json_schema"));
    } else {
        json_array_append_new(caps, json_string("embeddings"));
    }
    json_object_set_new(o, "capabilities", caps);
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)m->file_bytes));
    json_object_set_new(o, "memory_bytes", json_integer((json_int_t)(v.weights_bytes + v.kv_bytes)));
    json_object_set_new(o, "loads", json_integer(v.loads));
    if (v.loads)
        json_object_set_new(o, "load_seconds", json_real(v.load_seconds));
    if (v.state == MAST_MODEL_READY)
        json_object_set_new(o, "expires_in", v.expires_in < 0 ? json_null() : json_real(v.expires_in));
    json_object_set_new(o, "requests_active", json_integer(v.users));
    if (v.known && m->kind == MAST_MODEL_CHAT) {
        json_object_set_new(o, "context_length", json_integer(v.n_ctx));
        json_object_set_new(o, "context_length_trained", json_integer(v.n_ctx_train));
        json_object_set_new(o, "architecture", json_string(v.arch));
        json_object_set_new(o, "quantization", json_string(v.quant));
        json_object_set_new(o, "vocab_size", json_integer(v.n_vocab));
        json_object_set_new(o, "chat_format", json_string(v.chat_format));
        if (v.template_note[0])
            json_object_set_new(o, "chat_template_note", mast_json_string_lossy(v.template_note));
    } else if (v.known) {
        json_object_set_new(o, "dimensions", json_integer(v.dim));
    }
    if (m->kind == MAST_MODEL_CHAT && v.state == MAST_MODEL_READY) {
        json_object_set_new(o, "slots", json_integer(v.slots));
        json_object_set_new(o, "slots_busy", json_integer(v.slots_busy));
        json_object_set_new(o, "queued", json_integer((json_int_t)v.queued));
        json_object_set_new(o, "kv_cache_bytes", json_integer((json_int_t)v.kv_bytes));
    }
    return o;
}

/* GET /slots (llama-server's name): every chat model's slots. */
static http_reply list_slots(http_ctx *c)
{
    json_t *out = json_array();
    mast_slot_info slots[256];
    for (size_t i = 0; i < mast_models_count(c->models); i++) {
        mast_model *m = mast_models_at(c->models, i);
        if (m->kind != MAST_MODEL_CHAT)
            continue;
        int n = mast_model_slots(m, slots, 256);
        for (int k = 0; k < n && k < 256; k++)
            json_array_append_new(out, json_pack("{s:i, s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:I}",
                "id", k, "model", m->id, "state", slots[k].state,
                "is_processing", strcmp(slots[k].state, "idle") != 0, "n_ctx", slots[k].n_ctx,
                "cached_tokens", slots[k].cached_tokens, "prompt_tokens", slots[k].prompt_tokens,
                "generated_tokens", slots[k].generated_tokens,
                "kv_cache_bytes", (json_int_t)slots[k].kv_bytes));
    }
    return http_ok(200, out);
}

static http_reply not_allowed(const http_request *req, const char *allow)
{
    http_reply r = http_error(405, "method_not_allowed", "method %s is not allowed on %s "
                              "(allowed: %s)", req->method, req->path, allow);
    r.allow = allow;
    return r;
}

/* POST /admin/models/{id}/load|unload */
static http_reply admin_model(http_ctx *c, const http_request *req, const char *rest)
{
    const char *slash = strrchr(rest, '/');
    if (!slash || (strcmp(slash, "/load") && strcmp(slash, "/unload")))
        return http_error(404, "not_found", "no such route: %s %s (POST /admin/models/ID/load "
                          "or /unload)", req->method, req->path);
    if (strcmp(req->method, "POST"))
        return not_allowed(req, "POST, OPTIONS");
    char id[256];
    snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
    mast_model *m = mast_models_find(c->models, id);
    if (!m)
        return http_error_param(404, "model_not_found", "model", "The model '%s' does not exist "
                                "(GET /v1/models lists them)", id);
    int64_t keep = MAST_KEEP_ALIVE_DEFAULT;
    if (req->body && req->body->len) {
        static const char *const fields[] = {"keep_alive", NULL};
        json_t *body;
        mast_status st = http_body_object(req, fields, &body);
        if (st == MAST_OK)
            st = gen_read_keep_alive(body, &keep);
        json_decref(body);
        if (st != MAST_OK)
            return http_error_param(400, "invalid_request", NULL, "%s", mast_errmsg());
    }
    if (!strcmp(slash, "/unload")) {
        if (mast_model_unload(m, ADMIN_UNLOAD_WAIT_S) == MAST_MODEL_READY)
            return http_error(409, "model_busy", "model %s is still answering requests after %d s; "
                              "it unloads when they end", m->id, ADMIN_UNLOAD_WAIT_S);
        return http_ok(200, http_model_json(m));
    }
    mast_model_use use;
    mast_status st = mast_model_acquire(m, ADMIN_LOAD_WAIT_S, &use);
    if (st != MAST_OK) {
        http_reply r = http_error(503, st == MAST_ERR_LIMIT ? "loading" : "model_failed", "%s",
                                  mast_errmsg());
        r.retry_after = st == MAST_ERR_LIMIT ? 1 : 0;
        return r;
    }
    mast_model_release(m, keep);
    json_t *o = http_model_json(m);
    json_object_set_new(o, "cold", json_boolean(use.cold));
    json_object_set_new(o, "wait_seconds", json_real(use.wait_seconds));
    return http_ok(200, o);
}

http_reply mast_admin_api(http_ctx *c, const http_request *req, int *matched)
{
    *matched = 1;
    if (!strcmp(req->path, "/slots"))
        return !strcmp(req->method, "GET") ? list_slots(c) : not_allowed(req, "GET, HEAD, OPTIONS");
    if (!strncmp(req->path, "/admin/models/", 14))
        return admin_model(c, req, req->path + 14);
    *matched = 0;
    return (http_reply){.status = 404};
}
