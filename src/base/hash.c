/*
** base/hash.c — xxHash wrappers (see hash.h).
*/
#include "base/hash.h"

#include <stdio.h>
#include <xxhash.h>

uint64_t mast_hash64(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

static void hex128(XXH128_hash_t h, char out[MAST_HASH_HEX_LEN + 1])
{
    snprintf(out, MAST_HASH_HEX_LEN + 1, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

void mast_hash_hex(const void *data, size_t len, char out[MAST_HASH_HEX_LEN + 1])
{
    hex128(XXH3_128bits(data, len), out);
}

mast_hasher *mast_hasher_new(void)
{
    XXH3_state_t *s = XXH3_createState();
    if (s)
        XXH3_128bits_reset(s);
    return (mast_hasher *)s;
}

void mast_hasher_add(mast_hasher *h, const void *data, size_t len)
{
    uint64_t n = len;
    XXH3_128bits_update((XXH3_state_t *)h, &n, sizeof n);
    XXH3_128bits_update((XXH3_state_t *)h, data, len);
}

void mast_hasher_hex(mast_hasher *h, char out[MAST_HASH_HEX_LEN + 1])
{
    hex128(XXH3_128bits_digest((XXH3_state_t *)h), out);
    XXH3_freeState((XXH3_state_t *)h);
}
