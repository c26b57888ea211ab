/*
** model/attention.h — the SIMD attention kernels of the decoder (llama.c),
** each in a file compiled for its instruction set (the one way mast picks
** instruction-set code: per-file flags, a run-time CPU check before the call;
** the scalar reference beside the caller, and tests that they agree).
**
** K and V point at a KV head's position 0; positions are `st` bytes apart;
** D (the head size) is a multiple of 8; f16: the cache holds F16, else F32.
*/
#ifndef MAST_MODEL_ATTENTION_H
#define MAST_MODEL_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>

#define ATT_GROUP_MAX 4   /* query heads per KV head that attention_avx512.c takes */

/* s[p] = q . k(p), p < n (AVX2, FMA, F16C) */
void mast_attn_scores_avx2(const float *q, const unsigned char *K, size_t st, int n, int D,
                           bool f16, float *s);
/* o = sum over p < n of w[p] v(p) (AVX2, FMA, F16C) */
void mast_attn_wsum_avx2(float *o, const float *w, const unsigned char *V, size_t st, int n, int D,
                         bool f16);
/* One token's G (2..ATT_GROUP_MAX) query heads q[g D..] over a KV head's first n
** positions: scores into s (G rows of n_ctx), softmax, o[g D..] (AVX-512F/VL;
** D a multiple of 32); each head's bits are those of the two kernels above. */
void mast_attn_heads_avx512(const float *q, float *o, float *s, size_t n_ctx,
                            const unsigned char *K, const unsigned char *V, size_t st, int n, int D,
                            bool f16, int G);

#endif
