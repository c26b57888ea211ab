/*
** data/store_keys.h — the gateway's virtual API keys and the usage they
** spend, in the store. A key is stored only as its SHA-256 and a short
** prefix (to recognise it in listings); usage is counted per key, model and
** UTC day.
*/
#ifndef MAST_DATA_STORE_KEYS_H
#define MAST_DATA_STORE_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "data/store.h"

typedef struct mast_key_spec {
    const char *name;
    const char *hash;            /* 64 hex digits */
    const char *prefix;
    const json_t *models;        /* array of names; NULL or [] = any */
    double budget_usd;           /* < 0: none */
    const char *period;          /* "day", "month" or "total" */
    int rpm, tpm;                /* 0: none */
} mast_key_spec;

/* MAST_ERR_EXISTS for a name already used. */
mast_status mast_store_key_add(mast_store *store, const mast_key_spec *k);
/* MAST_ERR_NOT_FOUND for a name without an active key. */
mast_status mast_store_key_revoke(mast_store *store, const char *name);
/* [{id, name, prefix, models, budget_usd, budget_period, rpm, tpm, created_at,
** revoked_at}]; with_hash adds "hash" (for the server's keyring only). */
mast_status mast_store_keys(mast_store *store, bool with_hash, bool with_revoked, json_t **out);

typedef struct mast_usage_row {
    int64_t key_id;              /* <= 0: no key */
    const char *model;
    const char *day;             /* YYYY-MM-DD */
    long input, cached, cache_write, output, reasoning;
    double cost_usd;
} mast_usage_row;

/* Adds rows to the day's counters, in one transaction. */
mast_status mast_store_usage_add(mast_store *store, const mast_usage_row *rows, size_t n);
/* Per key, model and day (newest first), optionally one key's (by name), one
** model's and from a day on: [{key, model, day, requests, input_tokens, …,
** cost_usd}]. */
mast_status mast_store_usage(mast_store *store, const char *key, const char *model,
                             const char *since, json_t **out);
/* A key's name by its id (out: cap bytes); MAST_ERR_NOT_FOUND when there is none. */
mast_status mast_store_key_name(mast_store *store, int64_t key_id, char *out, size_t cap);
/* What a key spent from a day on (NULL: ever). */
mast_status mast_store_key_spent(mast_store *store, int64_t key_id, const char *since, double *out);

#endif
