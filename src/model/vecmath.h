/*
** model/vecmath.h — element-wise and row-wise float kernels for the
** encoder's non-matrix work: exp, GELU, softmax, layer norm.
**
** Written once in plain C so that the compiler vectorizes them, and built
** (with GCC on x86-64) for AVX-512, AVX2 and the baseline, the best picked
** when the program loads. No floating-point contraction or reassociation is
** allowed, so every build computes the same bits. exp has a relative error
** within 1 ulp over the float range (see tests/model/test_vecmath.c).
*/
#ifndef MAST_MODEL_VECMATH_H
#define MAST_MODEL_VECMATH_H

#include <stddef.h>

/* x[i] = exp(x[i]); inputs below -87.3 give 0 (no denormals), above 88.7 give +inf */
void mast_vec_exp(float *x, size_t n);

/* x[i] = GELU(x[i]), the tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void mast_vec_gelu(float *x, size_t n);

/* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] (SwiGLU) */
void mast_vec_swiglu(float *g, const float *u, size_t n);

/* x = softmax(scale * x) */
void mast_vec_softmax(float *x, size_t n, float scale);

/* x = (x - mean) / sqrt(var + eps) * w + b, over one row of n */
void mast_vec_layer_norm(float *x, size_t n, const float *w, const float *b, float eps);

#endif
