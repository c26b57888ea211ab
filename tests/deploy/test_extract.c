/* tests/deploy/test_extract.c — the extractive answer: whole sentences, white
** space collapsed, no fragments, no repetition, the best sentence first. */
#include "deploy/extract.h"
#include "test.h"

static mast_result passage(const char *title, const char *heading, const char *text, double score)
{
    return (mast_result){0, score, 0, 0, (char *)"uri", (char *)title, (char *)heading, (char *)text, 0, 0, NULL};
}

static void test_best_sentence_first_whole_and_collapsed(void)
{
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    mast_result p[2] = {
        passage("Guide", "Install", "the tail of a cut sentence about zebras.  Zebras   are\n"
                "striped animals that live in Africa. Lions hunt zebras at night.", 10),
        passage("Other", "", "Zebras are striped animals that live in Africa.", 9),
    };
    mast_extract e;
    REQUIRE(mast_extract_answer(a, "Where do striped zebras live?", p, 2, 3, &e) == MAST_OK);
    REQUIRE(e.n_sentences >= 1);
    /* whole, collapsed, and not the lower-case fragment that opens the passage */
    CHECK_EQ_STR(e.sentence[0], "Zebras are striped animals that live in Africa.");
    CHECK_EQ_INT(e.passage[0], 0);
    for (size_t i = 1; i < e.n_sentences; i++) {
        /* the same sentence from the second passage is redundant (MMR) */
        CHECK(strcmp(e.sentence[i], e.sentence[0]) != 0);
        CHECK(strstr(e.sentence[i], "the tail of a cut") == NULL);
    }
    mast_extract_free(&e);
    mast_analyzer_free(a);
}

static void test_lower_case_corpora_keep_their_first_sentence(void)
{
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    mast_result p[1] = {passage("", "", "heat conduction in composite slabs . a method is given .", 5)};
    mast_extract e;
    REQUIRE(mast_extract_answer(a, "heat conduction in slabs", p, 1, 1, &e) == MAST_OK);
    REQUIRE(e.n_sentences == 1);
    CHECK_EQ_STR(e.sentence[0], "heat conduction in composite slabs .");
    mast_extract_free(&e);
    mast_analyzer_free(a);
}

static void test_no_matching_sentence_gives_no_answer(void)
{
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    mast_result p[1] = {passage("T", "", "Nothing relevant here.", 1)};
    mast_extract e;
    REQUIRE(mast_extract_answer(a, "quantum chromodynamics", p, 1, 3, &e) == MAST_OK);
    CHECK_EQ_INT(e.n_sentences, 0);
    CHECK_EQ_INT(e.n_candidates, 0);
    mast_extract_free(&e);
    mast_analyzer_free(a);
}

int main(void)
{
    RUN(test_best_sentence_first_whole_and_collapsed);
    RUN(test_lower_case_corpora_keep_their_first_sentence);
    RUN(test_no_matching_sentence_gives_no_answer);
    return test_summary();
}
