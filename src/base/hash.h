/*
** base/hash.h — content hashes (xxHash XXH3).
*/
#ifndef MAST_BASE_HASH_H
#define MAST_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MAST_HASH_HEX_LEN 32   /* 128-bit hash as lowercase hex */

uint64_t mast_hash64(const void *data, size_t len);

/* Writes the 128-bit XXH3 hash of data as 32 hex digits plus NUL. */
void mast_hash_hex(const void *data, size_t len, char out[MAST_HASH_HEX_LEN + 1]);

/* Incremental 128-bit hashing of several pieces (each length-prefixed, so
** ("ab","c") and ("a","bc") differ). */
typedef struct mast_hasher mast_hasher;
mast_hasher *mast_hasher_new(void);
void mast_hasher_add(mast_hasher *h, const void *data, size_t len);
void mast_hasher_hex(mast_hasher *h, char out[MAST_HASH_HEX_LEN + 1]);  /* also frees h */

#endif
