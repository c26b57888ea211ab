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

int main(void)
{
    RUN(test_binary_relevance_hand_computed);
    RUN(test_graded_relevance_uses_linear_gain);
    RUN(test_cutoffs_at_10_and_100);
    RUN(test_query_without_relevant_documents_is_left_out);
    RUN(test_empty_ranking_scores_zero);
    return test_summary();
}
