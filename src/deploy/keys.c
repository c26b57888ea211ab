/*
** deploy/keys.c — virtual keys in the server (see keys.h).
*/
#include "deploy/keys.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/random.h"
#include "base/sha256.h"
#include "base/status.h"
#include "data/store_keys.h"

typedef struct key {
    int64_t id;
    char name[128];
    uint8_t hash[32];
    char **models;
    size_t n_models;
    double budget, spent;        /* USD; budget < 0: none */
    char period[8];
    char period_start[11];       /* the day the spent amount counts from ("" = ever) */
    int rpm, tpm;
    double window_start;
    long window_requests, window_tokens;
} key;

struct mast_keyring {
    pthread_mutex_t mu;
    key *keys;
    size_t n;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The first day of the current period, UTC ("" for total). */
static void period_start(const char *period, char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!strcmp(period, "day"))
        strftime(out, 11, "%Y-%m-%d", &tm);
    else if (!strcmp(period, "month"))
        strftime(out, 11, "%Y-%m-01", &tm);
    else
        out[0] = 0;
}

static int from_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

mast_status mast_keyring_load(mast_store *store, mast_keyring **out)
{
    *out = NULL;
    json_t *rows;
    MAST_TRY(mast_store_keys(store, true, false, &rows));
    mast_keyring *k = calloc(1, sizeof *k);
    if (!k || !(k->keys = calloc(json_array_size(rows) + 1, sizeof *k->keys))) {
        free(k);
        json_decref(rows);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&k->mu, NULL);
    mast_status st = MAST_OK;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        key *e = &k->keys[k->n++];
        e->id = json_integer_value(json_object_get(r, "id"));
        snprintf(e->name, sizeof e->name, "%s", mast_json_get_str(r, "name", ""));
        const char *h = mast_json_get_str(r, "hash", "");
        for (int b = 0; b < 32 && strlen(h) == 64; b++)
            e->hash[b] = (uint8_t)(from_hex(h[2 * b]) << 4 | from_hex(h[2 * b + 1]));
        json_t *models = json_object_get(r, "models");
        e->models = calloc(json_array_size(models) + 1, sizeof *e->models);
        size_t m;
        json_t *name;
        json_array_foreach(models, m, name)
            e->models[e->n_models++] = strdup(json_string_value(name) ? json_string_value(name) : "");
        json_t *b = json_object_get(r, "budget_usd");
        e->budget = json_is_number(b) ? json_number_value(b) : -1;
        snprintf(e->period, sizeof e->period, "%s", mast_json_get_str(r, "budget_period", "total"));
        period_start(e->period, e->period_start);
        e->rpm = (int)json_integer_value(json_object_get(r, "rpm"));
        e->tpm = (int)json_integer_value(json_object_get(r, "tpm"));
        if (st == MAST_OK)
            st = mast_store_key_spent(store, e->id, e->period_start[0] ? e->period_start : NULL, &e->spent);
    }
    json_decref(rows);
    if (st != MAST_OK) {
        mast_keyring_free(k);
        return st;
    }
    *out = k;
    return MAST_OK;
}

void mast_keyring_free(mast_keyring *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        for (size_t m = 0; m < k->keys[i].n_models; m++)
            free(k->keys[i].models[m]);
        free(k->keys[i].models);
    }
    free(k->keys);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

size_t mast_keyring_count(const mast_keyring *k)
{
    return k ? k->n : 0;
}

mast_key_verdict mast_keyring_check(mast_keyring *k, const char *presented, const char *model,
                                    int64_t *key_id, char *why, size_t cap)
{
    *key_id = 0;
    if (!presented || !*presented) {
        snprintf(why, cap, "an API key is required (Authorization: Bearer KEY, or x-api-key: KEY)");
        return MAST_KEY_MISSING;
    }
    uint8_t h[32];
    mast_sha256(presented, strlen(presented), h);
    key *e = NULL;
    for (size_t i = 0; i < k->n; i++)   /* every key compared, in constant time each */
        if (mast_equal_ct(h, k->keys[i].hash, 32))
            e = &k->keys[i];
    if (!e) {
        snprintf(why, cap, "the API key is not valid (or was revoked)");
        return MAST_KEY_INVALID;
    }
    *key_id = e->id;
    if (model && e->n_models) {
        bool ok = false;
        for (size_t m = 0; m < e->n_models && !ok; m++)
            ok = !strcmp(e->models[m], model);
        if (!ok) {
            snprintf(why, cap, "key '%s' may not use model '%s'", e->name, model);
            return MAST_KEY_MODEL;
        }
    }
    mast_key_verdict v = MAST_KEY_OK;
    pthread_mutex_lock(&k->mu);
    char start[11];
    period_start(e->period, start);
    if (strcmp(start, e->period_start)) {   /* a new day or month: a new budget */
        memcpy(e->period_start, start, sizeof start);
        e->spent = 0;
    }
    double t = now();
    if (t - e->window_start >= 60) {
        e->window_start = t;
        e->window_requests = e->window_tokens = 0;
    }
    if (e->budget >= 0 && e->spent >= e->budget) {
        snprintf(why, cap, "key '%s' has spent its budget of $%.2f per %s ($%.4f)", e->name, e->budget,
                 e->period, e->spent);
        v = MAST_KEY_BUDGET;
    } else if (e->rpm && e->window_requests >= e->rpm) {
        snprintf(why, cap, "key '%s' is over its %d requests per minute", e->name, e->rpm);
        v = MAST_KEY_LIMIT;
    } else if (e->tpm && e->window_tokens >= e->tpm) {
        snprintf(why, cap, "key '%s' is over its %d tokens per minute", e->name, e->tpm);
        v = MAST_KEY_LIMIT;
    } else {
        e->window_requests++;
    }
    pthread_mutex_unlock(&k->mu);
    return v;
}

void mast_keyring_spend(mast_keyring *k, int64_t key_id, long tokens, double cost_usd)
{
    if (!k || key_id <= 0)
        return;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < k->n; i++)
        if (k->keys[i].id == key_id) {
            k->keys[i].spent += cost_usd;
            k->keys[i].window_tokens += tokens;
        }
    pthread_mutex_unlock(&k->mu);
}

void mast_key_generate(char out[48])
{
    uint8_t r[20] = {0};
    if (!mast_random_secure(r, sizeof r)) {
        fprintf(stderr, "mast: the kernel gives no random bytes (getrandom)\n");
        abort();   /* a predictable key is worse than none */
    }
    memcpy(out, "mk-", 3);
    for (int i = 0; i < 20; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", r[i]);
}
