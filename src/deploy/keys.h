/*
** deploy/keys.h — the server's view of the virtual API keys: which key a
** request presents (Authorization: Bearer KEY, or x-api-key: KEY), whether
** it may use the model it names, and whether it is within its requests and
** tokens per minute and its budget. Keys are compared by their SHA-256 in
** constant time; the key itself is never kept.
*/
#ifndef MAST_DEPLOY_KEYS_H
#define MAST_DEPLOY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "data/store.h"

typedef struct mast_keyring mast_keyring;

/* The active keys of the store, with what each spent in its budget's
** current period. */
mast_status mast_keyring_load(mast_store *store, mast_keyring **out);
void mast_keyring_free(mast_keyring *k);
size_t mast_keyring_count(const mast_keyring *k);

typedef enum mast_key_verdict {
    MAST_KEY_OK,
    MAST_KEY_MISSING,            /* 401 */
    MAST_KEY_INVALID,            /* 401 */
    MAST_KEY_MODEL,              /* 403: not among the key's models */
    MAST_KEY_LIMIT,              /* 429: rpm or tpm */
    MAST_KEY_BUDGET,             /* 429: the budget is spent */
} mast_key_verdict;

/* Checks a request; presented may be NULL, model NULL (a listing). The
** request counts toward the key's rpm. *why says what is wrong, without
** the key. */
mast_key_verdict mast_keyring_check(mast_keyring *k, const char *presented, const char *model,
                                    int64_t *key_id, char *why, size_t cap);
/* A finished request's tokens and cost, against the key's tpm and budget. */
void mast_keyring_spend(mast_keyring *k, int64_t key_id, long tokens, double cost_usd);

/* A new key: "mk-" and 40 random hex digits. */
void mast_key_generate(char out[48]);

#endif
