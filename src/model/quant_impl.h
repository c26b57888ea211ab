/*
** model/quant_impl.h — internal kernel entry points shared by quant.c,
** quant_k.c and quant_avx2.c. Not a public header.
*/
#ifndef MAST_MODEL_QUANT_IMPL_H
#define MAST_MODEL_QUANT_IMPL_H

#include <math.h>
#include <string.h>

#include "model/quant.h"

#define F16(x) mast_f16_to_f32(x)

static inline int nearest_int(float v)
{
    return (int)lrintf(v);   /* round half to even in the default mode */
}

/* K-quants (quant_k.c) */
void mast_dequant_q2_K(const void *src, float *y, int64_t n);
void mast_dequant_q3_K(const void *src, float *y, int64_t n);
void mast_dequant_q4_K(const void *src, float *y, int64_t n);
void mast_dequant_q5_K(const void *src, float *y, int64_t n);
void mast_dequant_q6_K(const void *src, float *y, int64_t n);
void mast_dequant_q8_K(const void *src, float *y, int64_t n);
void mast_quant_q2_K(const float *x, void *dst, int64_t n);
void mast_quant_q3_K(const float *x, void *dst, int64_t n);
void mast_quant_q4_K(const float *x, void *dst, int64_t n);
void mast_quant_q5_K(const float *x, void *dst, int64_t n);
void mast_quant_q6_K(const float *x, void *dst, int64_t n);
void mast_quant_q8_K(const float *x, void *dst, int64_t n);
float mast_dot_q2_K_ref(const void *w, const void *a, int64_t n);
float mast_dot_q3_K_ref(const void *w, const void *a, int64_t n);
float mast_dot_q4_K_ref(const void *w, const void *a, int64_t n);
float mast_dot_q5_K_ref(const void *w, const void *a, int64_t n);
float mast_dot_q6_K_ref(const void *w, const void *a, int64_t n);

/* q4_K / q5_K 6-bit scale and min of sub-block j */
static inline void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* The 8 six-bit scales and mins of a q4_K/q5_K block, unpacked word-wise:
** bytes 0-3 hold scales 0-3 (low 6 bits) and the top bits of scales 4-7,
** bytes 4-7 the same for the mins, bytes 8-11 the low nibbles of scales
** and mins 4-7. Out: the scales and the mins as 8 bytes each (low word
** first), for the SIMD kernels to widen. */
static inline void k4_scale_words(const uint8_t packed[12], uint32_t sc[2], uint32_t mn[2])
{
    uint32_t a, b, c;
    memcpy(&a, packed, 4);
    memcpy(&b, packed + 4, 4);
    memcpy(&c, packed + 8, 4);
    sc[0] = a & 0x3F3F3F3F;
    mn[0] = b & 0x3F3F3F3F;
    sc[1] = (c & 0x0F0F0F0F) | (((a >> 6) & 0x03030303) << 4);
    mn[1] = ((c >> 4) & 0x0F0F0F0F) | (((b >> 6) & 0x03030303) << 4);
}

/* q3_K's 16 signed 6-bit scales, unpacked */
static inline void q3_K_scales(const uint8_t packed[12], int8_t out[16])
{
    for (int j = 0; j < 16; j++) {
        int sc = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        sc |= ((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
        out[j] = (int8_t)(sc - 32);
    }
}

typedef float (*mast_dot_fn)(const void *w, const void *a, int64_t n);

/* AVX-512 kernels (quant_avx512.c), preferred where the CPU has them;
** NULL where there is none. */
bool mast_avx512_available(void);
mast_dot_fn mast_avx512_dot(mast_dtype weight);
/* Each kernel below takes `rows` weight rows row_bytes apart against one
** activation row and writes out[0..rows) (the group ones four rows at a
** time). f16 and bf16 rows against an activation row of the same type held
** as f32 (an exact conversion, made once per product): */
void mast_avx512_dot_f16_rows(const void *w, size_t row_bytes, int64_t rows, const void *act_f32,
                              int64_t n, float *out);
void mast_avx512_dot_bf16_rows(const void *w, size_t row_bytes, int64_t rows, const void *act_f32,
                               int64_t n, float *out);
/* q4_K and q5_K rows against a q8_K row that mast_avx512_q8_K_paired rewrote: bytes
** in paired order (per 128 values: 0-31, 64-95, 32-63, 96-127, so that 64
** weight bytes meet their values in two contiguous loads), bsums[j] the
** sum of sub-block j (32 values) */
void mast_avx512_q8_K_paired(const void *act, int64_t n, void *out);
void mast_avx512_dot_q4_K_paired_rows(const void *w, size_t row_bytes, int64_t rows,
                                      const void *act_paired, int64_t n, float *out);
void mast_avx512_dot_q5_K_paired_rows(const void *w, size_t row_bytes, int64_t rows,
                                      const void *act_paired, int64_t n, float *out);
/* q6_K, q3_K and q2_K rows against a q8_K row, four at a time: mast_vec_dot's bits */
void mast_avx512_dot_q6_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act,
                               int64_t n, float *out);
void mast_avx512_dot_q3_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act,
                               int64_t n, float *out);
void mast_avx512_dot_q2_K_rows(const void *w, size_t row_bytes, int64_t rows, const void *act,
                               int64_t n, float *out);
/* q4_0, q5_0 (against q8_0), q4_1 or q5_1 (against q8_1) rows with AVX-512
** VNNI, four at a time; sumy: the _0 types' offset (8, 16) * each
** activation block's sum; dy, sy: its d and (q8_1) s as floats */
void mast_avx512_dot_b32_rows(mast_dtype t, const void *w, size_t row_bytes, int64_t rows, const void *a,
                              const int32_t *sumy, const float *dy, const float *sy, int64_t n, float *out);
/* q8_0 rows with AVX-512 VNNI, the activation side's
** 128 * block sums and float scales precomputed: mast_vec_dot's bits */
float mast_avx512_dot_q8_0_aux(const void *w, const void *a, const int32_t *sumy128, const float *dy,
                               int64_t n);

/* AVX2 kernels (quant_avx2.c), NULL entries where there is none. */
mast_dot_fn mast_avx2_dot(mast_dtype weight);
/* A Q4_K superblock's scales and mins unpacked as 16-bit values, and d, dmin */
typedef struct mast_k4_pre {
    uint8_t sc[32], mins[16];
    float d, dmin;
} mast_k4_pre;
void mast_avx2_q4_K_prepare(const void *w, int64_t n, mast_k4_pre *pre);
float mast_avx2_dot_q4_K_prepared(const void *w, const void *act, const mast_k4_pre *pre, int64_t n);
void mast_avx2_dot_q4_K_prepared2(const void *w, const void *act0, const void *act1,
                                  const mast_k4_pre *pre, int64_t n, float out[2]);
float mast_avx2_dot_q8_0_scaled(const void *w, const void *a, const float *dx, const float *dy,
                                int64_t n);
bool mast_avx2_available(void);
/* AVX2 activation quantizer for q8_0 / q8_K (byte-identical), or NULL. */
void (*mast_avx2_quant(mast_dtype type))(const float *, void *, int64_t);
void (*mast_avx2_dequant(mast_dtype type))(const void *, float *, int64_t);

/* Interleaved tiles (qtile_avx512.c): batched products on AVX-512 VNNI for
** q4_0, q5_0, q8_0, q4_K, q5_K and q6_K, the same bits as mast_vec_dot.
** A tile is MAST_QT_ROWS weight rows repacked (mast_qt_pack, into
** mast_qt_tile_bytes); the activations are the rows converted to the dot
** type plus, per row, mast_qt_aux_ints ints from mast_qt_act_aux (none for
** q6_K: pass NULL). mast_qt_run writes Y[b * ldy + r] for r < nrows. */
#define MAST_QT_ROWS 16
bool mast_qt_supported(mast_dtype wtype);   /* this CPU and this type */
size_t mast_qt_tile_bytes(mast_dtype wtype, int64_t cols);
void mast_qt_pack(mast_dtype wtype, const unsigned char *W, size_t w_row_bytes, int nrows,
                  int64_t cols, void *tile);
size_t mast_qt_aux_ints(mast_dtype wtype, int64_t cols);
void mast_qt_act_aux(mast_dtype wtype, const void *act, int64_t cols, int32_t *aux);
void mast_qt_run(mast_dtype wtype, const void *tile, int nrows, int64_t cols, const unsigned char *A,
                 size_t a_row_bytes, const int32_t *aux, int64_t batch, float *Y, int64_t ldy);

#endif
