/* tests/data/test_dedup.c — MinHash signatures, LSH candidates, clusters. */
#include <stdint.h>
#include <unistd.h>

#include "base/buf.h"
#include "data/dedup.h"
#include "data/store_impl.h"
#include "test.h"

static void sign(const char *text, mast_minhash *m)
{
    mast_minhash_begin(m);
    mast_minhash_add(m, text, strlen(text));
    mast_minhash_end(m);
}

/* A text of n words w<seed*1000+i>, with the words at positions where
** (i % every == 0) replaced: a copy with a known share of words changed. */
static char *words(int n, int seed, int every, int mark)
{
    mast_buf b = {0};
    for (int i = 0; i < n; i++)
        mast_buf_printf(&b, "%sw%d", i ? " " : "", every && i % every == 0 ? mark * 100000 + i
                                                                          : seed * 1000 + i);
    return mast_buf_detach(&b);
}

/* The exact Jaccard similarity of the 3-word shingle sets of two texts made
** by words(): shingle i is the words i..i+2, all distinct within a text. */
static double exact_jaccard(int n, int every)
{
    int same = 0, shingles = n - 2;
    for (int i = 0; i < shingles; i++) {
        int changed = 0;
        for (int k = i; k < i + 3; k++)
            changed |= every && k % every == 0;
        same += !changed;
    }
    return (double)same / (2 * shingles - same);
}

static void test_identical_texts_are_similar_whatever_their_case_and_punctuation(void)
{
    mast_minhash a, b, c;
    sign("The quick brown fox jumps over the lazy dog.", &a);
    sign("the QUICK brown fox -- jumps over, the lazy dog!", &b);
    sign("A completely different sentence about other things entirely.", &c);
    CHECK(a.n_shingles == 7);
    CHECK_NEAR(mast_minhash_similarity(a.v, b.v), 1.0, 0);
    CHECK(mast_minhash_similarity(a.v, c.v) < 0.05);
    /* curly quotes and dashes (U+2000–U+206F) separate words like ASCII punctuation */
    sign("\xe2\x80\x9cthe quick brown\xe2\x80\x9d fox\xe2\x80\x94jumps over the lazy dog", &c);
    CHECK_NEAR(mast_minhash_similarity(a.v, c.v), 1.0, 0);
}

static void test_pieces_join_at_word_boundaries(void)
{
    mast_minhash whole, parts;
    sign("alpha beta gamma delta epsilon", &whole);
    mast_minhash_begin(&parts);
    mast_minhash_add(&parts, "alpha beta", 10);
    mast_minhash_add(&parts, "gamma", 5);
    mast_minhash_add(&parts, "delta epsilon", 13);
    mast_minhash_end(&parts);
    CHECK_NEAR(mast_minhash_similarity(whole.v, parts.v), 1.0, 0);
    CHECK_EQ_INT(parts.n_shingles, 3);
}

static void test_short_and_empty_texts(void)
{
    mast_minhash m, n;
    sign("", &m);
    CHECK_EQ_INT(m.n_shingles, 0);
    sign("  ...  ", &m);
    CHECK_EQ_INT(m.n_shingles, 0);
    sign("two words", &m);
    CHECK_EQ_INT(m.n_shingles, 1);
    sign("Two, words.", &n);
    CHECK_NEAR(mast_minhash_similarity(m.v, n.v), 1.0, 0);
    sign("words two", &n);
    CHECK(mast_minhash_similarity(m.v, n.v) < 0.05);   /* order matters */
}

static void test_estimate_is_within_four_standard_errors_of_the_exact_jaccard(void)
{
    /* copies of a 400-word text with every 50th, 20th, 10th, 5th, 3rd word changed */
    static const int every[] = {50, 20, 10, 5, 3};
    char *orig = words(400, 1, 0, 0);
    mast_minhash a;
    sign(orig, &a);
    for (size_t i = 0; i < sizeof every / sizeof *every; i++) {
        char *copy = words(400, 1, every[i], 7);
        mast_minhash b;
        sign(copy, &b);
        double j = exact_jaccard(400, every[i]), est = mast_minhash_similarity(a.v, b.v);
        double se = sqrt(j * (1 - j) / MAST_MINHASH_K);
        if (fabs(est - j) > 4 * se + 1e-9)
            fprintf(stderr, "  every %d: exact %.3f estimated %.3f\n", every[i], j, est);
        CHECK(fabs(est - j) <= 4 * se + 1e-9);
        free(copy);
    }
    free(orig);
}

static void test_bands_agree_where_signatures_agree(void)
{
    mast_minhash a, b;
    char *t = words(300, 2, 0, 0), *u = words(300, 2, 25, 9);
    sign(t, &a);
    sign(u, &b);
    int64_t ba[MAST_MINHASH_BANDS], bb[MAST_MINHASH_BANDS];
    mast_minhash_bands(a.v, ba);
    mast_minhash_bands(b.v, bb);
    int shared = 0;
    for (int i = 0; i < MAST_MINHASH_BANDS; i++) {
        int rows_equal = 1;
        for (int r = 0; r < MAST_MINHASH_ROWS; r++)
            rows_equal &= a.v[i * MAST_MINHASH_ROWS + r] == b.v[i * MAST_MINHASH_ROWS + r];
        CHECK_EQ_INT(ba[i] == bb[i], rows_equal);
        shared += ba[i] == bb[i];
        CHECK(ba[i] >= 0);
    }
    CHECK(shared > 0);   /* J ≈ 0.78: a band of 3 agrees with probability 0.47 */
    /* the same values in another band give another key */
    uint32_t sig[MAST_MINHASH_K] = {0};
    int64_t keys[MAST_MINHASH_BANDS];
    mast_minhash_bands(sig, keys);
    CHECK(keys[0] != keys[1]);
    free(t);
    free(u);
}

static mast_store *open_fresh(char **dir)
{
    char tmpl[] = "/tmp/mast_dedup_XXXXXX";
    *dir = strdup(mkdtemp(tmpl));
    mast_buf p = {0};
    mast_buf_printf(&p, "%s/t.db", *dir);
    mast_store *s = NULL;
    if (mast_store_open(&s, p.data) != MAST_OK)
        s = NULL;
    mast_buf_free(&p);
    return s;
}

static void put(mast_store *s, int64_t c, const char *uri, const char *text, int64_t *id)
{
    mast_minhash m;
    sign(text, &m);
    char hash[MAST_HASH_HEX_LEN + 1];
    mast_hash_hex(text, strlen(text), hash);
    mast_doc_in d = {uri, "", uri, NULL, hash, NULL, 0, m.v};
    mast_chunk_in ch = {text, 10, "", NULL, 0, 0};
    REQUIRE(mast_store_doc_put(s, c, &d, &ch, 1, id) == MAST_OK);
}

static void test_find_and_report_over_a_store(void)
{
    char *dir;
    mast_store *s = open_fresh(&dir);
    REQUIRE(s);
    int64_t c, other, ids[5];
    REQUIRE(mast_store_collection_ensure(s, "c", &c) == MAST_OK);
    REQUIRE(mast_store_collection_ensure(s, "other", &other) == MAST_OK);
    char *a = words(200, 3, 0, 0), *a1 = words(200, 3, 40, 5), *a2 = words(200, 3, 25, 6);
    char *b = words(200, 4, 0, 0), *b1 = words(200, 4, 30, 5);
    put(s, c, "a", a, &ids[0]);
    put(s, c, "b", b, &ids[1]);
    put(s, c, "a1", a1, &ids[2]);
    put(s, c, "b1", b1, &ids[3]);
    put(s, c, "a2", a2, &ids[4]);
    int64_t unused;
    put(s, other, "a-elsewhere", a, &unused);   /* another collection's copy is not a match */

    mast_lsh *lsh;   /* built from the stored signatures of c only */
    REQUIRE(mast_lsh_open(s, c, &lsh) == MAST_OK);
    mast_minhash m;
    sign(a1, &m);
    mast_dedup_match match;
    REQUIRE(mast_dedup_find(s, lsh, m.v, ids[2], 0.5, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, ids[0]);     /* a1's best older match is a */
    CHECK_EQ_STR(match.uri, "a");
    CHECK(match.similarity > 0.7 && match.similarity < 1.0);
    free(match.uri);
    /* only older documents count: a is no one's duplicate */
    sign(a, &m);
    REQUIRE(mast_dedup_find(s, lsh, m.v, ids[0], 0.5, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, 0);
    CHECK(match.uri == NULL);
    /* a threshold above every similarity: no match */
    sign(a2, &m);
    REQUIRE(mast_dedup_find(s, lsh, m.v, ids[4], 1.0, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, 0);
    /* as a new document, a2's best match is its stored self */
    REQUIRE(mast_dedup_find(s, lsh, m.v, INT64_MAX, 0.5, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, ids[4]);
    CHECK_NEAR(match.similarity, 1.0, 0);
    free(match.uri);

    mast_dedup_report r;
    REQUIRE(mast_dedup_report_build(s, c, 0.5, &r) == MAST_OK);
    CHECK_EQ_INT(r.n_documents, 5);
    CHECK_EQ_INT(r.n_signed, 5);
    REQUIRE(r.n_clusters == 2);
    CHECK_EQ_INT(r.n_duplicates, 3);
    CHECK_EQ_INT(r.clusters[0].n, 3);       /* the larger first: a, a1, a2 */
    CHECK_EQ_INT(r.clusters[0].members[0].doc_id, ids[0]);
    CHECK_EQ_INT(r.clusters[0].members[1].doc_id, ids[2]);
    CHECK_EQ_INT(r.clusters[0].members[2].doc_id, ids[4]);
    CHECK_NEAR(r.clusters[0].members[0].similarity, 1.0, 0);
    CHECK_EQ_INT(r.clusters[1].n, 2);
    CHECK_EQ_INT(r.clusters[1].members[0].doc_id, ids[1]);
    CHECK_EQ_INT(r.clusters[1].members[1].doc_id, ids[3]);
    CHECK_EQ_INT(r.n_pairs, 4);             /* a-a1, a-a2, a1-a2, b-b1 */
    mast_dedup_report_free(&r);

    /* deleting a document takes its signature along; the index skips it */
    REQUIRE(mast_store_doc_delete(s, c, ids[0]) == MAST_OK);
    sign(a1, &m);
    REQUIRE(mast_dedup_find(s, lsh, m.v, ids[2], 0.5, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, 0);
    /* a document added to the index is found */
    char *a3 = words(200, 3, 50, 8);
    int64_t id3;
    put(s, c, "a3", a3, &id3);
    REQUIRE(mast_lsh_add(lsh, id3, (sign(a3, &m), m.v)) == MAST_OK);
    sign(a3, &m);
    REQUIRE(mast_dedup_find(s, lsh, m.v, INT64_MAX, 0.5, &match) == MAST_OK);
    CHECK_EQ_INT(match.doc_id, id3);   /* itself, found through the index */
    CHECK_NEAR(match.similarity, 1.0, 0);
    free(match.uri);
    free(a3);
    mast_lsh_free(lsh);
    sqlite3_stmt *st;
    REQUIRE(mast_store_prepare(s, "SELECT count(*) FROM doc_minhash WHERE document_id = ?1",
                               &st) == MAST_OK);
    sqlite3_bind_int64(st, 1, ids[0]);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    REQUIRE(mast_dedup_report_build(s, c, 0.5, &r) == MAST_OK);
    CHECK_EQ_INT(r.n_clusters, 2);           /* a1 leads a2 and a3 now; b leads b1 */
    CHECK_EQ_INT(r.clusters[0].n, 3);
    mast_dedup_report_free(&r);

    mast_store_close(s);
    free(a), free(a1), free(a2), free(b), free(b1);
    mast_buf cmd = {0};
    mast_buf_printf(&cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd.data) == 0);
    mast_buf_free(&cmd);
    free(dir);
}

static void test_modes_parse(void)
{
    CHECK_EQ_INT(mast_dedup_mode_parse("link"), MAST_DEDUP_LINK);
    CHECK_EQ_INT(mast_dedup_mode_parse("skip"), MAST_DEDUP_SKIP);
    CHECK_EQ_INT(mast_dedup_mode_parse("off"), MAST_DEDUP_OFF);
    CHECK_EQ_INT(mast_dedup_mode_parse("Skip"), -1);
}

int main(void)
{
    RUN(test_identical_texts_are_similar_whatever_their_case_and_punctuation);
    RUN(test_pieces_join_at_word_boundaries);
    RUN(test_short_and_empty_texts);
    RUN(test_estimate_is_within_four_standard_errors_of_the_exact_jaccard);
    RUN(test_bands_agree_where_signatures_agree);
    RUN(test_find_and_report_over_a_store);
    RUN(test_modes_parse);
    return test_summary();
}
