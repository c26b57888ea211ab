/* tests/observe/test_eval.c — retrieval metrics on hand-computed cases. */
#include "observe/eval.h"
#include "test.h"

static void test_binary_relevance_hand_computed(void)
{
    /* relevant: d1, d3, d9 (d9 never retrieved); ranking d1 d2 d3 d4 */
    const char *ranked[] = {"d1", "d2", "d3", "d4"};
    mast_qrel q[] = {{"d1", 1}, {"d3", 1}, {"d9", 1}};
    mast_eval_metrics m;
    REQUIRE(mast_eval_query(ranked, 4, q, 3, &m) == 1);
    double dcg = 1 / log2(2) + 1 / log2(4);
    double idcg = 1 / log2(2) + 1 / log2(3) + 1 / log2(4);
    CHECK_NEAR(m.ndcg_10, dcg / idcg, 1e-12);
    CHECK_NEAR(m.recall_10, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.recall_100, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(m.mrr_10, 1.0, 1e-12);
    CHECK_NEAR(m.map_100, (1.0 / 1 + 2.0 / 3) / 3, 1e-12);
}

static void test_graded_relevance_uses_linear_gain(void)
{
    /* grades: a=3, b=1, c=2; ranking b, x, a */
    const char *ranked[] = {"b", "x", "a"};
    mast_qrel q[] = {{"a", 3}, {"b", 1}, {"c", 2}};
    mast_eval_metrics m;
    REQUIRE(mast_eval_query(ranked, 3, q, 3, &m) == 1);
    double dcg = 1 / log2(2) + 3 / log2(4);
    double idcg = 3 / log2(2) + 2 / log2(3) + 1 / log2(4);
    CHECK_NEAR(m.ndcg_10, dcg / idcg, 1e-12);
    CHECK_NEAR(m.mrr_10, 1.0, 1e-12);
    CHECK_NEAR(m.map_100, (1.0 / 1 + 2.0 / 3) / 3, 1e-12);
}

static void test_cutoffs_at_10_and_100(void)
{
    char ids[150][8];
    const char *ranked[150];
    for (int i = 0; i < 150; i++) {
        snprintf(ids[i], sizeof ids[i], "d%d", i);
        ranked[i] = ids[i];
    }
    /* relevant at ranks 11 (d10) and 120 (d119) */
    mast_qrel q[] = {{"d10", 1}, {"d119", 1}};
    mast_eval_metrics m;
    REQUIRE(mast_eval_query(ranked, 150, q, 2, &m) == 1);
    CHECK_NEAR(m.ndcg_10, 0.0, 0);
    CHECK_NEAR(m.mrr_10, 0.0, 0);
    CHECK_NEAR(m.recall_10, 0.0, 0);
    CHECK_NEAR(m.recall_100, 0.5, 1e-12);
    CHECK_NEAR(m.map_100, (1.0 / 11) / 2, 1e-12);
}

static void test_query_without_relevant_documents_is_left_out(void)
{
    const char *ranked[] = {"a"};
    mast_qrel q[] = {{"a", 0}};
    mast_eval_metrics m;
    CHECK_EQ_INT(mast_eval_query(ranked, 1, q, 1, &m), 0);
    CHECK_EQ_INT(mast_eval_query(ranked, 1, NULL, 0, &m), 0);
    CHECK_NEAR(m.ndcg_10, 0.0, 0);
}

static void test_empty_ranking_scores_zero(void)
{
    mast_qrel q[] = {{"a", 2}};
    mast_eval_metrics m;
    REQUIRE(mast_eval_query(NULL, 0, q, 1, &m) == 1);
    CHECK_NEAR(m.ndcg_10 + m.recall_10 + m.recall_100 + m.mrr_10 + m.map_100, 0.0, 0);
}

static void test_paired_comparison(void)
{
    enum { N = 20 };
    mast_eval_query_result a[N], b[N + 1];
    char ids[N + 1][8];
    for (int i = 0; i < N + 1; i++) {
        snprintf(ids[i], sizeof ids[i], "q%d", i);
        b[i] = (mast_eval_query_result){ids[i], {0.5, 0, 0, 0, 0}};
    }
    /* a is better on every query by 0.1, listed in another order; b has an extra query */
    for (int i = 0; i < N; i++)
        a[i] = (mast_eval_query_result){ids[N - 1 - i], {0.6, 0, 0, 0, 0}};
    mast_eval_comparison c;
    REQUIRE(mast_eval_compare(a, N, b, N + 1, &c) == MAST_OK);
    CHECK_EQ_INT(c.n, N);
    CHECK_EQ_INT(c.wins, N);
    CHECK_EQ_INT(c.losses, 0);
    CHECK_NEAR(c.mean_diff, 0.1, 1e-12);
    /* all 20 signs agree: a random flip reaches it with probability 2 / 2^20 */
    CHECK(c.p_value < 0.001);
    /* no difference at all: every flip is as extreme, p = 1 */
    REQUIRE(mast_eval_compare(b, N, b, N, &c) == MAST_OK);
    CHECK_EQ_INT(c.ties, N);
    CHECK(c.p_value == 1.0);
    /* half better, half worse by the same amount: far from significant */
    for (int i = 0; i < N; i++)
        a[i].m.ndcg_10 = i % 2 ? 0.6 : 0.4;
    REQUIRE(mast_eval_compare(a, N, b, N, &c) == MAST_OK);
    CHECK_EQ_INT(c.wins, N / 2);
    CHECK_EQ_INT(c.losses, N / 2);
    CHECK(c.p_value > 0.9);
    mast_eval_query_result other = {"zz", {0, 0, 0, 0, 0}};
    CHECK_EQ_INT(mast_eval_compare(&other, 1, b, N, &c), MAST_ERR_INVALID);
}

int main(void)
{
    RUN(test_binary_relevance_hand_computed);
    RUN(test_graded_relevance_uses_linear_gain);
    RUN(test_cutoffs_at_10_and_100);
    RUN(test_query_without_relevant_documents_is_left_out);
    RUN(test_empty_ranking_scores_zero);
    RUN(test_paired_comparison);
    return test_summary();
}
