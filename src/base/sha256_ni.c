/*
** base/sha256_ni.c — SHA-256 blocks with the x86 SHA extensions (compiled
** with -msha -msse4.1; called by sha256.c only when the CPU has them).
**
** The extensions keep the state as two vectors, ABEF and CDGH; each
** sha256rnds2 does two rounds, sha256msg1/msg2 extend the message schedule
** four words at a time. The portable block() in sha256.c is the reference
** (tests/base compares them on every length up to a few blocks).
*/
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__SHA__)
#include <cpuid.h>
#include <immintrin.h>

extern const uint32_t mast_sha256_k[64];

static int has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    int sha = (b >> 29) & 1;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return sha && ((c >> 19) & 1);   /* SSE4.1 for the blend */
}

int mast_sha256_blocks_ni(uint32_t h[8], const uint8_t *p, size_t n_blocks)
{
    static int ok = -1;
    if (ok < 0)
        ok = has_sha();
    if (!ok || !h)
        return ok;
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (size_t b = 0; b < n_blocks; b++, p += 64) {
        __m128i save0 = abef, save1 = cdgh;
        __m128i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i w;
            if (g < 4) {
                w = m[g];
            } else {   /* w[t] = s1(w[t-2]) + w[t-7] + s0(w[t-15]) + w[t-16], four at a time */
                __m128i t = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
                w = _mm_sha256msg2_epu32(t, m[(g + 3) & 3]);
                m[g & 3] = w;
            }
            __m128i k = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&mast_sha256_k[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0E));
        }
        abef = _mm_add_epi32(abef, save0);
        cdgh = _mm_add_epi32(cdgh, save1);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
    return 1;
}

#else

int mast_sha256_blocks_ni(uint32_t h[8], const uint8_t *p, size_t n_blocks)
{
    (void)h, (void)p, (void)n_blocks;
    return 0;
}

#endif
