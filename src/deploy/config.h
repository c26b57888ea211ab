/*
** deploy/config.h — mast.yaml: the gateway's models, their deployments and
** the router's policies, validated with errors that name the line and key.
**
**   models:
**     - name: fast                       # the name requests use
**       deployments:
**         - provider: openai-compatible  # openai | anthropic | openai-compatible | local
**           base_url: http://127.0.0.1:9001/v1
**           model: upstream-a            # the provider's model id
**           api_key: ${UPSTREAM_KEY}     # from the environment; or api_key_file: PATH
**           price: {input: 0.15, cached_input: 0.075, cache_write: 0.3, output: 0.60}
**           context_window: 128000
**           rpm: 600, tpm: 1000000, weight: 1, tags: [cheap]
**           timeout: {connect: 2s, first_token: 5s, total: 60s}
**           supports: [tools, json]      # what it can serve (default: both)
**         - provider: local
**           path: models/small.gguf      # served by this process
**   router:
**     fast: {policy: lowest-latency, retries: 2, fallbacks: [big],
**            context_window_fallbacks: [big], timeout: {first_token: 2s, total: 30s},
**            cooldown: 30s, allowed_fails: 3, backoff: 100ms,
**            rules: [{if: {prompt_tokens_over: 6000}, then: {model: long}},
**                    {if: {tags: [eu]}, then: {deployment_tags: [eu]}}]}
**
** Rules are tried in order before a deployment is chosen; the first whose
** conditions all hold applies (see mast_rule). A request with tools only
** goes to deployments that support tools, one with a JSON response_format
** only to those that support json.
**
** Prices are USD per million tokens. Durations are "250ms", "2s", "1m" or
** a number of seconds. A key in clear in the file is refused: secrets come
** from the environment (${VAR}) or a file (api_key_file), are kept only in
** memory, and are printed masked. A configuration is immutable once built;
** a reload builds a new one.
*/
#ifndef MAST_DEPLOY_CONFIG_H
#define MAST_DEPLOY_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "mast.h"
#include "model/providers/provider.h"

typedef struct mast_price {
    double input, cached_input, cache_write, output;   /* USD per million tokens */
    bool set;
} mast_price;

typedef struct mast_timeouts {
    double connect, first_token, total;   /* seconds; 0 = not set */
} mast_timeouts;

enum {
    MAST_SUPPORTS_TOOLS = 1,
    MAST_SUPPORTS_JSON = 2,     /* response_format json_object / json_schema */
};

typedef struct mast_deployment {
    char *id;                   /* "fast/0", or its own `id` */
    int line;
    mast_provider_kind provider;
    char *path;                 /* local: the GGUF file */
    char *base_url;             /* remote: without a trailing '/' */
    char *model;                /* the provider's model id (local: the served model's id) */
    char *api_key;              /* the secret, resolved; NULL: none */
    char *api_key_source;       /* "${VAR}" or "file PATH": what may be printed */
    mast_price price;
    bool price_default;         /* the price is the default table's (deploy/prices.h), not mast.yaml's */
    const char *price_as_of;    /* ... as of this day */
    int context_window, rpm, tpm;
    double weight;
    mast_timeouts timeout;
    char **tags;
    size_t n_tags;
    unsigned supports;          /* MAST_SUPPORTS_* */
    int slot;                   /* 0.. over the whole configuration: the router's state index */
} mast_deployment;

typedef enum mast_route_policy {
    MAST_POLICY_SHUFFLE,        /* weighted random */
    MAST_POLICY_LATENCY,        /* lowest moving average of time to first token */
    MAST_POLICY_COST,           /* lowest price */
    MAST_POLICY_BUSY,           /* fewest requests in flight */
    MAST_POLICY_USAGE,          /* most rpm/tpm headroom */
} mast_route_policy;

/* A routing rule: if every condition set holds, then the action. */
typedef struct mast_rule {
    int line;
    /* if: */
    int prompt_tokens_over;     /* the request's estimated prompt tokens exceed this (0: any) */
    int tools;                  /* -1: any; 0: the request has no tools; 1: it has some */
    char *response_format;      /* "json_object", "json_schema", "json" (either), "text"; NULL: any */
    char **tags;                /* the request carries every one of these tags */
    size_t n_tags;
    char **meta_keys, **meta_values;   /* its metadata has each key with that value */
    size_t n_meta;
    /* then: */
    char *model;                /* served by this model (its own rules apply in turn) */
    char **deployment_tags;     /* only by deployments that have every one of these tags */
    size_t n_deployment_tags;
} mast_rule;

typedef struct mast_route {
    mast_route_policy policy;
    int retries;                /* further attempts after the first (default 2) */
    char **fallbacks;           /* model names tried after this one's deployments fail */
    size_t n_fallbacks;
    char **context_fallbacks;   /* for context_window_exceeded (default: fallbacks) */
    size_t n_context_fallbacks;
    mast_timeouts timeout;      /* deployment timeouts override these */
    double cooldown;            /* seconds a failing deployment rests (default 30) */
    int allowed_fails;          /* failures in a row before it rests (default 3) */
    double backoff;             /* first retry delay (default 0.1 s), doubled each time, jittered */
    mast_rule *rules;
    size_t n_rules;
} mast_route;

typedef struct mast_gw_model {
    char *name;
    int line;
    mast_deployment *deps;
    size_t n_deps;
    mast_route route;
} mast_gw_model;

typedef struct mast_config {
    char *path;
    mast_gw_model *models;
    size_t n_models;
    int n_slots;                /* deployments in all */
    bool rules_count_tokens;    /* some rule looks at prompt_tokens_over: estimate them */
} mast_config;

/* Reads and validates a file. MAST_ERR_INVALID "PATH:LINE: KEY: why" for
** the first problem (MAST_ERR_FORMAT for text that is not YAML). */
mast_status mast_config_load(const char *path, mast_config **out);
/* The same from text (name stands for the path in messages). */
mast_status mast_config_parse(const char *text, size_t len, const char *name, mast_config **out);
void mast_config_free(mast_config *c);

/* The configuration to use: path, else $MAST_CONFIG, else NULL. */
const char *mast_config_path(const char *path);

/* The model a request's name means, or NULL. */
const mast_gw_model *mast_config_model(const mast_config *c, const char *name);
/* The resolved configuration as JSON, secrets masked ("${VAR}" = "sk-…abcd"). */
json_t *mast_config_describe(const mast_config *c);
/* "sk-…abcd": the last four characters of a secret, for humans to recognise it. */
void mast_secret_mask(const char *secret, char *out, size_t cap);

#endif
