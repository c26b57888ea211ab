/*
** model/quant.h — tensor element types: block layouts, conversion,
** quantization and dot products.
**
** Block layouts are ggml's (so GGUF files from llama.cpp read as they are),
** written as structs whose sizes are checked at compile time. For every type
** there is a scalar reference for dequantize, quantize and the dot product
** with its activation type (mast_vec_dot_type): q4_0/q5_0/q8_0 weights pair
** with q8_0 activations, q4_1/q5_1 with q8_1, the K-quants with q8_K, f16
** with f16, bf16 with bf16, f32 with f32. The reference dot products sum
** each block in integers and then do a fixed float computation per block, so
** the SIMD paths (quant_avx2.c), which compute the same integer sums, give
** bit-identical results.
**
** Quantizers of the weight types are mast's own fits (not llama.cpp's
** search): a least-squares refinement of the scale (and minimum) of each
** sub-block, then the sub-block scales are quantized against the block's
** scale. Activation quantizers (q8_0, q8_1, q8_K) round to nearest even, as
** llama.cpp's x86 build does.
*/
#ifndef MAST_MODEL_QUANT_H
#define MAST_MODEL_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/dtype.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t mast_f16;

typedef struct { mast_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { mast_f16 d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { mast_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { mast_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { mast_f16 d; int8_t qs[QK8_0]; } block_q8_0;
typedef struct { mast_f16 d, s; int8_t qs[QK8_1]; } block_q8_1;   /* s = d * sum(qs) */
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; mast_f16 d, dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; mast_f16 d; } block_q3_K;
typedef struct { mast_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { mast_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; mast_f16 d; } block_q6_K;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 block size");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K block size");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K block size");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block size");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K block size");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block size");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K block size");

/* IEEE half and bfloat16, round to nearest even. */
float mast_f16_to_f32(mast_f16 h);
mast_f16 mast_f32_to_f16(float f);
float mast_bf16_to_f32(uint16_t h);
uint16_t mast_f32_to_bf16(float f);

/* Whether mast has kernels for this type as a weight type. */
bool mast_quant_supported(mast_dtype type);

/* The type activations are converted to for mast_vec_dot with this weight. */
mast_dtype mast_vec_dot_type(mast_dtype weight);

/* Row operations; n is a multiple of the type's block size. */
void mast_dequantize_row(mast_dtype type, const void *src, float *dst, int64_t n);
void mast_quantize_row(mast_dtype type, const float *src, void *dst, int64_t n);

/* dot(w, a) for n elements: w of `weight` type, a of mast_vec_dot_type(weight).
** mast_vec_dot picks the fastest path for this CPU; _ref is the scalar oracle. */
float mast_vec_dot(mast_dtype weight, const void *w, const void *a, int64_t n);
/* The function mast_vec_dot calls for this weight type (resolved once, for loops). */
float (*mast_vec_dot_fn(mast_dtype weight))(const void *w, const void *a, int64_t n);
float mast_vec_dot_ref(mast_dtype weight, const void *w, const void *a, int64_t n);

/* "avx2" when the AVX2+FMA+F16C kernels are in use, else "scalar". */
const char *mast_quant_backend(void);
/* Forces the scalar path (for tests and benchmarks); returns the old value. */
bool mast_quant_force_scalar(bool on);
/* Whether the AVX2/FMA/F16C kernels are in use (available and not forced off). */
bool mast_quant_simd(void);

#endif
