/*
** deploy/prompts.c — prompt versions and labels in the store (see prompts.h).
*/
#include "deploy/prompts.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "data/store_impl.h"

#define MAX_NAME 128

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n > MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_./", s[i]))
            return false;
    return true;
}

/* Walks the {{name}}s of text: calls fn for each (name, start, end). */
static mast_status scan(const char *text, int (*fn)(void *ctx, const char *name, size_t n, size_t start,
                                                   size_t end), void *ctx)
{
    for (const char *p = text; (p = strstr(p, "{{")) != NULL;) {
        const char *q = strstr(p + 2, "}}");
        if (!q)
            return mast_fail(MAST_ERR_INVALID, "an unclosed '{{' at \"%.20s\"", p);
        const char *a = p + 2, *b = q;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a == b)
            return mast_fail(MAST_ERR_INVALID, "an empty '{{ }}'");
        for (const char *c = a; c < b; c++)
            if (!isalnum((unsigned char)*c) && *c != '_')
                return mast_fail(MAST_ERR_INVALID, "'{{%.*s}}' is not a variable's name (letters, "
                                 "digits and _)", (int)(b - a), a);
        if (fn(ctx, a, (size_t)(b - a), (size_t)(p - text), (size_t)(q + 2 - text)))
            return MAST_ERR_INVALID;
        p = q + 2;
    }
    return MAST_OK;
}

static int add_name(void *ctx, const char *name, size_t n, size_t start, size_t end)
{
    (void)start;
    (void)end;
    json_t *names = ctx;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
        if (json_string_length(v) == n && !memcmp(json_string_value(v), name, n))
            return 0;
    json_array_append_new(names, json_stringn(name, n));
    return 0;
}

/* Calls each text of a template: the string, or each message's content. */
static mast_status each_text(const char *type, const json_t *tmpl,
                             mast_status (*fn)(void *ctx, const char *text, size_t i), void *ctx)
{
    if (!strcmp(type, "text")) {
        if (!json_is_string(tmpl))
            return mast_fail(MAST_ERR_INVALID, "a text prompt's template is a string");
        return fn(ctx, json_string_value(tmpl), 0);
    }
    if (!json_is_array(tmpl) || !json_array_size(tmpl))
        return mast_fail(MAST_ERR_INVALID, "a chat prompt's template is a non-empty array of "
                         "{\"role\", \"content\"} messages");
    size_t i;
    json_t *m;
    json_array_foreach(tmpl, i, m) {
        const char *role = mast_json_get_str(m, "role", NULL), *content = mast_json_get_str(m, "content", NULL);
        if (!role || !content || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
            return mast_fail(MAST_ERR_INVALID, "message %zu of the template must be {\"role\": "
                             "system|user|assistant, \"content\": \"...\"}", i);
        MAST_TRY(fn(ctx, content, i));
    }
    return MAST_OK;
}

static mast_status collect(void *ctx, const char *text, size_t i)
{
    (void)i;
    return scan(text, add_name, ctx);
}

mast_status mast_prompt_variables(const char *type, const json_t *tmpl, json_t **names)
{
    *names = json_array();
    mast_status st = each_text(type, tmpl, collect, *names);
    if (st != MAST_OK) {
        json_decref(*names);
        *names = NULL;
    }
    return st;
}

/* ---- the store ---- */

static mast_status prompt_id(mast_store *store, const char *name, int64_t *id, char type[8])
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT id, type FROM prompts WHERE name = ?", &st));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    mast_status s = MAST_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        snprintf(type, 8, "%s", (const char *)sqlite3_column_text(st, 1));
    } else {
        s = mast_fail(MAST_ERR_NOT_FOUND, "no prompt is named '%s'", name);
    }
    sqlite3_finalize(st);
    return s;
}

static mast_status set_label(mast_store *store, int64_t id, const char *label, int version)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "INSERT INTO prompt_labels(prompt_id, label, version) VALUES(?, ?, ?)"
                                " ON CONFLICT(prompt_id, label) DO UPDATE SET version = excluded.version", &st));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, version);
    mast_status s = sqlite3_step(st) == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot label");
    sqlite3_finalize(st);
    return s;
}

static mast_status add_version(mast_store *store, int64_t id, const char *type, const json_t *tmpl,
                               const json_t *config, int *version)
{
    json_t *vars;
    MAST_TRY(mast_prompt_variables(type, tmpl, &vars));
    json_decref(vars);
    if (config && !json_is_object(config))
        return mast_fail(MAST_ERR_INVALID, "a prompt's config is an object (model, temperature, "
                         "max_tokens, response_format)");
    static const char *const fields[] = {"model", "temperature", "top_p", "max_tokens",
                                         "response_format", "stop", NULL};
    if (config)
        MAST_TRY(mast_json_check_fields(config, fields, "config"));
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT coalesce(max(version), 0) + 1 FROM prompt_versions WHERE prompt_id = ?", &st));
    sqlite3_bind_int64(st, 1, id);
    *version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
    sqlite3_finalize(st);
    mast_buf t = {0}, c = {0};
    if (json_is_string(tmpl))
        mast_buf_puts(&t, json_string_value(tmpl));
    else
        mast_json_dump(tmpl, 0, &t);
    mast_json_dump(config ? config : json_object(), 0, &c);
    mast_status s = mast_store_prepare(store, "INSERT INTO prompt_versions(prompt_id, version, template, config, "
                                       "created_at) VALUES(?, ?, ?, ?, ?)", &st);
    if (s == MAST_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, *version);
        sqlite3_bind_text(st, 3, mast_buf_cstr(&t), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, mast_buf_cstr(&c), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
        if (sqlite3_step(st) != SQLITE_DONE)
            s = mast_store_error(store, "cannot add the version");
        sqlite3_finalize(st);
    }
    mast_buf_free(&t);
    mast_buf_free(&c);
    if (s == MAST_OK)
        s = set_label(store, id, "latest", *version);
    return s;
}

static mast_status check_label(const char *label)
{
    if (label && (!valid_name(label) || !strcmp(label, "latest")))
        return mast_fail(MAST_ERR_INVALID, "'%s' cannot be a label (letters, digits, - _ . /; "
                         "'latest' is kept by mast)", label);
    return MAST_OK;
}

/* The end of create and update: the label, the commit, the new version. */
static mast_status finish_version(mast_store *store, mast_status s, int64_t id, const char *name,
                                  const char *label, int version, json_t **out)
{
    if (s == MAST_OK && label)
        s = set_label(store, id, label, version);
    if (s == MAST_OK)
        s = mast_store_commit(store);
    if (s != MAST_OK) {
        mast_store_rollback(store);
        return s;
    }
    return out ? mast_prompt_get(store, name, NULL, version, out) : MAST_OK;
}

mast_status mast_prompt_create(mast_store *store, const char *name, const char *type,
                               const json_t *tmpl, const json_t *config, const char *label, json_t **out)
{
    if (!valid_name(name))
        return mast_fail(MAST_ERR_INVALID, "'%s' cannot be a prompt's name (1 to %d of letters, digits, "
                         "- _ . /)", name ? name : "", MAX_NAME);
    if (!type || (strcmp(type, "text") && strcmp(type, "chat")))
        return mast_fail(MAST_ERR_INVALID, "a prompt's type is text or chat");
    MAST_TRY(check_label(label));
    MAST_TRY(mast_store_begin(store));
    sqlite3_stmt *st;
    mast_status s = mast_store_prepare(store, "INSERT INTO prompts(name, type, created_at) VALUES(?, ?, ?)", &st);
    if (s == MAST_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
        int rc = sqlite3_step(st);
        s = rc == SQLITE_CONSTRAINT ? mast_fail(MAST_ERR_EXISTS, "a prompt named '%s' exists (update it)", name)
          : rc == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot create the prompt");
        sqlite3_finalize(st);
    }
    int version = 0;
    int64_t id = sqlite3_last_insert_rowid(store->db);
    if (s == MAST_OK)
        s = add_version(store, id, type, tmpl, config, &version);
    return finish_version(store, s, id, name, label, version, out);
}

mast_status mast_prompt_update(mast_store *store, const char *name, const json_t *tmpl,
                               const json_t *config, const char *label, json_t **out)
{
    MAST_TRY(check_label(label));
    MAST_TRY(mast_store_begin(store));
    int64_t id = 0;
    char type[8];
    int version = 0;
    json_t *prev = NULL;
    mast_status s = prompt_id(store, name, &id, type);
    if (s == MAST_OK && !config && mast_prompt_get(store, name, NULL, 0, &prev) == MAST_OK)
        config = json_object_get(prev, "config");   /* no new config: the latest one carries over */
    if (s == MAST_OK)
        s = add_version(store, id, type, tmpl, config, &version);
    json_decref(prev);
    return finish_version(store, s, id, name, label, version, out);
}

mast_status mast_prompt_label(mast_store *store, const char *name, const char *label, int version)
{
    MAST_TRY(check_label(label));
    int64_t id = 0;
    char type[8];
    MAST_TRY(prompt_id(store, name, &id, type));
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT 1 FROM prompt_versions WHERE prompt_id = ? AND version = ?", &st));
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, version);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found)
        return mast_fail(MAST_ERR_NOT_FOUND, "prompt '%s' has no version %d", name, version);
    return set_label(store, id, label, version);
}

static json_t *labels_of(mast_store *store, int64_t id, int version)
{
    json_t *a = json_array();
    sqlite3_stmt *st;
    if (mast_store_prepare(store, "SELECT label FROM prompt_labels WHERE prompt_id = ? AND version = ? "
                           "ORDER BY label", &st) != MAST_OK)
        return a;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, version);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return a;
}

static json_t *version_json(mast_store *store, const char *name, int64_t id, const char *type,
                            sqlite3_stmt *st)
{
    int version = sqlite3_column_int(st, 0);
    const char *t = (const char *)sqlite3_column_text(st, 1);
    json_t *tmpl = !strcmp(type, "chat") ? json_loads(t, 0, NULL) : mast_json_string_lossy(t);
    json_t *config = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    json_t *vars = NULL;
    mast_prompt_variables(type, tmpl, &vars);
    return json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:I}", "name", name, "type", type, "version",
                     version, "labels", labels_of(store, id, version), "template", tmpl ? tmpl : json_null(),
                     "config", config ? config : json_object(), "variables", vars ? vars : json_array(),
                     "created_at", (json_int_t)sqlite3_column_int64(st, 3));
}

mast_status mast_prompt_get(mast_store *store, const char *name, const char *label, int version,
                            json_t **out)
{
    *out = NULL;
    int64_t id = 0;
    char type[8];
    MAST_TRY(prompt_id(store, name, &id, type));
    sqlite3_stmt *st;
    if (version > 0) {
        MAST_TRY(mast_store_prepare(store, "SELECT version, template, config, created_at FROM prompt_versions "
                                    "WHERE prompt_id = ? AND version = ?", &st));
        sqlite3_bind_int(st, 2, version);
    } else {
        MAST_TRY(mast_store_prepare(store, "SELECT v.version, v.template, v.config, v.created_at FROM "
                                    "prompt_labels l JOIN prompt_versions v ON v.prompt_id = l.prompt_id AND "
                                    "v.version = l.version WHERE l.prompt_id = ? AND l.label = ?", &st));
        sqlite3_bind_text(st, 2, label ? label : "latest", -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 1, id);
    mast_status s = MAST_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = version_json(store, name, id, type, st);
    else if (version > 0)
        s = mast_fail(MAST_ERR_NOT_FOUND, "prompt '%s' has no version %d", name, version);
    else
        s = mast_fail(MAST_ERR_NOT_FOUND, "prompt '%s' has no label '%s'", name, label ? label : "latest");
    sqlite3_finalize(st);
    return s;
}

mast_status mast_prompt_list(mast_store *store, json_t **out)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT name FROM prompts ORDER BY name", &st));
    *out = json_array();
    mast_status s = MAST_OK;
    while (s == MAST_OK && sqlite3_step(st) == SQLITE_ROW) {
        json_t *p;
        s = mast_prompt_get(store, (const char *)sqlite3_column_text(st, 0), NULL, 0, &p);
        if (s == MAST_OK)
            json_array_append_new(*out, p);
    }
    sqlite3_finalize(st);
    return s;
}

mast_status mast_prompt_history(mast_store *store, const char *name, json_t **out)
{
    int64_t id = 0;
    char type[8];
    MAST_TRY(prompt_id(store, name, &id, type));
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT version, template, config, created_at FROM prompt_versions "
                                "WHERE prompt_id = ? ORDER BY version DESC", &st));
    sqlite3_bind_int64(st, 1, id);
    *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(*out, version_json(store, name, id, type, st));
    sqlite3_finalize(st);
    return MAST_OK;
}

/* ---- rendering ---- */

typedef struct subst {
    const char *text;
    size_t at;
    mast_buf out;
    const json_t *vars;
    const json_t *prompt;
} subst;

static int put(void *ctx, const char *name, size_t n, size_t start, size_t end)
{
    subst *s = ctx;
    char key[MAX_NAME + 1];
    snprintf(key, sizeof key, "%.*s", (int)n, name);
    const json_t *v = json_object_get(s->vars, key);
    if (!v) {
        mast_fail(MAST_ERR_INVALID, "prompt %s version %lld: the variable '%s' is missing",
                  mast_json_get_str(s->prompt, "name", "?"),
                  (long long)json_integer_value(json_object_get(s->prompt, "version")), key);
        return 1;
    }
    mast_buf_append(&s->out, s->text + s->at, start - s->at);
    if (json_is_string(v))
        mast_buf_puts(&s->out, json_string_value(v));
    else
        mast_json_dump(v, 0, &s->out);
    s->at = end;
    return 0;
}

static mast_status render_text(const json_t *prompt, const json_t *vars, const char *text, json_t **out)
{
    subst s = {text, 0, {0}, vars, prompt};
    mast_status st = scan(text, put, &s);
    if (st == MAST_OK) {
        mast_buf_puts(&s.out, text + s.at);
        *out = mast_json_string_lossy(mast_buf_cstr(&s.out));
    }
    mast_buf_free(&s.out);
    return st;
}

mast_status mast_prompt_render(const json_t *prompt, const json_t *variables, json_t **out)
{
    *out = NULL;
    json_t *empty = json_object();
    const json_t *vars = json_is_object(variables) ? variables : empty;
    const json_t *tmpl = json_object_get(prompt, "template");
    mast_status st = MAST_OK;
    if (json_is_string(tmpl)) {
        st = render_text(prompt, vars, json_string_value(tmpl), out);
    } else {
        json_t *msgs = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(tmpl, i, m) {
            json_t *content;
            st = render_text(prompt, vars, mast_json_get_str(m, "content", ""), &content);
            if (st != MAST_OK)
                break;
            json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", mast_json_get_str(m, "role", "user"),
                                                  "content", content));
        }
        if (st == MAST_OK)
            *out = msgs;
        else
            json_decref(msgs);
    }
    json_decref(empty);
    return st;
}
