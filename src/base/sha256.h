/*
** base/sha256.h — SHA-256 (FIPS 180-4), for what must not be stored in
** clear: API keys are kept as their hash.
*/
#ifndef MAST_BASE_SHA256_H
#define MAST_BASE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void mast_sha256(const void *data, size_t len, uint8_t out[32]);
/* The hash as 64 lowercase hex digits and a NUL. */
void mast_sha256_hex(const void *data, size_t len, char out[65]);
/* Whether a and b (n bytes each) are equal, in time that does not depend
** on where they differ. */
bool mast_equal_ct(const void *a, const void *b, size_t n);

#endif
