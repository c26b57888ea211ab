/*
** base/strmap.h — an open-addressing hash map from byte strings to int32.
**
** Keys are copied into the map's own storage. Not thread-safe for writers;
** concurrent lookups on an unchanging map are safe.
*/
#ifndef MAST_BASE_STRMAP_H
#define MAST_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "mast.h"

typedef struct mast_strmap {
    char *keys;            /* all key bytes, back to back */
    size_t keys_len, keys_cap;
    uint32_t *key_off, *key_len;
    int32_t *values;
    size_t n, cap_entries;
    uint32_t *slots;       /* entry index + 1; 0 = empty */
    size_t n_slots;
} mast_strmap;

/* Inserts or overwrites. MAST_ERR_NOMEM on allocation failure. */
mast_status mast_strmap_put(mast_strmap *m, const char *key, size_t len, int32_t value);
/* The value, or -1 when absent (store only non-negative values). */
int32_t mast_strmap_get(const mast_strmap *m, const char *key, size_t len);
void mast_strmap_free(mast_strmap *m);

#endif
