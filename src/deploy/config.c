/*
** deploy/config.c — mast.yaml validated into a mast_config (see config.h).
*/
#include "base/duration.h"
#include "deploy/config.h"
#include "deploy/prices.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mmap.h"
#include "base/status.h"
#include "base/yaml.h"

/* Where-strings ("models[0].deployments[1].price") are built in fixed buffers;
** one cut short only shortens an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

typedef struct checker {
    const mast_yaml *y;
} checker;

/* MAST_ERR_INVALID "FILE:LINE: WHERE: why". */
static mast_status bad(const checker *k, const json_t *v, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static mast_status bad(const checker *k, const json_t *v, const char *where, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int line = mast_yaml_line(k->y, v);
    return mast_fail(MAST_ERR_INVALID, "%s:%d: %s: %s", mast_yaml_name(k->y), line, where, why);
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static mast_status known_keys(const checker *k, const json_t *obj, const char *where,
                              const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *p = keys; *p && !ok; p++)
            ok = strcmp(*p, key) == 0;
        if (!ok) {
            char list[400] = "";
            for (const char *const *p = keys; *p; p++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", p == keys ? "" : ", ", *p);
            return bad(k, v, where, "unknown key '%s' (known: %s)", key, list);
        }
    }
    return MAST_OK;
}

static mast_status get_str(const checker *k, const json_t *obj, const char *key, const char *where,
                           bool required, char **out)
{
    const json_t *v = json_object_get(obj, key);
    char w[300];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!v || json_is_null(v)) {
        if (required)
            return bad(k, obj, where, "'%s' is required", key);
        return MAST_OK;
    }
    if (!json_is_string(v) || !json_string_length(v))
        return bad(k, v, w, "expected a non-empty string, got %s", type_of(v));
    free(*out);
    *out = strdup(json_string_value(v));
    return *out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

static mast_status get_num(const checker *k, const json_t *obj, const char *key, const char *where,
                           double min, double max, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!json_is_number(v))
        return bad(k, v, w, "expected a number, got %s", type_of(v));
    double d = json_number_value(v);
    if (!(d >= min && d <= max))
        return bad(k, v, w, "%g is out of range (%g to %g)", d, min, max);
    *out = d;
    return MAST_OK;
}

static mast_status get_int(const checker *k, const json_t *obj, const char *key, const char *where,
                           long min, long max, int *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!json_is_integer(v))
        return bad(k, v, w, "expected an integer, got %s", type_of(v));
    long long i = json_integer_value(v);
    if (i < min || i > max)
        return bad(k, v, w, "%lld is out of range (%ld to %ld)", i, min, max);
    *out = (int)i;
    return MAST_OK;
}

/* "250ms", "2s", "1.5m", "1h" or a number of seconds. */
static mast_status get_duration(const checker *k, const json_t *obj, const char *key,
                                const char *where, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (json_is_number(v) && json_number_value(v) >= 0) {
        *out = json_number_value(v);
        return MAST_OK;
    }
    double d;
    if (json_is_string(v) && mast_parse_duration(json_string_value(v), &d) == MAST_OK && d >= 0) {
        *out = d;
        return MAST_OK;
    }
    return bad(k, v, w, "expected a duration such as 250ms, 2s or 1m");
}

static mast_status get_names(const checker *k, const json_t *obj, const char *key, const char *where,
                             char ***out, size_t *n)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!json_is_array(v))
        return bad(k, v, w, "expected a list of names, got %s", type_of(v));
    *out = calloc(json_array_size(v) + 1, sizeof **out);
    if (!*out)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !json_string_length(e))
            return bad(k, e, w, "expected a name, got %s", type_of(e));
        (*out)[(*n)++] = strdup(json_string_value(e));
    }
    return MAST_OK;
}

static mast_status get_timeouts(const checker *k, const json_t *obj, const char *where,
                                mast_timeouts *t)
{
    static const char *const keys[] = {"connect", "first_token", "total", NULL};
    const json_t *v = json_object_get(obj, "timeout");
    if (!v)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.timeout", where);
    if (json_is_string(v) || json_is_number(v))   /* one duration: the total */
        return get_duration(k, obj, "timeout", where, &t->total);
    if (!json_is_object(v))
        return bad(k, v, w, "expected a duration or {connect, first_token, total}");
    MAST_TRY(known_keys(k, v, w, keys));
    MAST_TRY(get_duration(k, v, "connect", w, &t->connect));
    MAST_TRY(get_duration(k, v, "first_token", w, &t->first_token));
    return get_duration(k, v, "total", w, &t->total);
}

/* api_key: "${VAR}" (the whole value) from the environment; api_key_file: PATH. */
static mast_status get_secret(const checker *k, const json_t *obj, const char *where,
                              mast_deployment *d)
{
    const json_t *v = json_object_get(obj, "api_key"), *f = json_object_get(obj, "api_key_file");
    char w[300];
    snprintf(w, sizeof w, "%s.api_key", where);
    if (v && f)
        return bad(k, f, where, "give api_key or api_key_file, not both");
    if (v) {
        if (!json_is_string(v))
            return bad(k, v, w, "expected \"${ENV_VAR}\", got %s", type_of(v));
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}')
            return bad(k, v, w, "a key in clear in the file is refused: write \"${ENV_VAR}\" and set "
                       "the variable, or use api_key_file");
        char var[256];
        if (n - 3 >= sizeof var)
            return bad(k, v, w, "the variable's name is too long");
        memcpy(var, s + 2, n - 3);
        var[n - 3] = 0;
        for (const char *c = var; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_')
                return bad(k, v, w, "'%s' is not an environment variable's name", var);
        const char *val = getenv(var);
        if (!val || !*val)
            return bad(k, v, w, "the environment variable %s is not set", var);
        d->api_key = strdup(val);
        d->api_key_source = strdup(s);
    } else if (f) {
        snprintf(w, sizeof w, "%s.api_key_file", where);
        if (!json_is_string(f))
            return bad(k, f, w, "expected a file's path, got %s", type_of(f));
        char *text;
        size_t len;
        if (mast_read_file(json_string_value(f), 64 << 10, &text, &len) != MAST_OK)
            return bad(k, f, w, "%s", mast_errmsg());
        while (len && isspace((unsigned char)text[len - 1]))
            text[--len] = 0;
        if (!len) {
            free(text);
            return bad(k, f, w, "%s is empty", json_string_value(f));
        }
        d->api_key = text;
        char src[300];
        snprintf(src, sizeof src, "file %s", json_string_value(f));
        d->api_key_source = strdup(src);
    }
    return MAST_OK;
}

static mast_status read_deployment(const checker *k, const json_t *v, const char *model, size_t idx,
                                   const char *where, mast_deployment *d)
{
    static const char *const keys[] = {"id", "provider", "path", "base_url", "model", "api_key",
                                       "api_key_file", "price", "context_window", "rpm", "tpm",
                                       "weight", "timeout", "tags", "supports", NULL};
    static const char *const pkeys[] = {"input", "cached_input", "cache_write", "output", NULL};
    if (!json_is_object(v))
        return bad(k, v, where, "expected a mapping (provider, model, …), got %s", type_of(v));
    d->line = mast_yaml_line(k->y, v);
    d->weight = 1;
    MAST_TRY(known_keys(k, v, where, keys));
    char *provider = NULL;
    MAST_TRY(get_str(k, v, "provider", where, true, &provider));
    int kind = !strcmp(provider, "openai") ? MAST_PROVIDER_OPENAI
             : !strcmp(provider, "openai-compatible") ? MAST_PROVIDER_OPENAI_COMPAT
             : !strcmp(provider, "anthropic") ? MAST_PROVIDER_ANTHROPIC
             : !strcmp(provider, "local") ? MAST_PROVIDER_LOCAL : -1;
    free(provider);
    char w[300];
    snprintf(w, sizeof w, "%s.provider", where);
    if (kind < 0)
        return bad(k, json_object_get(v, "provider"), w,
                   "expected openai, anthropic, openai-compatible or local");
    d->provider = (mast_provider_kind)kind;
    MAST_TRY(get_str(k, v, "id", where, false, &d->id));
    if (!d->id) {
        char id[300];
        snprintf(id, sizeof id, "%s/%zu", model, idx);
        d->id = strdup(id);
    }
    if (d->provider == MAST_PROVIDER_LOCAL) {
        MAST_TRY(get_str(k, v, "path", where, true, &d->path));
        if (json_object_get(v, "base_url") || json_object_get(v, "api_key"))
            return bad(k, v, where, "a local deployment has a path, not a base_url or api_key");
    } else {
        if (json_object_get(v, "path"))
            return bad(k, json_object_get(v, "path"), where, "a remote deployment has a base_url, "
                       "not a path");
        MAST_TRY(get_str(k, v, "model", where, true, &d->model));
        MAST_TRY(get_str(k, v, "base_url", where, d->provider == MAST_PROVIDER_OPENAI_COMPAT,
                         &d->base_url));
        if (!d->base_url)
            d->base_url = strdup(d->provider == MAST_PROVIDER_OPENAI ? "https://api.openai.com/v1"
                                                                     : "https://api.anthropic.com");
        snprintf(w, sizeof w, "%s.base_url", where);
        if (strncmp(d->base_url, "http://", 7) && strncmp(d->base_url, "https://", 8))
            return bad(k, json_object_get(v, "base_url"), w, "expected an http:// or https:// URL");
        size_t n = strlen(d->base_url);
        while (n && d->base_url[n - 1] == '/')
            d->base_url[--n] = 0;
        MAST_TRY(get_secret(k, v, where, d));
    }
    const json_t *price = json_object_get(v, "price");
    if (price) {
        snprintf(w, sizeof w, "%s.price", where);
        if (!json_is_object(price))
            return bad(k, price, w, "expected {input, cached_input, cache_write, output}");
        MAST_TRY(known_keys(k, price, w, pkeys));
        d->price.set = true;
        d->price.cached_input = d->price.cache_write = -1;
        MAST_TRY(get_num(k, price, "input", w, 0, 1e6, &d->price.input));
        MAST_TRY(get_num(k, price, "cached_input", w, 0, 1e6, &d->price.cached_input));
        MAST_TRY(get_num(k, price, "cache_write", w, 0, 1e6, &d->price.cache_write));
        MAST_TRY(get_num(k, price, "output", w, 0, 1e6, &d->price.output));
        if (d->price.cached_input < 0)   /* unpriced cache reads cost as input */
            d->price.cached_input = d->price.input;
        if (d->price.cache_write < 0)
            d->price.cache_write = d->price.input;
    } else if (d->model && (d->provider == MAST_PROVIDER_OPENAI || d->provider == MAST_PROVIDER_ANTHROPIC)) {
        /* no price given: the default table's list price for a well-known hosted model */
        d->price_default = mast_price_default(mast_provider_name(d->provider), d->model, &d->price,
                                              &d->price_as_of);
    }
    MAST_TRY(get_int(k, v, "context_window", where, 1, 100000000, &d->context_window));
    MAST_TRY(get_int(k, v, "rpm", where, 1, 100000000, &d->rpm));
    MAST_TRY(get_int(k, v, "tpm", where, 1, 2000000000, &d->tpm));
    MAST_TRY(get_num(k, v, "weight", where, 0, 1e6, &d->weight));
    MAST_TRY(get_timeouts(k, v, where, &d->timeout));
    MAST_TRY(get_names(k, v, "tags", where, &d->tags, &d->n_tags));
    d->supports = MAST_SUPPORTS_TOOLS | MAST_SUPPORTS_JSON;
    const json_t *sup = json_object_get(v, "supports");
    if (sup) {
        snprintf(w, sizeof w, "%s.supports", where);
        if (!json_is_array(sup))
            return bad(k, sup, w, "expected a list of tools and json, got %s", type_of(sup));
        d->supports = 0;
        size_t i;
        json_t *e;
        json_array_foreach(sup, i, e) {
            const char *s = json_string_value(e);
            if (s && !strcmp(s, "tools"))
                d->supports |= MAST_SUPPORTS_TOOLS;
            else if (s && !strcmp(s, "json"))
                d->supports |= MAST_SUPPORTS_JSON;
            else
                return bad(k, e, w, "expected tools or json");
        }
    }
    return MAST_OK;
}

static mast_status read_rule(const checker *k, const mast_config *c, const json_t *v,
                             const char *where, mast_rule *r)
{
    static const char *const keys[] = {"if", "then", NULL};
    static const char *const ifkeys[] = {"prompt_tokens_over", "tools", "response_format", "tags",
                                         "metadata", NULL};
    static const char *const thenkeys[] = {"model", "deployment_tags", NULL};
    static const char *const formats[] = {"json_object", "json_schema", "json", "text", NULL};
    if (!json_is_object(v))
        return bad(k, v, where, "expected {if: {…}, then: {…}}, got %s", type_of(v));
    r->line = mast_yaml_line(k->y, v);
    r->tools = -1;
    MAST_TRY(known_keys(k, v, where, keys));
    const json_t *cond = json_object_get(v, "if"), *act = json_object_get(v, "then");
    char w[300];
    snprintf(w, sizeof w, "%s.if", where);
    if (cond && !json_is_object(cond))
        return bad(k, cond, w, "expected a mapping of conditions (%s), got %s",
                   "prompt_tokens_over, tools, response_format, tags, metadata", type_of(cond));
    if (cond) {
        MAST_TRY(known_keys(k, cond, w, ifkeys));
        MAST_TRY(get_int(k, cond, "prompt_tokens_over", w, 1, 100000000, &r->prompt_tokens_over));
        const json_t *t = json_object_get(cond, "tools");
        if (t && !json_is_boolean(t))
            return bad(k, t, w, "tools: expected true or false, got %s", type_of(t));
        if (t)
            r->tools = json_is_true(t);
        MAST_TRY(get_str(k, cond, "response_format", w, false, &r->response_format));
        bool ok = !r->response_format;
        for (int i = 0; formats[i] && !ok; i++)
            ok = !strcmp(r->response_format, formats[i]);
        if (!ok)
            return bad(k, json_object_get(cond, "response_format"), w,
                       "response_format: expected json_object, json_schema, json or text");
        MAST_TRY(get_names(k, cond, "tags", w, &r->tags, &r->n_tags));
        const json_t *meta = json_object_get(cond, "metadata");
        if (meta && !json_is_object(meta))
            return bad(k, meta, w, "metadata: expected a mapping of keys to values, got %s", type_of(meta));
        size_t n = json_object_size(meta);
        r->meta_keys = calloc(n + 1, sizeof *r->meta_keys);
        r->meta_values = calloc(n + 1, sizeof *r->meta_values);
        if (!r->meta_keys || !r->meta_values)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        const char *key;
        json_t *mv;
        json_object_foreach((json_t *)meta, key, mv) {
            if (!json_is_string(mv))
                return bad(k, mv, w, "metadata.%s: expected a string, got %s", key, type_of(mv));
            r->meta_keys[r->n_meta] = strdup(key);
            r->meta_values[r->n_meta++] = strdup(json_string_value(mv));
        }
    }
    snprintf(w, sizeof w, "%s.then", where);
    if (!json_is_object(act))
        return bad(k, act ? act : v, w, "expected then: {model: NAME} or {deployment_tags: [...]}");
    MAST_TRY(known_keys(k, act, w, thenkeys));
    MAST_TRY(get_str(k, act, "model", w, false, &r->model));
    MAST_TRY(get_names(k, act, "deployment_tags", w, &r->deployment_tags, &r->n_deployment_tags));
    if (!r->model && !r->n_deployment_tags)
        return bad(k, act, w, "expected model: NAME or deployment_tags: [...]");
    if (r->model && !mast_config_model(c, r->model))
        return bad(k, json_object_get(act, "model"), w, "no model is named '%s'", r->model);
    return MAST_OK;
}

static mast_status read_route(const checker *k, mast_config *c, const json_t *v,
                              const char *where, mast_route *r)
{
    static const char *const keys[] = {"policy", "retries", "fallbacks", "context_window_fallbacks",
                                       "timeout", "cooldown", "allowed_fails", "backoff", "rules",
                                       NULL};
    static const char *const policies[] = {"simple-shuffle", "lowest-latency", "lowest-cost",
                                           "least-busy", "usage-based", NULL};
    if (!json_is_object(v))
        return bad(k, v, where, "expected a mapping (policy, retries, fallbacks, …), got %s", type_of(v));
    MAST_TRY(known_keys(k, v, where, keys));
    const json_t *p = json_object_get(v, "policy");
    if (p) {
        int found = -1;
        for (int i = 0; policies[i]; i++)
            if (json_is_string(p) && !strcmp(json_string_value(p), policies[i]))
                found = i;
        char w[300];
        snprintf(w, sizeof w, "%s.policy", where);
        if (found < 0)
            return bad(k, p, w, "expected simple-shuffle, lowest-latency, lowest-cost, least-busy or "
                       "usage-based");
        r->policy = (mast_route_policy)found;
    }
    MAST_TRY(get_int(k, v, "retries", where, 0, 20, &r->retries));
    MAST_TRY(get_int(k, v, "allowed_fails", where, 1, 1000, &r->allowed_fails));
    MAST_TRY(get_duration(k, v, "cooldown", where, &r->cooldown));
    MAST_TRY(get_duration(k, v, "backoff", where, &r->backoff));
    MAST_TRY(get_timeouts(k, v, where, &r->timeout));
    MAST_TRY(get_names(k, v, "fallbacks", where, &r->fallbacks, &r->n_fallbacks));
    MAST_TRY(get_names(k, v, "context_window_fallbacks", where, &r->context_fallbacks,
                       &r->n_context_fallbacks));
    const char *lists[2] = {"fallbacks", "context_window_fallbacks"};
    for (int l = 0; l < 2; l++) {
        char **names = l ? r->context_fallbacks : r->fallbacks;
        size_t n = l ? r->n_context_fallbacks : r->n_fallbacks;
        for (size_t i = 0; i < n; i++)
            if (!mast_config_model(c, names[i])) {
                char w[300];
                snprintf(w, sizeof w, "%s.%s", where, lists[l]);
                return bad(k, json_object_get(v, lists[l]), w, "no model is named '%s'", names[i]);
            }
    }
    const json_t *rules = json_object_get(v, "rules");
    if (!rules)
        return MAST_OK;
    char w[300];
    snprintf(w, sizeof w, "%s.rules", where);
    if (!json_is_array(rules))
        return bad(k, rules, w, "expected a list of {if: {…}, then: {…}}, got %s", type_of(rules));
    r->rules = calloc(json_array_size(rules) + 1, sizeof *r->rules);
    if (!r->rules)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(rules, i, e) {
        snprintf(w, sizeof w, "%s.rules[%zu]", where, i);
        r->n_rules++;
        MAST_TRY(read_rule(k, c, e, w, &r->rules[i]));
        if (r->rules[i].prompt_tokens_over)
            c->rules_count_tokens = true;
    }
    return MAST_OK;
}

static mast_status build(const checker *k, mast_config *c)
{
    static const char *const keys[] = {"models", "router", NULL};
    static const char *const mkeys[] = {"name", "deployments", NULL};
    const json_t *root = mast_yaml_root(k->y);
    if (!json_is_object(root))
        return bad(k, root, "the file", "expected a mapping with models: (and router:)");
    MAST_TRY(known_keys(k, root, "the file", keys));
    const json_t *models = json_object_get(root, "models");
    if (!json_is_array(models) || !json_array_size(models))
        return bad(k, models ? models : root, "models", "expected a non-empty list of models");
    c->models = calloc(json_array_size(models), sizeof *c->models);
    if (!c->models)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        char where[300];
        snprintf(where, sizeof where, "models[%zu]", i);
        if (!json_is_object(m))
            return bad(k, m, where, "expected a mapping (name, deployments), got %s", type_of(m));
        MAST_TRY(known_keys(k, m, where, mkeys));
        mast_gw_model *gm = &c->models[c->n_models];
        MAST_TRY(get_str(k, m, "name", where, true, &gm->name));
        gm->line = mast_yaml_line(k->y, m);
        gm->route = (mast_route){.retries = 2, .cooldown = 30, .allowed_fails = 3, .backoff = 0.1};
        c->n_models++;
        for (size_t j = 0; j + 1 < c->n_models; j++)
            if (!strcmp(c->models[j].name, gm->name))
                return bad(k, json_object_get(m, "name"), where, "the name '%s' is also models[%zu]'s",
                           gm->name, j);
        const json_t *deps = json_object_get(m, "deployments");
        if (!json_is_array(deps) || !json_array_size(deps))
            return bad(k, deps ? deps : m, where, "expected deployments: a non-empty list");
        if (json_array_size(deps) > 64)   /* MAST_ROUTER_MAX_DEPS */
            return bad(k, deps, where, "%zu deployments: a model has at most 64",
                       json_array_size(deps));
        gm->deps = calloc(json_array_size(deps), sizeof *gm->deps);
        if (!gm->deps)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        size_t d;
        json_t *dv;
        json_array_foreach(deps, d, dv) {
            char w[300];
            snprintf(w, sizeof w, "%s.deployments[%zu]", where, d);
            gm->n_deps++;
            gm->deps[d].slot = c->n_slots++;
            MAST_TRY(read_deployment(k, dv, gm->name, d, w, &gm->deps[d]));
        }
    }
    const json_t *router = json_object_get(root, "router");
    if (router && !json_is_object(router))
        return bad(k, router, "router", "expected a mapping of model names to policies");
    const char *name;
    json_t *rv;
    json_object_foreach((json_t *)router, name, rv) {
        char where[300];
        snprintf(where, sizeof where, "router.%s", name);
        mast_gw_model *gm = (mast_gw_model *)mast_config_model(c, name);
        if (!gm)
            return bad(k, rv, where, "no model is named '%s'", name);
        MAST_TRY(read_route(k, c, rv, where, &gm->route));
    }
    return MAST_OK;
}

/* Takes y. */
static mast_status from_yaml(mast_yaml *y, const char *name, mast_config **out)
{
    mast_config *c = calloc(1, sizeof *c);
    if (!c) {
        mast_yaml_free(y);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    c->path = strdup(name ? name : "(config)");
    checker k = {y};
    mast_status st = build(&k, c);
    mast_yaml_free(y);
    if (st != MAST_OK) {
        mast_config_free(c);
        return st;
    }
    *out = c;
    return MAST_OK;
}

mast_status mast_config_parse(const char *text, size_t len, const char *name, mast_config **out)
{
    *out = NULL;
    mast_yaml *y;
    MAST_TRY(mast_yaml_parse(text, len, name, &y));
    return from_yaml(y, name, out);
}

mast_status mast_config_load(const char *path, mast_config **out)
{
    *out = NULL;
    mast_yaml *y;
    MAST_TRY(mast_yaml_load(path, &y));
    return from_yaml(y, path, out);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void mast_config_free(mast_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_models; i++) {
        mast_gw_model *m = &c->models[i];
        for (size_t d = 0; d < m->n_deps; d++) {
            mast_deployment *dp = &m->deps[d];
            free(dp->id);
            free(dp->path);
            free(dp->base_url);
            free(dp->model);
            if (dp->api_key)   /* a secret does not outlive its use in memory either */
                memset(dp->api_key, 0, strlen(dp->api_key));
            free(dp->api_key);
            free(dp->api_key_source);
            free_names(dp->tags, dp->n_tags);
        }
        free(m->deps);
        free(m->name);
        free_names(m->route.fallbacks, m->route.n_fallbacks);
        free_names(m->route.context_fallbacks, m->route.n_context_fallbacks);
        for (size_t i = 0; i < m->route.n_rules; i++) {
            mast_rule *r = &m->route.rules[i];
            free(r->response_format);
            free_names(r->tags, r->n_tags);
            free_names(r->meta_keys, r->n_meta);
            free_names(r->meta_values, r->n_meta);
            free(r->model);
            free_names(r->deployment_tags, r->n_deployment_tags);
        }
        free(m->route.rules);
    }
    free(c->models);
    free(c->path);
    free(c);
}

const char *mast_config_path(const char *path)
{
    if (path && *path)
        return path;
    const char *env = getenv("MAST_CONFIG");
    return env && *env ? env : NULL;
}

const mast_gw_model *mast_config_model(const mast_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_models; i++)
        if (c->models[i].name && !strcmp(c->models[i].name, name))
            return &c->models[i];
    return NULL;
}

void mast_secret_mask(const char *secret, char *out, size_t cap)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < 12)
        snprintf(out, cap, "****");
    else
        snprintf(out, cap, "…%s", secret + n - 4);
}

static json_t *names_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *timeouts_json(const mast_timeouts *t)
{
    json_t *o = json_object();
    if (t->connect)
        json_object_set_new(o, "connect_s", json_real(t->connect));
    if (t->first_token)
        json_object_set_new(o, "first_token_s", json_real(t->first_token));
    if (t->total)
        json_object_set_new(o, "total_s", json_real(t->total));
    return o;
}

static json_t *rules_json(const mast_route *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_rules; i++) {
        const mast_rule *u = &r->rules[i];
        json_t *cond = json_object(), *act = json_object();
        if (u->prompt_tokens_over)
            json_object_set_new(cond, "prompt_tokens_over", json_integer(u->prompt_tokens_over));
        if (u->tools >= 0)
            json_object_set_new(cond, "tools", json_boolean(u->tools));
        if (u->response_format)
            json_object_set_new(cond, "response_format", json_string(u->response_format));
        if (u->n_tags)
            json_object_set_new(cond, "tags", names_json(u->tags, u->n_tags));
        if (u->n_meta) {
            json_t *m = json_object();
            for (size_t k = 0; k < u->n_meta; k++)
                json_object_set_new(m, u->meta_keys[k], json_string(u->meta_values[k]));
            json_object_set_new(cond, "metadata", m);
        }
        if (u->model)
            json_object_set_new(act, "model", json_string(u->model));
        if (u->n_deployment_tags)
            json_object_set_new(act, "deployment_tags", names_json(u->deployment_tags, u->n_deployment_tags));
        json_array_append_new(a, json_pack("{s:i, s:o, s:o}", "line", u->line, "if", cond, "then", act));
    }
    return a;
}

json_t *mast_config_describe(const mast_config *c)
{
    static const char *const policies[] = {"simple-shuffle", "lowest-latency", "lowest-cost",
                                           "least-busy", "usage-based"};
    json_t *models = json_array();
    for (size_t i = 0; i < c->n_models; i++) {
        const mast_gw_model *m = &c->models[i];
        json_t *deps = json_array();
        for (size_t d = 0; d < m->n_deps; d++) {
            const mast_deployment *dp = &m->deps[d];
            json_t *o = json_pack("{s:s, s:s, s:i}", "id", dp->id, "provider",
                                  mast_provider_name(dp->provider), "line", dp->line);
            if (dp->path)
                json_object_set_new(o, "path", json_string(dp->path));
            if (dp->base_url)
                json_object_set_new(o, "base_url", json_string(dp->base_url));
            if (dp->model)
                json_object_set_new(o, "model", json_string(dp->model));
            if (dp->api_key) {
                char masked[64], shown[400];
                mast_secret_mask(dp->api_key, masked, sizeof masked);
                snprintf(shown, sizeof shown, "%s = %s", dp->api_key_source, masked);
                json_object_set_new(o, "api_key", json_string(shown));
            }
            if (dp->price.set)
                json_object_set_new(o, "price_usd_per_million",
                                    json_pack("{s:f, s:f, s:f, s:f, s:s}", "input", dp->price.input,
                                              "cached_input", dp->price.cached_input, "cache_write",
                                              dp->price.cache_write, "output", dp->price.output, "source",
                                              dp->price_default ? "the default price table" : "mast.yaml"));
            if (dp->price_default)
                json_object_set_new(o, "price_as_of", json_string(dp->price_as_of));
            if (dp->context_window)
                json_object_set_new(o, "context_window", json_integer(dp->context_window));
            if (dp->rpm)
                json_object_set_new(o, "rpm", json_integer(dp->rpm));
            if (dp->tpm)
                json_object_set_new(o, "tpm", json_integer(dp->tpm));
            json_object_set_new(o, "weight", json_real(dp->weight));
            json_object_set_new(o, "timeout", timeouts_json(&dp->timeout));
            if (dp->n_tags)
                json_object_set_new(o, "tags", names_json(dp->tags, dp->n_tags));
            json_t *sup = json_array();
            if (dp->supports & MAST_SUPPORTS_TOOLS)
                json_array_append_new(sup, json_string("tools"));
            if (dp->supports & MAST_SUPPORTS_JSON)
                json_array_append_new(sup, json_string("json"));
            json_object_set_new(o, "supports", sup);
            json_array_append_new(deps, o);
        }
        const mast_route *r = &m->route;
        json_t *route = json_pack("{s:s, s:i, s:o, s:o, s:o, s:f, s:i, s:f}", "policy",
                                  policies[r->policy], "retries", r->retries, "fallbacks",
                                  names_json(r->fallbacks, r->n_fallbacks), "context_window_fallbacks",
                                  names_json(r->context_fallbacks, r->n_context_fallbacks), "timeout",
                                  timeouts_json(&r->timeout), "cooldown_s", r->cooldown,
                                  "allowed_fails", r->allowed_fails, "backoff_s", r->backoff);
        if (r->n_rules)
            json_object_set_new(route, "rules", rules_json(r));
        json_array_append_new(models, json_pack("{s:s, s:i, s:o, s:o}", "name", m->name, "line",
                                                m->line, "deployments", deps, "router", route));
    }
    return json_pack("{s:s, s:o}", "config", c->path, "models", models);
}
