/* tests/model/test_quant.c — conversions, quantization error per type, and
** dot products: reference vs dequantized floats, SIMD vs reference. */
#include <float.h>

#include "model/quant.h"
#include "test.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;

static float frand(void)   /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

static float grand(void)   /* roughly normal */
{
    return (frand() + frand() + frand() + frand()) * 0.8660254f;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_f16_round_trips_every_half_value(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mast_f16_to_f32((mast_f16)h);
        if (f != f)
            continue;   /* NaN */
        if (mast_f32_to_f16(f) != h)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(mast_f16_to_f32(0x3C00) == 1.0f);
    CHECK(mast_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(mast_f16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK_EQ_INT(mast_f32_to_f16(65520.0f), 0x7C00);          /* rounds to inf */
    CHECK_EQ_INT(mast_f32_to_f16(ldexpf(1, -25)), 0x0000);    /* tie to even: 0 */
    CHECK_EQ_INT(mast_f32_to_f16(ldexpf(3, -26)), 0x0001);
    CHECK_EQ_INT(mast_f32_to_f16(-0.0f), 0x8000);
}

static void test_f32_to_f16_rounds_to_nearest_even(void)
{
    /* oracle: the sorted finite positive halves, nearest by exact distance */
    static float halves[31744];
    for (int h = 0; h < 31744; h++)
        halves[h] = mast_f16_to_f32((mast_f16)h);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf(fabsf(frand()), (int)(frand() * 20) - 8);
        if (f >= 65504.0f)
            continue;
        float *hi = bsearch(&f, halves, 31744, sizeof(float), cmp_float);
        int want;
        if (hi) {
            want = (int)(hi - halves);
        } else {
            int lo = 0, up = 31743;
            while (up - lo > 1) {
                int mid = (lo + up) / 2;
                if (halves[mid] < f)
                    lo = mid;
                else
                    up = mid;
            }
            double dl = (double)f - halves[lo], du = (double)halves[up] - f;
            want = dl < du ? lo : du < dl ? up : (lo % 2 == 0 ? lo : up);
        }
        if (mast_f32_to_f16(f) != want)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_bf16_conversion(void)
{
    CHECK_EQ_INT(mast_f32_to_bf16(1.0f), 0x3F80);
    CHECK(mast_bf16_to_f32(0x3F80) == 1.0f);
    CHECK_EQ_INT(mast_f32_to_bf16(1.00390625f), 0x3F80);   /* tie: to even */
    CHECK_EQ_INT(mast_f32_to_bf16(1.01171875f), 0x3F82);   /* tie: to even (up) */
}

typedef struct {
    mast_dtype type;
    double max_rel_rmse;   /* bound on RMSE(x - dequant(quant(x))) / RMS(x) */
} type_bound;

/* Bounds are set about 20% above the errors measured on this data (Gaussian,
** see docs/benchmarks.md for the measured figures). */
static const type_bound bounds[] = {
    {MAST_F16, 0.0005}, {MAST_BF16, 0.004}, {MAST_Q8_0, 0.0085}, {MAST_Q8_1, 0.0085},
    {MAST_Q5_0, 0.045}, {MAST_Q5_1, 0.042}, {MAST_Q4_0, 0.095}, {MAST_Q4_1, 0.085},
    {MAST_Q6_K, 0.022}, {MAST_Q5_K, 0.040}, {MAST_Q4_K, 0.080}, {MAST_Q3_K, 0.20},
    {MAST_Q2_K, 0.40},  {MAST_Q8_K, 0.0085},
};

static double rel_rmse(mast_dtype type, const float *x, int64_t n)
{
    size_t bytes = mast_dtype_row_size(type, n);
    void *q = malloc(bytes);
    float *back = malloc((size_t)n * sizeof *back);
    mast_quantize_row(type, x, q, n);
    mast_dequantize_row(type, q, back, n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        err += (double)(x[i] - back[i]) * (x[i] - back[i]);
        ref += (double)x[i] * x[i];
    }
    free(q);
    free(back);
    return sqrt(err / ref);
}

static void test_quantization_error_is_bounded_per_type(void)
{
    int64_t n = 256 * 64;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = grand();
    for (size_t t = 0; t < sizeof bounds / sizeof *bounds; t++) {
        double e = rel_rmse(bounds[t].type, x, n);
        fprintf(stderr, "  %-5s relative RMSE %.5f (bound %.4f)\n",
                mast_dtype_get(bounds[t].type)->name, e, bounds[t].max_rel_rmse);
        CHECK(e <= bounds[t].max_rel_rmse);
    }
    free(x);
}

static void test_quantization_handles_zeros_constants_and_outliers(void)
{
    float x[512];
    for (size_t t = 0; t < sizeof bounds / sizeof *bounds; t++) {
        mast_dtype type = bounds[t].type;
        unsigned char q[2048];
        float back[512];
        memset(x, 0, sizeof x);
        mast_quantize_row(type, x, q, 512);
        mast_dequantize_row(type, q, back, 512);
        int zero = 1;
        for (int i = 0; i < 512; i++)
            zero &= back[i] == 0.0f;
        CHECK(zero);
        for (int i = 0; i < 512; i++)
            x[i] = i == 7 ? 1000.0f : 0.001f * frand();   /* one outlier */
        mast_quantize_row(type, x, q, 512);
        mast_dequantize_row(type, q, back, 512);
        CHECK(fabsf(back[7] - 1000.0f) < 1000.0f * 0.15f);
        for (int i = 0; i < 512; i++)
            CHECK(back[i] == back[i]);   /* no NaN */
    }
}

/* dot of the dequantized rows, in double */
static double float_dot(mast_dtype wt, const void *w, const void *a, int64_t n, double *abs_sum)
{
    float *fw = malloc((size_t)n * 4), *fa = malloc((size_t)n * 4);
    mast_dequantize_row(wt, w, fw, n);
    mast_dequantize_row(mast_vec_dot_type(wt), a, fa, n);
    double s = 0, as = 0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)fw[i] * fa[i];
        as += fabs((double)fw[i] * fa[i]);
    }
    free(fw);
    free(fa);
    *abs_sum = as;
    return s;
}

static void test_reference_dots_equal_dequantized_dots(void)
{
    static const mast_dtype types[] = {MAST_F32, MAST_F16, MAST_BF16, MAST_Q8_0, MAST_Q4_0,
                                       MAST_Q4_1, MAST_Q5_0, MAST_Q5_1, MAST_Q2_K, MAST_Q3_K,
                                       MAST_Q4_K, MAST_Q5_K, MAST_Q6_K};
    static const int64_t lengths[] = {256, 768, 2560, 4096};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        for (size_t l = 0; l < 4; l++) {
            int64_t n = lengths[l];
            float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
            for (int64_t i = 0; i < n; i++) {
                x[i] = grand();
                y[i] = grand();
            }
            void *w = malloc(mast_dtype_row_size(types[t], n));
            void *a = malloc(mast_dtype_row_size(mast_vec_dot_type(types[t]), n));
            mast_quantize_row(types[t], x, w, n);
            mast_quantize_row(mast_vec_dot_type(types[t]), y, a, n);
            double abs_sum, want = float_dot(types[t], w, a, n, &abs_sum);
            float got = mast_vec_dot_ref(types[t], w, a, n);
            /* q8_1 keeps s = d * sum(q) as f16 (as ggml): the minimum term of
            ** q4_1/q5_1 carries that rounding (relative 2^-11) */
            double tol = mast_vec_dot_type(types[t]) == MAST_Q8_1 ? 1e-3 * abs_sum
                                                                  : 2e-6 * abs_sum + 1e-6;
            if (!(fabs(got - want) <= tol))
                fprintf(stderr, "  %s n=%lld: %.7g vs %.7g\n", mast_dtype_get(types[t])->name,
                        (long long)n, got, want);
            CHECK(fabs(got - want) <= tol);
            free(x);
            free(y);
            free(w);
            free(a);
        }
    }
}

static void test_simd_dots_are_bit_identical_to_reference(void)
{
    static const mast_dtype types[] = {MAST_F32, MAST_F16, MAST_BF16, MAST_Q8_0, MAST_Q4_0,
                                       MAST_Q4_1, MAST_Q5_0, MAST_Q5_1, MAST_Q2_K, MAST_Q3_K,
                                       MAST_Q4_K, MAST_Q5_K, MAST_Q6_K};
    fprintf(stderr, "  backend: %s\n", mast_quant_backend());
    int mismatches = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        for (int64_t n = 256; n <= 256 * 9; n += 256 * 2) {
            int64_t len = types[t] == MAST_F32 || types[t] == MAST_F16 || types[t] == MAST_BF16
                              ? n + 5 + 8 * ((n / 512) % 4)   /* groups of 8 after the 32s, a tail */
                              : n;
            float *x = malloc((size_t)len * 4), *y = malloc((size_t)len * 4);
            for (int64_t i = 0; i < len; i++) {
                x[i] = grand();
                y[i] = grand() * 3;
            }
            void *w = malloc(mast_dtype_row_size(types[t], len) + 64);
            void *a = malloc(mast_dtype_row_size(mast_vec_dot_type(types[t]), len) + 64);
            mast_quantize_row(types[t], x, w, len);
            mast_quantize_row(mast_vec_dot_type(types[t]), y, a, len);
            float ref = mast_vec_dot_ref(types[t], w, a, len);
            float fast = mast_vec_dot(types[t], w, a, len);
            if (memcmp(&ref, &fast, 4) != 0) {
                fprintf(stderr, "  %s n=%lld: simd %.9g != ref %.9g\n",
                        mast_dtype_get(types[t])->name, (long long)len, fast, ref);
                mismatches++;
            }
            free(x);
            free(y);
            free(w);
            free(a);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
}

static void test_simd_activation_quantizers_are_byte_identical(void)
{
    static const mast_dtype types[] = {MAST_Q8_0, MAST_Q8_K, MAST_F16};
    int64_t n = 256 * 40;
    float *x = malloc((size_t)n * 4);
    int mismatches = 0;
    for (int trial = 0; trial < 4; trial++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = trial == 3 ? (float)(i % 5) - 2.0f   /* exact ties and repeated maxima */
                              : grand() * (trial + 1);
        if (trial == 2)
            memset(x, 0, 256 * 4);   /* an all-zero block */
        for (size_t t = 0; t < 3; t++) {
            size_t bytes = mast_dtype_row_size(types[t], n);
            unsigned char *a = malloc(bytes), *b = malloc(bytes);
            float *da = malloc((size_t)n * 4), *db = malloc((size_t)n * 4);
            mast_quantize_row(types[t], x, a, n);
            mast_dequantize_row(types[t], a, da, n);
            bool old = mast_quant_force_scalar(true);
            mast_quantize_row(types[t], x, b, n);
            mast_dequantize_row(types[t], b, db, n);
            mast_quant_force_scalar(old);
            mismatches += memcmp(a, b, bytes) != 0;   /* and the SIMD dequantizers: */
            mismatches += memcmp(da, db, (size_t)n * 4) != 0;
            free(a);
            free(b);
            free(da);
            free(db);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    free(x);
}

int main(void)
{
    RUN(test_f16_round_trips_every_half_value);
    RUN(test_f32_to_f16_rounds_to_nearest_even);
    RUN(test_bf16_conversion);
    RUN(test_quantization_error_is_bounded_per_type);
    RUN(test_quantization_handles_zeros_constants_and_outliers);
    RUN(test_reference_dots_equal_dequantized_dots);
    RUN(test_simd_dots_are_bit_identical_to_reference);
    RUN(test_simd_activation_quantizers_are_byte_identical);
    return test_summary();
}
