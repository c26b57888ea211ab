/* tests/model/test_vecmath.c — the vectorized exp, GELU, softmax and layer
** norm against double-precision references. */
#include <float.h>
#include <math.h>

#include "model/vecmath.h"
#include "test.h"

/* distance in units in the last place between two finite floats */
static double ulps(float got, double want)
{
    float w = (float)want;
    double ulp = nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / ulp;
}

static void test_exp_within_1_ulp_across_the_range(void)
{
    enum { N = 200001 };
    static float x[N], in[N];
    for (int i = 0; i < N; i++)
        in[i] = x[i] = -87.0f + 175.5f * (float)i / (N - 1);   /* -87 .. 88.5 */
    mast_vec_exp(x, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double u = ulps(x[i], exp((double)in[i]));
        if (u > worst)
            worst = u;
    }
    fprintf(stderr, "  exp: worst %.2f ulp over [-87, 88.5]\n", worst);
    CHECK(worst <= 1.0);
    float edge[] = {0.0f, 1.0f, -1.0f, 88.72f, 89.0f, -88.0f, -1000.0f, 1000.0f, NAN};
    mast_vec_exp(edge, 9);
    CHECK(edge[0] == 1.0f);
    CHECK(ulps(edge[1], M_E) <= 1.0);
    CHECK(ulps(edge[2], 1 / M_E) <= 1.0);
    CHECK(isfinite(edge[3]) && ulps(edge[3], exp((double)88.72f)) <= 2.0);   /* the 2^128 split */
    CHECK(isinf(edge[4]) && edge[4] > 0);
    CHECK(edge[5] == 0.0f && edge[6] == 0.0f);
    CHECK(isinf(edge[7]));
    CHECK(isnan(edge[8]));
}

static void test_gelu_matches_double_tanh_form(void)
{
    enum { N = 4001 };
    float x[N], in[N];
    for (int i = 0; i < N; i++)
        in[i] = x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    mast_vec_gelu(x, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double v = in[i];
        double want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        double err = fabs(x[i] - want) / (fabs(want) > 1 ? fabs(want) : 1);
        if (err > worst)
            worst = err;
    }
    fprintf(stderr, "  gelu: worst error %.3g\n", worst);
    CHECK(worst < 1e-6);
    float big[] = {-1e30f, 1e30f};
    mast_vec_gelu(big, 2);
    CHECK(big[0] == 0.0f);
    CHECK(big[1] == 1e30f);
}

static void test_softmax_matches_double(void)
{
    for (size_t n = 1; n <= 70; n += 23) {   /* below, at and above the 16-lane blocks */
        float x[70];
        double want[70], max = -INFINITY, sum = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = (float)((int)(i * 37 % 23) - 11) * 0.7f;
            if (x[i] * 0.5 > max)
                max = x[i] * 0.5;
        }
        for (size_t i = 0; i < n; i++)
            sum += want[i] = exp(x[i] * 0.5 - max);
        mast_vec_softmax(x, n, 0.5f);
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK_NEAR(x[i], want[i] / sum, 1e-6);
            total += x[i];
        }
        CHECK_NEAR(total, 1.0, 1e-5);
    }
    float big[20];
    for (int i = 0; i < 20; i++)
        big[i] = i == 7 ? 1e4f : -1e4f;   /* exp would overflow without the max */
    mast_vec_softmax(big, 20, 1.0f);
    CHECK(big[7] == 1.0f && big[0] == 0.0f);
}

static void test_layer_norm_matches_double(void)
{
    enum { N = 37 };
    float x[N], w[N], b[N];
    double d[N], mean = 0, var = 0;
    for (int i = 0; i < N; i++) {
        d[i] = x[i] = 100.0f + (float)(i * 7 % 11);   /* a large mean */
        w[i] = 0.5f + (float)i / N;
        b[i] = (float)i / 10;
        mean += d[i];
    }
    mean /= N;
    for (int i = 0; i < N; i++)
        var += (d[i] - mean) * (d[i] - mean);
    var /= N;
    mast_vec_layer_norm(x, N, w, b, 1e-12f);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(x[i], (d[i] - mean) / sqrt(var + 1e-12) * w[i] + b[i], 2e-6);
}

int main(void)
{
    RUN(test_exp_within_1_ulp_across_the_range);
    RUN(test_gelu_matches_double_tanh_form);
    RUN(test_softmax_matches_double);
    RUN(test_layer_norm_matches_double);
    return test_summary();
}
