/* tests/data/test_postings.c — the BM25 engine: postings segments, pruning,
** deletes, merges, files. */
#include <dirent.h>
#include <unistd.h>

#include "data/textindex/bm25.h"
#include "data/textindex/segment.h"
#include "test.h"

static uint64_t rng = 88172645463325252ULL;

static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void test_vbyte_round_trip(void)
{
    static const uint32_t edges[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152,
                                     268435455, 268435456, UINT32_MAX};
    uint8_t buf[8];
    for (size_t i = 0; i < sizeof edges / sizeof *edges + 10000; i++) {
        uint32_t v = i < sizeof edges / sizeof *edges ? edges[i] : next_u32() >> (next_u32() % 32);
        size_t n = seg_vbyte_put(buf, v);
        uint32_t back = 0;
        REQUIRE(n >= 1 && n <= 5);
        CHECK_EQ_INT(seg_vbyte_get(buf, buf + n, &back), n);
        CHECK_EQ_INT(back, v);
        CHECK_EQ_INT(seg_vbyte_get(buf, buf + n - 1, &back), 0);   /* cut short */
    }
    uint8_t too_long[6] = {0xff, 0xff, 0xff, 0xff, 0x1f, 0};
    uint32_t v;
    CHECK_EQ_INT(seg_vbyte_get(too_long, too_long + 6, &v), 0);   /* over 32 bits */
}

/* Random postings lists written as a segment come back identical through
** next, advance and the skip table. */
static void test_postings_round_trip(void)
{
    enum { DOCS = 40000, TERMS = 9 };
    static const uint32_t sizes[TERMS] = {1, 2, 127, 128, 129, 255, 256, 1000, 15000};
    uint32_t *lb = malloc(DOCS * 4), *lt = malloc(DOCS * 4);
    int64_t *chunk = malloc(DOCS * 8), *doc = malloc(DOCS * 8);
    uint32_t *docs[TERMS], *tfb[TERMS], *tft[TERMS];
    REQUIRE(lb && lt && chunk && doc);
    for (uint32_t d = 0; d < DOCS; d++) {
        lb[d] = 1 + next_u32() % 500;
        lt[d] = next_u32() % 4;
        chunk[d] = 1000 + 3 * (int64_t)d;
        doc[d] = d / 2;
    }
    seg_writer w;
    seg_writer_begin(&w, DOCS, lb, lt);
    char name[TERMS][8];
    for (int t = 0; t < TERMS; t++) {
        snprintf(name[t], sizeof name[t], "t%d", t);   /* dictionary order: t0 < t1 < ... */
        docs[t] = malloc(sizeof(uint32_t) * sizes[t]);
        tfb[t] = malloc(sizeof(uint32_t) * sizes[t]);
        tft[t] = malloc(sizeof(uint32_t) * sizes[t]);
        /* distinct sorted documents: a random subset, big gaps included */
        uint32_t d = next_u32() % 50;
        for (uint32_t i = 0; i < sizes[t]; i++) {
            docs[t][i] = d;
            tfb[t][i] = i % 97 == 5 ? 70000 + next_u32() % 1000 : next_u32() % 5;
            tft[t][i] = next_u32() % 3 == 0 ? 1 + next_u32() % 300 : 0;
            if (tfb[t][i] == 0 && tft[t][i] == 0)
                tfb[t][i] = 1;
            d += 1 + (sizes[t] < 2000 ? next_u32() % 17 : next_u32() % 2);
        }
        REQUIRE(docs[t][sizes[t] - 1] < DOCS);
        seg_writer_term(&w, name[t], strlen(name[t]), docs[t], tfb[t], tft[t], sizes[t]);
    }
    uint8_t *img;
    size_t size;
    REQUIRE(seg_writer_finish(&w, chunk, doc, &img, &size) == MAST_OK);
    mast_seg s;
    REQUIRE(seg_parse(&s, img, size, img, NULL, 1, "test") == MAST_OK);
    CHECK_EQ_INT(s.n_docs, DOCS);
    CHECK_EQ_INT(s.n_terms, TERMS);
    CHECK_EQ_INT(seg_find_term(&s, "t3", 2), 3);
    CHECK_EQ_INT(seg_find_term(&s, "t", 1), -1);
    CHECK_EQ_INT(seg_find_chunk(&s, 1000 + 3 * 77), 77);
    CHECK_EQ_INT(seg_find_chunk(&s, 1001), -1);
    seg_cursor c;
    for (int t = 0; t < TERMS; t++) {
        long e = seg_find_term(&s, name[t], strlen(name[t]));
        REQUIRE(e == t);
        seg_cursor_init(&c, &s, e);
        uint32_t i = 0;
        for (uint32_t d = c.doc; d != SEG_END; d = seg_cursor_next(&c), i++) {
            REQUIRE(i < sizes[t]);
            CHECK(d == docs[t][i] && seg_cursor_tfb(&c) == tfb[t][i] && seg_cursor_tft(&c) == tft[t][i]);
        }
        CHECK_EQ_INT(i, sizes[t]);
        CHECK(!c.bad);
        /* advance: the first posting at or after each target, from a fresh
        ** lazy cursor or moving forward */
        seg_cursor_init_lazy(&c, &s, e);
        uint32_t target = 0;
        for (int step = 0; step < 200; step++) {
            target += next_u32() % (DOCS / 100);
            uint32_t want = SEG_END;
            for (uint32_t j = 0; j < sizes[t]; j++)
                if (docs[t][j] >= target) {
                    want = docs[t][j];
                    const seg_skip *k = seg_cursor_block_of(&c, target);
                    REQUIRE(k != NULL);
                    CHECK(k->last_doc >= want && k->max_tfb >= tfb[t][j] && k->max_tft >= tft[t][j]);
                    CHECK(k->min_lb <= lb[want] && k->min_lt <= lt[want]);
                    break;
                }
            CHECK_EQ_INT(seg_cursor_advance(&c, target), want);
            if (want == SEG_END)
                break;
        }
        free(docs[t]);
        free(tfb[t]);
        free(tft[t]);
    }
    seg_free(&s);
    free(lb);
    free(lt);
    free(chunk);
    free(doc);
}

/* A shared random corpus: words "wN" with Zipf-like frequencies; some chunks
** have a title. Added in four flushes (segments), then some deleted. */
enum { CORPUS = 4000, VOCAB = 600 };

static uint32_t zipf_word(void)
{
    /* inverse transform of ~1/rank: rank = VOCAB^u */
    double u = (next_u32() & 0xffffff) / (double)0x1000000;
    uint32_t r = (uint32_t)pow(VOCAB, u);
    return r ? r - 1 : 0;
}

static void random_text(char *out, size_t cap, int words)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < words && n + 8 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "w%u ", zipf_word());
}

static unsigned char deleted_chunk[CORPUS];   /* by chunk id - 10 */

static mast_bm25 *build_corpus(mast_analyzer *a, int flushes, int64_t *deleted_out)
{
    mast_bm25 *x;
    if (mast_bm25_create(&x, NULL) != MAST_OK)
        return NULL;
    char title[256], body[4096];
    for (int i = 0; i < CORPUS; i++) {
        random_text(body, sizeof body, 5 + (int)(next_u32() % 200));
        if (i % 3 == 0)
            random_text(title, sizeof title, 1 + (int)(next_u32() % 6));
        else
            title[0] = '\0';
        if (mast_bm25_add(x, a, 10 + i, i / 3, title, strlen(title), body, strlen(body)) != MAST_OK)
            return NULL;
        if ((i + 1) % (CORPUS / flushes) == 0 && mast_bm25_flush(x) != MAST_OK)
            return NULL;
    }
    if (mast_bm25_flush(x) != MAST_OK)
        return NULL;
    int64_t n_del = 0;
    memset(deleted_chunk, 0, sizeof deleted_chunk);
    for (int i = 0; i < CORPUS; i += 1 + (int)(next_u32() % 40)) {
        n_del += mast_bm25_remove(x, 10 + i);
        deleted_chunk[i] = 1;
    }
    *deleted_out = n_del;
    return x;
}

static int same_hits(const mast_hit *a, size_t na, const mast_hit *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].chunk_id != b[i].chunk_id || a[i].doc_id != b[i].doc_id || a[i].score != b[i].score)
            return 0;
    return 1;
}

static int odd_docs(void *ctx, int64_t doc_id)
{
    (void)ctx;
    return doc_id % 2 == 1;
}

static void test_pruned_top_k_equals_exhaustive(void)
{
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, "none") == MAST_OK);
    int64_t n_del;
    mast_bm25 *x = build_corpus(a, 4, &n_del);
    REQUIRE(x != NULL);
    CHECK_EQ_INT(mast_bm25_count(x), CORPUS - n_del);
    uint64_t postings = 0, decoded = 0;
    int mismatches = 0, compared = 0;
    static const size_t ks[] = {1, 10, 100};
    static const double weights[] = {1.0, 3.0, 0.5};
    for (int qn = 0; qn < 300; qn++) {
        char query[256];
        /* 1-6 words, frequent and rare mixed */
        int words = 1 + (int)(next_u32() % 6);
        size_t len = 0;
        for (int i = 0; i < words; i++)
            len += (size_t)snprintf(query + len, sizeof query - len, "w%u ",
                                    i % 2 ? next_u32() % VOCAB : zipf_word());
        for (size_t ki = 0; ki < 3; ki++)
            for (size_t wi = 0; wi < 3; wi++) {
                mast_bm25_query q = {.k = ks[ki], .title_weight = weights[wi], .strategy = MAST_BM25_PRUNED};
                if (qn % 10 == 0)
                    q.allow = odd_docs;
                mast_hit *h1, *h2;
                size_t n1, n2;
                mast_bm25_stats st;
                REQUIRE(mast_bm25_search_with(x, a, query, len, &q, &h1, &n1, &st) == MAST_OK);
                q.strategy = MAST_BM25_EXHAUSTIVE;
                REQUIRE(mast_bm25_search_with(x, a, query, len, &q, &h2, &n2, NULL) == MAST_OK);
                mismatches += !same_hits(h1, n1, h2, n2);
                compared++;
                if (ks[ki] == 10) {
                    postings += st.postings;
                    decoded += st.decoded;
                }
                for (size_t i = 0; i < n1; i++) {
                    CHECK(!q.allow || h1[i].doc_id % 2 == 1);
                    CHECK(!deleted_chunk[h1[i].chunk_id - 10]);   /* deletes never returned */
                }
                free(h1);
                free(h2);
            }
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(compared, 2700);
    /* block-max pruning skipped postings (top 10) */
    fprintf(stderr, "  top 10: decoded %llu of %llu postings (%.1f%%)\n",
            (unsigned long long)decoded, (unsigned long long)postings,
            100.0 * (double)decoded / (double)postings);
    CHECK(decoded < postings * 9 / 10);
    mast_bm25_free(x);
    mast_analyzer_free(a);
}

/* BM25F with a title weight, computed here from the term counts. */
static void test_title_weight_scores_equal_the_formula(void)
{
    mast_analyzer *a;
    mast_bm25 *x;
    REQUIRE(mast_analyzer_open(&a, "none") == MAST_OK);
    REQUIRE(mast_bm25_create(&x, NULL) == MAST_OK);
    /* chunk 1: title {apple}, body {apple pie pie}; chunk 2: body {apple tart};
    ** chunk 3: title {tart tart}, body {cake} */
    REQUIRE(mast_bm25_add(x, a, 1, 1, "apple", 5, "apple pie pie", 13) == MAST_OK);
    REQUIRE(mast_bm25_add(x, a, 2, 2, "", 0, "apple tart", 10) == MAST_OK);
    REQUIRE(mast_bm25_add(x, a, 3, 3, "tart tart", 9, "cake", 4) == MAST_OK);
    REQUIRE(mast_bm25_flush(x) == MAST_OK);
    double w = 2.5, k1 = 1.2, b = 0.75;
    double dl[3] = {3 + w * 1, 2, 1 + w * 2}, avgdl = (dl[0] + dl[1] + dl[2]) / 3;
    double idf_apple = log(1 + (3 - 2 + 0.5) / (2 + 0.5)), idf_tart = idf_apple;
#define W(idf, tf, d) ((idf) * (tf) * (k1 + 1) / ((tf) + k1 * (1 - b + b * dl[d] / avgdl)))
    double want1 = W(idf_apple, 1 + w * 1, 0);
    double want2 = W(idf_apple, 1, 1) + W(idf_tart, 1, 1);
    double want3 = W(idf_tart, w * 2, 2);
#undef W
    mast_bm25_query q = {.k = 10, .title_weight = w};
    mast_hit *h;
    size_t n;
    REQUIRE(mast_bm25_search_with(x, a, "apple tart", 10, &q, &h, &n, NULL) == MAST_OK);
    REQUIRE(n == 3);
    for (size_t i = 0; i < n; i++) {
        double want = h[i].chunk_id == 1 ? want1 : h[i].chunk_id == 2 ? want2 : want3;
        CHECK_NEAR(h[i].score, want, 1e-12);
    }
    CHECK(h[0].score >= h[1].score && h[1].score >= h[2].score);
    free(h);
    mast_bm25_free(x);
    mast_analyzer_free(a);
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void search_all(const mast_bm25 *x, mast_analyzer *a, mast_hit **h, size_t *n)
{
    mast_bm25_query q = {.k = 50};
    if (mast_bm25_search_with(x, a, "w1 w7 w30 w200", 15, &q, h, n, NULL) != MAST_OK)
        *n = SIZE_MAX;
}

static void test_index_survives_reopen_and_merges(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/x.tix", dir);
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, "none") == MAST_OK);
    int64_t n_del;
    mast_bm25 *x = build_corpus(a, 4, &n_del), *y;
    REQUIRE(x != NULL);
    mast_hit *h1, *h2;
    size_t n1, n2;
    search_all(x, a, &h1, &n1);
    REQUIRE(n1 == 50);
    REQUIRE(mast_bm25_save(x, path, 42, "none") == MAST_OK);
    CHECK_EQ_INT(count_files(dir, "x.tix-"), 4);
    uint64_t version = 0;
    char tag[64];
    REQUIRE(mast_bm25_open(path, NULL, &y, &version, tag) == MAST_OK);
    CHECK_EQ_INT(version, 42);
    CHECK_EQ_STR(tag, "none");
    CHECK_EQ_INT(mast_bm25_count(y), mast_bm25_count(x));
    CHECK_EQ_INT(mast_bm25_max_chunk(y), mast_bm25_max_chunk(x));
    search_all(y, a, &h2, &n2);
    CHECK(same_hits(h1, n1, h2, n2));   /* deletes and statistics survive too */
    free(h2);
    /* more chunks, flushed one by one: past 8 segments merges bring it down,
    ** and results do not change (no deletes among the new ones) */
    for (int i = 0; i < 12; i++) {
        REQUIRE(mast_bm25_add(y, a, 100000 + i, 99999, "", 0, "zzz unique", 10) == MAST_OK);
        REQUIRE(mast_bm25_flush(y) == MAST_OK);
    }
    mast_bm25_info info;
    mast_bm25_get_info(y, &info);
    CHECK_EQ_INT(info.segments, 16);
    mast_hit *h3;
    size_t n3;
    search_all(y, a, &h3, &n3);
    REQUIRE(mast_bm25_maintain(y, 0) == MAST_OK);
    mast_bm25_get_info(y, &info);
    CHECK(info.segments <= 8);
    search_all(y, a, &h2, &n2);
    CHECK(same_hits(h3, n3, h2, n2));
    free(h2);
    free(h3);
    REQUIRE(mast_bm25_save(y, path, 43, "none") == MAST_OK);
    CHECK_EQ_INT(count_files(dir, "x.tix-"), (int)info.segments);   /* merged-away files removed */
    mast_bm25_free(y);
    REQUIRE(mast_bm25_open(path, NULL, &y, &version, NULL) == MAST_OK);
    CHECK_EQ_INT(version, 43);
    CHECK_EQ_INT(mast_bm25_count(y), mast_bm25_count(x) + 12);
    /* optimize: one segment, the deleted chunks gone from the statistics */
    REQUIRE(mast_bm25_maintain(y, 1) == MAST_OK);
    mast_bm25_get_info(y, &info);
    CHECK_EQ_INT(info.segments, 1);
    CHECK_EQ_INT(info.deleted, 0);
    CHECK_EQ_INT(info.chunks, mast_bm25_count(x) + 12);
    mast_bm25_free(y);
    mast_bm25_free(x);
    free(h1);
    mast_bm25_remove_files(path);
    CHECK_EQ_INT(count_files(dir, "x.tix"), 0);
    rmdir(dir);
    free(dir);
    mast_analyzer_free(a);
}

static void flip_byte(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return;
    fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_damaged_files_are_refused(void)
{
    char *dir = test_tmpdir();
    REQUIRE(dir != NULL);
    char path[512], seg[600];
    snprintf(path, sizeof path, "%s/d.tix", dir);
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, "none") == MAST_OK);
    int64_t n_del;
    mast_bm25 *x = build_corpus(a, 1, &n_del), *y = NULL;
    REQUIRE(x != NULL);
    CHECK_EQ_INT(mast_bm25_open(path, NULL, &y, NULL, NULL), MAST_ERR_NOT_FOUND);
    REQUIRE(mast_bm25_save(x, path, 1, "none") == MAST_OK);
    snprintf(seg, sizeof seg, "%s-1", path);
    /* a flipped byte in the postings, then in the manifest */
    flip_byte(seg, 1000);
    CHECK_EQ_INT(mast_bm25_open(path, NULL, &y, NULL, NULL), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "d.tix-1") && strstr(mast_errmsg(), "checksum"));
    flip_byte(seg, 1000);
    REQUIRE(mast_bm25_open(path, NULL, &y, NULL, NULL) == MAST_OK);
    mast_bm25_free(y);
    flip_byte(path, 20);
    CHECK_EQ_INT(mast_bm25_open(path, NULL, &y, NULL, NULL), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "d.tix: checksum") != NULL);
    flip_byte(path, 20);
    /* a missing segment, a truncated manifest */
    REQUIRE(rename(seg, "/tmp/mast-test-moved-seg") == 0);
    CHECK_EQ_INT(mast_bm25_open(path, NULL, &y, NULL, NULL), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "d.tix-1") != NULL);
    unlink("/tmp/mast-test-moved-seg");
    REQUIRE(truncate(path, 50) == 0);
    CHECK_EQ_INT(mast_bm25_open(path, NULL, &y, NULL, NULL), MAST_ERR_FORMAT);
    CHECK(y == NULL);
    mast_bm25_free(x);
    mast_bm25_remove_files(path);
    rmdir(dir);
    free(dir);
    mast_analyzer_free(a);
}

int main(void)
{
    RUN(test_vbyte_round_trip);
    RUN(test_postings_round_trip);
    RUN(test_pruned_top_k_equals_exhaustive);
    RUN(test_title_weight_scores_equal_the_formula);
    RUN(test_index_survives_reopen_and_merges);
    RUN(test_damaged_files_are_refused);
    return test_summary();
}
