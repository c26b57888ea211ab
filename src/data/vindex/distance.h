/*
** data/vindex/distance.h — the vector index's inner loops: dot products and
** squared L2 distances between a float query and stored vectors in f32, f16
** or 8-bit codes. Plain C with fixed-order 16-lane sums, built by GCC for
** x86-64-v4, v3 and baseline (as model/vecmath.c), the best picked at load.
*/
#ifndef MAST_DATA_VINDEX_DISTANCE_H
#define MAST_DATA_VINDEX_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

float mast_vdot_f32(const float *a, const float *b, size_t n);
float mast_vl2_f32(const float *a, const float *b, size_t n);
float mast_vdot_f16(const float *q, const uint16_t *x, size_t n);
float mast_vl2_f16(const float *q, const uint16_t *x, size_t n);
float mast_vdot_u8(const float *q, const uint8_t *x, size_t n);   /* sum q[i] * x[i] */

/* IEEE half <-> float (round to nearest even), scalar */
uint16_t mast_vf32_to_f16(float f);
float mast_vf16_to_f32(uint16_t h);

#endif
