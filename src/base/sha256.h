/*
** base/sha256.h — SHA-256 (FIPS 180-4), for what must not be stored in
** clear (API keys are kept as their hash) and for checking downloads.
*/
#ifndef MAST_BASE_SHA256_H
#define MAST_BASE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void mast_sha256(const void *data, size_t len, uint8_t out[32]);

/* The same over data that comes in pieces. */
typedef struct mast_sha256_ctx {
    uint32_t h[8];
    uint8_t buf[64];
    size_t n;                    /* bytes in buf */
    uint64_t len;                /* bytes hashed in all */
} mast_sha256_ctx;
void mast_sha256_init(mast_sha256_ctx *c);
void mast_sha256_update(mast_sha256_ctx *c, const void *data, size_t len);
void mast_sha256_final(mast_sha256_ctx *c, uint8_t out[32]);
void mast_sha256_final_hex(mast_sha256_ctx *c, char out[65]);
/* Whether the CPU's SHA extensions run the blocks (about 5x the portable
** code); off forces the portable code (for the tests that compare them). */
bool mast_sha256_accelerated(void);
void mast_sha256_set_accelerated(bool on);
/* The hash as 64 lowercase hex digits and a NUL. */
void mast_sha256_hex(const void *data, size_t len, char out[65]);
/* Whether a and b (n bytes each) are equal, in time that does not depend
** on where they differ. */
bool mast_equal_ct(const void *a, const void *b, size_t n);

#endif
