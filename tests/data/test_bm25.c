/* tests/data/test_bm25.c — the analyzer and BM25 scoring. */
#include "data/textindex/bm25.h"
#include "test.h"

typedef struct terms {
    char out[512];
} terms;

static void join(void *ctx, const char *t, size_t n)
{
    terms *x = ctx;
    if (x->out[0])
        strcat(x->out, " ");
    strncat(x->out, t, n);
}

static const char *analyze(mast_analyzer *a, const char *text, terms *t)
{
    t->out[0] = '\0';
    mast_analyze(a, text, strlen(text), join, t);
    return t->out;
}

static void test_analyzer_folds_stops_and_stems(void)
{
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    terms t;
    CHECK_EQ_STR(analyze(a, "The Running DOGS of the world", &t), "run dog world");
    CHECK_EQ_STR(analyze(a, "CAFÉ Ünïcode naïve", &t), "cafe unicod naiv");
    CHECK_EQ_STR(analyze(a, "don't stop: John's e-mail, v2.0", &t), "don't stop john e mail v2.0");
    /* the table of tricky strings: the rules in analyzer.h */
    static const char *const table[][2] = {
        {"Café cafe CAFE", "cafe cafe cafe"},                     /* accents and case fold */
        {"Straße ﬁle Æsir", "strass file æsir"},                 /* ß, ligatures; Æ is a letter */
        {"rock'n'roll O'Brien's", "rock'n'rol o'brien"},         /* apostrophes */
        {"state-of-the-art", "state art"},                        /* hyphens split; stop words */
        {"https://example.com/a_b?x=1", "https exampl com b x 1"},/* a URL is its words */
        {"jo.doe@mail.example.org", "jo doe mail exampl org"},   /* so is an e-mail */
        {"東京タワー is tall", "東 京 タ ワ ー tall"},             /* CJK unigrams, then Latin */
        {"한국어 문장", "한국어 문장"},                              /* Hangul words stay whole */
        {"x\u0301y", "xy"},                                       /* a lone combining mark */
        {"U.S.A. and T-cell", "u s t cell"},                      /* acronyms and hyphens split */
        {"C++ and C# beat c+d", "c++ c# beat c d"},              /* language names */
        {"it costs 3.14 at v2.0.1.", "cost 3.14 v2.0.1"},         /* versions and decimals */
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        CHECK_EQ_STR(analyze(a, table[i][0], &t), table[i][1]);
    CHECK_EQ_STR(analyze(a, "", &t), "");
    mast_analyzer *none, *fr;
    REQUIRE(mast_analyzer_open(&none, "none") == MAST_OK);
    CHECK_EQ_STR(analyze(none, "The Running parse_http_header(Été)", &t),
                 "the running parse_http_header ete");   /* no stems, no stop words, "_" kept */
    mast_analyzer_free(none);
    REQUIRE(mast_analyzer_open(&fr, "french") == MAST_OK);
    CHECK_EQ_STR(analyze(fr, "les continuations nationales", &t), "continu national");
    /* elision ("l'"), stop words ("à", "est"), then the French stemmer */
    CHECK_EQ_STR(analyze(fr, "L'été à Paris est très chaud", &t), "ete paris tre chaud");
    mast_analyzer_free(fr);
    CHECK_EQ_STR(analyze(a, "... --- !!!", &t), "");
    mast_analyzer_free(a);
    CHECK_EQ_INT(mast_analyzer_open(&a, "klingon"), MAST_ERR_INVALID);
}

/* The formula of bm25.h, computed here independently from term counts. */
static double expected_score(int tf, int dl, double avgdl, int df, int n_docs)
{
    double k1 = 1.2, b = 0.75;
    double idf = log(1.0 + (n_docs - df + 0.5) / (df + 0.5));
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

static void test_scores_equal_the_formula_on_a_hand_made_corpus(void)
{
    /* terms after analysis: doc1 = {fox x2, quick, brown}, doc2 = {lazi, dog},
    ** doc3 = {fox, dog, jump, high} */
    const char *docs[] = {"fox fox quick brown", "the lazy dog", "fox dog jumps high"};
    int lens[] = {4, 2, 4};
    mast_analyzer *a;
    mast_bm25 *x;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    REQUIRE(mast_bm25_create(&x, NULL) == MAST_OK);
    for (int i = 0; i < 3; i++)
        REQUIRE(mast_bm25_add(x, a, 100 + i, 10 + i, "", 0, docs[i], strlen(docs[i])) == MAST_OK);
    CHECK_EQ_INT(mast_bm25_add(x, a, 100, 10, "", 0, "dup", 3), MAST_ERR_INVALID);
    mast_hit *h;
    size_t n;
    CHECK_EQ_INT(mast_bm25_search(x, a, "fox", 3, 10, &h, &n), MAST_ERR_INVALID);  /* not flushed */
    REQUIRE(mast_bm25_flush(x) == MAST_OK);
    double avgdl = (4 + 2 + 4) / 3.0;
    REQUIRE(mast_bm25_search(x, a, "fox dog", 7, 10, &h, &n) == MAST_OK);
    REQUIRE(n == 3);
    double s1 = expected_score(2, lens[0], avgdl, 2, 3);
    double s2 = expected_score(1, lens[1], avgdl, 2, 3);
    double s3 = expected_score(1, lens[2], avgdl, 2, 3) * 2;   /* fox and dog, same df */
    CHECK_EQ_INT(h[0].chunk_id, 102);
    CHECK_NEAR(h[0].score, s3, 1e-12);
    CHECK_EQ_INT(h[0].doc_id, 12);
    /* doc1 (tf 2, long) and doc2 (tf 1, short) */
    CHECK_NEAR(h[1].score, s1 > s2 ? s1 : s2, 1e-12);
    CHECK_NEAR(h[2].score, s1 > s2 ? s2 : s1, 1e-12);
    free(h);
    /* a term repeated in the query is one term weighted qtf * 2 / (1 + qtf)
    ** (3 times: 1.5); unknown terms are ignored */
    REQUIRE(mast_bm25_search(x, a, "dog DOG dogs zebra", 18, 10, &h, &n) == MAST_OK);
    REQUIRE(n == 2);
    CHECK_NEAR(h[0].score, 1.5 * expected_score(1, 2, avgdl, 2, 3), 1e-12);
    free(h);
    mast_bm25_free(x);
    mast_analyzer_free(a);
}

static void test_removed_chunks_are_never_returned_and_stats_follow(void)
{
    mast_analyzer *a;
    mast_bm25 *x;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    REQUIRE(mast_bm25_create(&x, NULL) == MAST_OK);
    REQUIRE(mast_bm25_add(x, a, 1, 1, "", 0, "apple banana", 12) == MAST_OK);
    REQUIRE(mast_bm25_add(x, a, 2, 2, "", 0, "apple cherry cherry", 19) == MAST_OK);
    REQUIRE(mast_bm25_flush(x) == MAST_OK);
    REQUIRE(mast_bm25_add(x, a, 3, 3, "", 0, "banana", 6) == MAST_OK);
    CHECK_EQ_INT(mast_bm25_remove(x, 3), 1);   /* pending */
    REQUIRE(mast_bm25_flush(x) == MAST_OK);
    CHECK_EQ_INT(mast_bm25_remove(x, 3), 0);
    CHECK_EQ_INT(mast_bm25_remove(x, 2), 1);   /* in a segment */
    CHECK_EQ_INT(mast_bm25_remove(x, 2), 0);
    CHECK_EQ_INT(mast_bm25_remove(x, 99), 0);
    CHECK_EQ_INT(mast_bm25_count(x), 1);
    mast_hit *h;
    size_t n;
    for (int exhaustive = 0; exhaustive < 2; exhaustive++) {
        mast_bm25_query q = {.k = 10, .strategy = exhaustive ? MAST_BM25_EXHAUSTIVE : MAST_BM25_PRUNED};
        REQUIRE(mast_bm25_search_with(x, a, "cherry banana", 13, &q, &h, &n, NULL) == MAST_OK);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(h[0].chunk_id, 1);
        free(h);
    }
    /* deleted chunks still count in the statistics until a merge, as in
    ** Lucene: N = 3, df(apple) = 2, avgdl = (2 + 3 + 1) / 3 */
    REQUIRE(mast_bm25_search(x, a, "apple", 5, 10, &h, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_INT(h[0].chunk_id, 1);
    CHECK_NEAR(h[0].score, expected_score(1, 2, 2.0, 2, 3), 1e-12);
    free(h);
    /* after the merge: N = 1, df(apple) = 1, avgdl = 2 */
    REQUIRE(mast_bm25_maintain(x, 1) == MAST_OK);
    REQUIRE(mast_bm25_search(x, a, "apple", 5, 10, &h, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_NEAR(h[0].score, expected_score(1, 2, 2.0, 1, 1), 1e-12);
    free(h);
    mast_bm25_info info;
    mast_bm25_get_info(x, &info);
    CHECK_EQ_INT(info.segments, 1);
    CHECK_EQ_INT(info.chunks, 1);
    CHECK_EQ_INT(info.deleted, 0);
    mast_bm25_free(x);
    mast_analyzer_free(a);
}

static void test_top_k_is_exact_with_ties_broken_by_chunk_id(void)
{
    mast_analyzer *a;
    mast_bm25 *x;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    REQUIRE(mast_bm25_create(&x, NULL) == MAST_OK);
    /* 50 identical documents score the same: the k lowest ids must win */
    for (int i = 1; i <= 50; i++) {
        REQUIRE(mast_bm25_add(x, a, i, i, "", 0, "same words here", 15) == MAST_OK);
        if (i % 20 == 0)
            REQUIRE(mast_bm25_flush(x) == MAST_OK);   /* ties across segments too */
    }
    REQUIRE(mast_bm25_add(x, a, 1000, 1000, "", 0, "other", 5) == MAST_OK);
    REQUIRE(mast_bm25_flush(x) == MAST_OK);
    mast_hit *h;
    size_t n;
    for (int s = MAST_BM25_AUTO; s <= MAST_BM25_PRUNED; s++) {
        mast_bm25_query q = {.k = 5, .strategy = (mast_bm25_strategy)s};
        REQUIRE(mast_bm25_search_with(x, a, "words", 5, &q, &h, &n, NULL) == MAST_OK);
        REQUIRE(n == 5);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_INT(h[i].chunk_id, (int)i + 1);
        free(h);
    }
    REQUIRE(mast_bm25_search(x, a, "the of and", 10, 5, &h, &n) == MAST_OK);
    CHECK_EQ_INT(n, 0);   /* stop words only */
    free(h);
    mast_bm25_free(x);
    mast_analyzer_free(a);
}

static int cmp_full(const void *a, const void *b)
{
    return mast_hit_before(a, b) ? -1 : mast_hit_before(b, a) ? 1 : 0;
}

static void test_top_k_selection_equals_a_full_sort(void)
{
    enum { N = 500 };
    mast_hit all[N], sorted[N];
    uint32_t seed = 3;
    for (int i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        all[i] = (mast_hit){(int64_t)(seed % 10007), i, (double)((seed >> 16) % 20)};   /* many ties */
    }
    memcpy(sorted, all, sizeof all);
    qsort(sorted, N, sizeof *sorted, cmp_full);
    static const size_t ks[] = {0, 1, 7, 100, N, N + 10};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        mast_hit work[N];
        memcpy(work, all, sizeof all);
        size_t n = mast_hits_top(work, N, ks[t]);
        CHECK_EQ_INT(n, ks[t] < N ? ks[t] : N);
        for (size_t i = 0; i < n; i++)
            CHECK(work[i].chunk_id == sorted[i].chunk_id && work[i].score == sorted[i].score);
    }
}

int main(void)
{
    RUN(test_analyzer_folds_stops_and_stems);
    RUN(test_scores_equal_the_formula_on_a_hand_made_corpus);
    RUN(test_removed_chunks_are_never_returned_and_stats_follow);
    RUN(test_top_k_is_exact_with_ties_broken_by_chunk_id);
    RUN(test_top_k_selection_equals_a_full_sort);
    return test_summary();
}
