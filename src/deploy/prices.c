/*
** deploy/prices.c — the default price table (see prices.h).
*/
#include "deploy/prices.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"

/* List prices as the providers published them (their pricing pages), USD per million
** tokens; cached_input is the cache-read price, cache_write Anthropic's 5-minute write. */
static const char BUILT_IN[] =
    "{\"as_of\": \"2025-06-01\", \"source\": \"openai.com/api/pricing, anthropic.com/pricing\","
    " \"models\": {"
    "\"openai/gpt-4o\": {\"input\": 2.5, \"cached_input\": 1.25, \"output\": 10},"
    "\"openai/gpt-4o-mini\": {\"input\": 0.15, \"cached_input\": 0.075, \"output\": 0.6},"
    "\"openai/gpt-4.1\": {\"input\": 2, \"cached_input\": 0.5, \"output\": 8},"
    "\"openai/gpt-4.1-mini\": {\"input\": 0.4, \"cached_input\": 0.1, \"output\": 1.6},"
    "\"openai/gpt-4.1-nano\": {\"input\": 0.1, \"cached_input\": 0.025, \"output\": 0.4},"
    "\"openai/o1\": {\"input\": 15, \"cached_input\": 7.5, \"output\": 60},"
    "\"openai/o3-mini\": {\"input\": 1.1, \"cached_input\": 0.55, \"output\": 4.4},"
    "\"openai/o4-mini\": {\"input\": 1.1, \"cached_input\": 0.275, \"output\": 4.4},"
    "\"openai/text-embedding-3-small\": {\"input\": 0.02, \"output\": 0},"
    "\"openai/text-embedding-3-large\": {\"input\": 0.13, \"output\": 0},"
    "\"anthropic/claude-3-haiku\": {\"input\": 0.25, \"cached_input\": 0.03, \"cache_write\": 0.3, \"output\": 1.25},"
    "\"anthropic/claude-3-5-haiku\": {\"input\": 0.8, \"cached_input\": 0.08, \"cache_write\": 1, \"output\": 4},"
    "\"anthropic/claude-3-5-sonnet\": {\"input\": 3, \"cached_input\": 0.3, \"cache_write\": 3.75, \"output\": 15},"
    "\"anthropic/claude-3-7-sonnet\": {\"input\": 3, \"cached_input\": 0.3, \"cache_write\": 3.75, \"output\": 15},"
    "\"anthropic/claude-sonnet-4\": {\"input\": 3, \"cached_input\": 0.3, \"cache_write\": 3.75, \"output\": 15},"
    "\"anthropic/claude-opus-4\": {\"input\": 15, \"cached_input\": 1.5, \"cache_write\": 18.75, \"output\": 75}"
    "}}";

static json_t *table;
static char as_of[32];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool valid(const json_t *t)
{
    const json_t *models = json_object_get(t, "models");
    if (!json_is_object(models))
        return false;
    const char *k;
    const json_t *p;
    json_object_foreach((json_t *)models, k, p)
        if (!json_is_number(json_object_get(p, "input")) || !json_is_number(json_object_get(p, "output")))
            return false;
    return true;
}

static void load(void)
{
    const char *path = getenv("MAST_PRICES");
    if (path && *path) {
        json_error_t err;
        table = json_load_file(path, 0, &err);
        if (!table)
            mast_warn("MAST_PRICES %s: line %d: %s (the built-in prices are used)", path, err.line, err.text);
        else if (!valid(table)) {
            mast_warn("MAST_PRICES %s: expected {\"as_of\", \"models\": {\"provider/model\": {\"input\", "
                      "\"output\", ...}}} (the built-in prices are used)", path);
            json_decref(table);
            table = NULL;
        }
    }
    if (!table)
        table = json_loads(BUILT_IN, 0, NULL);
    snprintf(as_of, sizeof as_of, "%s", mast_json_get_str(table, "as_of", "?"));
}

bool mast_price_default(const char *provider, const char *model, mast_price *out, const char **when)
{
    pthread_once(&once, load);
    if (!provider || !model || !table)
        return false;
    const json_t *models = json_object_get(table, "models"), *best = NULL;
    size_t best_len = 0, plen = strlen(provider);
    const char *k;
    const json_t *p;
    json_object_foreach((json_t *)models, k, p) {
        if (strncmp(k, provider, plen) || k[plen] != '/')
            continue;
        const char *id = k + plen + 1;
        size_t n = strlen(id);
        bool exact = !strcmp(id, model);
        bool dated = !strncmp(model, id, n) && model[n] == '-';
        if ((exact || dated) && (exact ? (size_t)-1 : n) > best_len) {
            best = p;
            best_len = exact ? (size_t)-1 : n;
        }
    }
    if (!best)
        return false;
    out->input = json_number_value(json_object_get(best, "input"));
    out->output = json_number_value(json_object_get(best, "output"));
    const json_t *c = json_object_get(best, "cached_input"), *w = json_object_get(best, "cache_write");
    out->cached_input = json_is_number(c) ? json_number_value(c) : out->input;
    out->cache_write = json_is_number(w) ? json_number_value(w) : out->input;
    out->set = true;
    if (when)
        *when = as_of;
    return true;
}
