/* tests/model/test_sampler.c — the sampling chain on hand-made logits. */
#include "model/sampler.h"
#include "test.h"

static mast_sampler *make(mast_sampler_params p)
{
    mast_sampler *s = NULL;
    if (mast_sampler_new(&p, &s) != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    return s;
}

/* logits whose softmax is 0.5, 0.25, 0.125, 0.0625, ... for ids 3, 0, 4, 1, 2, 5... */
static void ladder(float *l)
{
    static const int order[8] = {3, 0, 4, 1, 2, 5, 7, 6};
    for (int i = 0; i < 8; i++)
        l[order[i]] = (float)(-i * log(2.0));
}

static void test_greedy_takes_the_argmax_lowest_id_on_ties(void)
{
    mast_sampler_params p = MAST_SAMPLER_DEFAULT;
    p.temperature = 0;
    mast_sampler *s = make(p);
    REQUIRE(s);
    float l[6] = {1, 5, 2, 5, -1, 0};
    CHECK_EQ_INT(mast_sampler_sample(s, l, 6, NULL, 0), 1);
    mast_sampler_free(s);
}

static void test_top_k_top_p_min_p_keep_the_right_sets(void)
{
    float l[8];
    int32_t ids[8];
    float probs[8];
    mast_sampler_params p = {1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0, 64, 1};
    /* top-k 3: the three largest, best first */
    p.top_k = 3;
    mast_sampler *s = make(p);
    ladder(l);
    REQUIRE(mast_sampler_candidates(s, l, 8, NULL, 0, ids, probs) == 3);
    CHECK(ids[0] == 3 && ids[1] == 0 && ids[2] == 4);
    CHECK_NEAR(probs[0], 4.0 / 7, 1e-6);   /* renormalized over the kept: 0.5 / 0.875 */
    mast_sampler_free(s);
    /* top-p 0.75: 0.5 + 0.25 reaches it -> two tokens; 0.76 needs a third */
    p.top_k = 0;
    p.top_p = 0.75f;
    s = make(p);
    ladder(l);
    CHECK_EQ_INT(mast_sampler_candidates(s, l, 8, NULL, 0, ids, probs), 2);
    mast_sampler_free(s);
    p.top_p = 0.76f;
    s = make(p);
    ladder(l);
    CHECK_EQ_INT(mast_sampler_candidates(s, l, 8, NULL, 0, ids, probs), 3);
    mast_sampler_free(s);
    /* min-p 0.2: probabilities at least 0.2 x 0.5 = 0.1 -> 0.5, 0.25, 0.125 */
    p.top_p = 1.0f;
    p.min_p = 0.2f;
    s = make(p);
    ladder(l);
    REQUIRE(mast_sampler_candidates(s, l, 8, NULL, 0, ids, probs) == 3);
    CHECK(ids[0] == 3 && ids[1] == 0 && ids[2] == 4);
    mast_sampler_free(s);
    /* temperature 2 flattens: p ~ sqrt of the ladder, renormalized */
    p.min_p = 0;
    p.temperature = 2.0f;
    s = make(p);
    ladder(l);
    REQUIRE(mast_sampler_candidates(s, l, 8, NULL, 0, ids, probs) == 8);
    double z = 0;
    for (int i = 0; i < 8; i++)
        z += pow(0.5, i / 2.0);
    CHECK_NEAR(probs[0], 1.0 / z, 1e-6);
    CHECK_NEAR(probs[1], pow(0.5, 0.5) / z, 1e-6);
    mast_sampler_free(s);
}

static void test_penalties_change_seen_tokens_only(void)
{
    mast_sampler_params p = {0, 0, 1.0f, 0, 2.0f, 0.5f, 0.25f, 64, 0};
    mast_sampler *s = make(p);
    REQUIRE(s);
    float l[4] = {2.0f, -1.0f, 3.0f, 1.0f};
    int32_t hist[] = {0, 1, 0, 3, 0};   /* 0 three times, 1 and 3 once; 2 never */
    int32_t ids[4];
    float probs[4];
    mast_sampler_candidates(s, l, 4, hist, 5, ids, probs);
    CHECK_NEAR(l[0], 2.0 / 2 - 3 * 0.5 - 0.25, 1e-6);    /* positive: divided */
    CHECK_NEAR(l[1], -1.0 * 2 - 1 * 0.5 - 0.25, 1e-6);   /* negative: multiplied */
    CHECK_NEAR(l[2], 3.0, 0);
    CHECK_NEAR(l[3], 1.0 / 2 - 0.5 - 0.25, 1e-6);
    /* penalty_last_n 1: only the last token (0) counts */
    mast_sampler_free(s);
    p.penalty_last_n = 1;
    s = make(p);
    float m[4] = {2.0f, -1.0f, 3.0f, 1.0f};
    mast_sampler_candidates(s, m, 4, hist, 5, ids, probs);
    CHECK_NEAR(m[0], 2.0 / 2 - 0.5 - 0.25, 1e-6);
    CHECK_NEAR(m[1], -1.0, 0);
    mast_sampler_free(s);
}

static void test_seeded_draws_are_reproducible_and_follow_the_distribution(void)
{
    mast_sampler_params p = {1.0f, 0, 1.0f, 0, 1.0f, 0, 0, 64, 1234};
    mast_sampler *a = make(p), *b = make(p);
    p.seed = 99;
    mast_sampler *c = make(p);
    REQUIRE(a && b && c);
    int counts[8] = {0}, differ = 0;
    for (int i = 0; i < 20000; i++) {
        float l1[8], l2[8], l3[8];
        ladder(l1);
        ladder(l2);
        ladder(l3);
        int32_t x = mast_sampler_sample(a, l1, 8, NULL, 0), y = mast_sampler_sample(b, l2, 8, NULL, 0);
        CHECK(x == y);
        differ += mast_sampler_sample(c, l3, 8, NULL, 0) != x;
        counts[x]++;
    }
    CHECK(differ > 1000);   /* another seed, another sequence */
    CHECK_NEAR(counts[3] / 20000.0, 0.5 / (1 - pow(0.5, 8)), 0.015);
    CHECK_NEAR(counts[0] / 20000.0, 0.25 / (1 - pow(0.5, 8)), 0.015);
    mast_sampler_free(a);
    mast_sampler_free(b);
    mast_sampler_free(c);
}

static void test_bad_parameters_are_refused(void)
{
    mast_sampler *s;
    mast_sampler_params p = MAST_SAMPLER_DEFAULT;
    p.top_p = 0;
    CHECK_EQ_INT(mast_sampler_new(&p, &s), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "top-p") != NULL);
    p = MAST_SAMPLER_DEFAULT;
    p.temperature = -1;
    CHECK_EQ_INT(mast_sampler_new(&p, &s), MAST_ERR_INVALID);
    p = MAST_SAMPLER_DEFAULT;
    p.min_p = 1.5f;
    CHECK_EQ_INT(mast_sampler_new(&p, &s), MAST_ERR_INVALID);
}

int main(void)
{
    RUN(test_greedy_takes_the_argmax_lowest_id_on_ties);
    RUN(test_top_k_top_p_min_p_keep_the_right_sets);
    RUN(test_penalties_change_seen_tokens_only);
    RUN(test_seeded_draws_are_reproducible_and_follow_the_distribution);
    RUN(test_bad_parameters_are_refused);
    return test_summary();
}
