/*
** base/simd.h — loops written once in plain C and vectorized by the compiler.
**
** MAST_MULTIVERSION builds a function (with GCC on x86-64) for x86-64-v4
** (AVX-512), x86-64-v3 (AVX2/FMA) and the baseline, and the loader picks the
** best the CPU has. Without -ffast-math or contraction every build computes
** the same IEEE operations in the same order, so the clones return the same
** bits. Reductions keep MAST_LANES partial sums (mast_lane_sum adds them in
** a fixed order), which vectorizes without reassociation.
*/
#ifndef MAST_BASE_SIMD_H
#define MAST_BASE_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MAST_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MAST_MULTIVERSION
#endif

#define MAST_LANES 16

static inline float mast_lane_sum(const float *acc)
{
    float s = 0;
    for (int l = 0; l < MAST_LANES; l++)
        s += acc[l];
    return s;
}

#endif
