/* tests/data/test_vindex.c — the vector indexes: the flat index against a
** double-precision scan; HNSW recall against the flat index on random and
** clustered data for every metric and storage; deletes, filters, re-ranking,
** compaction, files (round trip, truncation, bit flips) and searches running
** while another thread adds. */
#include <pthread.h>
#include <unistd.h>

#include "data/vindex/distance.h"
#include "data/vindex/fvecs.h"
#include "data/vindex/vindex.h"
#include "data/vindex/vindex_impl.h"
#include "test.h"

static uint64_t rng = 11;

static float frand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2 - 1;
}

/* n vectors of dim: uniform, or around 20 centres (clustered) */
static float *make_data(size_t n, int dim, int clustered)
{
    float *x = malloc(n * (size_t)dim * sizeof *x), centres[20][64];
    for (int c = 0; c < 20; c++)
        for (int d = 0; d < dim; d++)
            centres[c][d] = frand() * 3;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            x[i * (size_t)dim + (size_t)d] = clustered ? centres[i % 20][d] + frand() * 0.5f : frand();
    return x;
}

static int64_t *make_ids(size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)i * 7 + 1000;   /* not row numbers */
    return ids;
}

static mast_vindex *build(mast_vindex_type type, mast_metric metric, mast_vstore storage,
                          int dim, size_t n, const float *x, const int64_t *ids, mast_pool *pool)
{
    mast_vindex_params p = {type, metric, storage, dim, 16, 100, 7};
    mast_vindex *v;
    if (mast_vindex_create(&p, &v) != MAST_OK)
        return NULL;
    if (mast_vindex_add(v, pool, n, ids, x) != MAST_OK) {
        mast_vindex_free(v);
        return NULL;
    }
    return v;
}

typedef struct keep_mod {
    int64_t mod;
} keep_mod;

static bool keep_filter(void *ctx, int64_t id)
{
    const keep_mod *k = ctx;
    return (id / 7) % k->mod == 0;
}

/* mean recall@k of `v` against `exact` over nq queries */
static double recall(const mast_vindex *v, const mast_vindex *exact, const float *q, size_t nq,
                     int dim, size_t k, int ef, mast_vfilter filter, void *fctx)
{
    mast_vhit a[64], b[64];
    size_t na, nb, found = 0, total = 0;
    for (size_t i = 0; i < nq; i++) {
        mast_vsearch_opts o = {k, ef, filter, fctx, NULL, NULL, 0, NULL};
        mast_vsearch_opts oe = {k, 0, filter, fctx, NULL, NULL, 0, NULL};
        if (mast_vindex_search(v, q + i * (size_t)dim, &o, a, &na, NULL) != MAST_OK ||
            mast_vindex_search(exact, q + i * (size_t)dim, &oe, b, &nb, NULL) != MAST_OK)
            return -1;
        for (size_t x = 0; x < nb; x++)
            for (size_t y = 0; y < na; y++)
                found += a[y].id == b[x].id;
        total += nb;
    }
    return total ? (double)found / (double)total : 1.0;
}

static void test_flat_is_exact(void)
{
    int dim = 24;
    size_t n = 700;
    float *x = make_data(n, dim, 0), *q = make_data(5, dim, 0);
    int64_t *ids = make_ids(n);
    for (int m = 0; m < 3; m++) {
        mast_vindex *v = build(MAST_VINDEX_FLAT, (mast_metric)m, MAST_VSTORE_F32, dim, n, x, ids, NULL);
        REQUIRE(v);
        for (int t = 0; t < 5; t++) {
            const float *qq = q + t * dim;
            /* the best by a double-precision scan */
            double best = -INFINITY;
            int64_t best_id = -1;
            double qn = 0;
            for (int d = 0; d < dim; d++)
                qn += (double)qq[d] * qq[d];
            for (size_t i = 0; i < n; i++) {
                double dot = 0, l2 = 0, xn = 0;
                for (int d = 0; d < dim; d++) {
                    double a = qq[d], b = x[i * (size_t)dim + (size_t)d];
                    dot += a * b;
                    l2 += (a - b) * (a - b);
                    xn += b * b;
                }
                double s = m == MAST_METRIC_COS ? dot / sqrt(qn * xn) : m == MAST_METRIC_IP ? dot : -l2;
                if (s > best) {
                    best = s;
                    best_id = ids[i];
                }
            }
            mast_vhit h[3];
            size_t nh;
            mast_vsearch_opts o = {3, 0, NULL, NULL, NULL, NULL, 0, NULL};
            REQUIRE(mast_vindex_search(v, qq, &o, h, &nh, NULL) == MAST_OK);
            CHECK_EQ_INT(nh, 3);
            CHECK_EQ_INT(h[0].id, best_id);
            CHECK_NEAR(h[0].score, best, 1e-4 * (fabs(best) + 1));
            CHECK(h[0].score >= h[1].score && h[1].score >= h[2].score);
        }
        mast_vindex_free(v);
    }
    free(x); free(q); free(ids);
}

/* A flat scan split across a pool (16,384 nodes and up) returns what one
** thread returns, filtered or not. */
static void test_flat_scan_threads_match_one_thread(void)
{
    int dim = 16;
    size_t n = 20000;
    float *x = make_data(n + 20, dim, 1), *q = x + n * (size_t)dim;
    int64_t *ids = make_ids(n);
    mast_vindex *v = build(MAST_VINDEX_FLAT, MAST_METRIC_IP, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    REQUIRE(v);
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 3) == MAST_OK);
    keep_mod k = {3};
    int same = 1;
    for (size_t i = 0; i < 20; i++) {
        mast_vhit a[25], b[25];
        size_t na, nb;
        mast_vsearch_opts one = {25, 0, i % 2 ? keep_filter : NULL, &k, NULL, NULL, 0, NULL};
        mast_vsearch_opts many = one;
        many.pool = pool;
        REQUIRE(mast_vindex_search(v, q + i * (size_t)dim, &one, a, &na, NULL) == MAST_OK);
        REQUIRE(mast_vindex_search(v, q + i * (size_t)dim, &many, b, &nb, NULL) == MAST_OK);
        same &= na == 25 && nb == 25;
        for (size_t j = 0; j < na && j < nb; j++)
            same &= a[j].id == b[j].id && a[j].score == b[j].score;
    }
    CHECK(same);
    mast_pool_free(pool);
    mast_vindex_free(v);
    free(x);
    free(ids);
}

static void test_hnsw_recall_every_metric_and_storage(void)
{
    int dim = 32;
    size_t n = 4000, nq = 100;
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 2) == MAST_OK);
    for (int clustered = 0; clustered < 2; clustered++) {
        float *x = make_data(n + nq, dim, clustered), *q = x + n * (size_t)dim;
        int64_t *ids = make_ids(n);
        for (int m = 0; m < 3; m++) {
            mast_vindex *exact = build(MAST_VINDEX_FLAT, (mast_metric)m, MAST_VSTORE_F32, dim, n, x, ids, NULL);
            REQUIRE(exact);
            for (int s = 0; s < 3; s++) {
                mast_vindex *v = build(MAST_VINDEX_HNSW, (mast_metric)m, (mast_vstore)s, dim, n, x,
                                       ids, s == 1 ? NULL : pool);   /* one single-threaded build */
                REQUIRE(v);
                double r = recall(v, exact, q, nq, dim, 10, 64, NULL, NULL);
                fprintf(stderr, "  %s %s %s: recall@10 %.3f\n", clustered ? "clustered" : "uniform",
                        mast_metric_name((mast_metric)m), mast_vstore_name((mast_vstore)s), r);
                /* 8-bit codes lose some on tight clusters without re-ranking */
                CHECK(r >= (s == MAST_VSTORE_INT8 ? 0.8 : 0.95));
                CHECK_EQ_INT(mast_vindex_count(v), n);
                mast_vindex_free(v);
            }
            mast_vindex_free(exact);
        }
        free(x); free(ids);
    }
    mast_pool_free(pool);
}

typedef struct rows {
    const float *x;
    int dim;
} rows;

static bool get_row(void *ctx, int64_t id, float *out)
{
    const rows *r = ctx;
    memcpy(out, r->x + (size_t)((id - 1000) / 7) * (size_t)r->dim, (size_t)r->dim * sizeof *out);
    return true;
}

static void test_int8_with_reranking_matches_exact(void)
{
    int dim = 32;
    size_t n = 4000, nq = 100;
    float *x = make_data(n + nq, dim, 1), *q = x + n * (size_t)dim;
    int64_t *ids = make_ids(n);
    mast_vindex *exact = build(MAST_VINDEX_FLAT, MAST_METRIC_COS, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    mast_vindex *v = build(MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_INT8, dim, n, x, ids, NULL);
    REQUIRE(exact && v);
    rows r = {x, dim};
    size_t found = 0;
    for (size_t i = 0; i < nq; i++) {
        mast_vhit a[10], b[10];
        size_t na, nb;
        mast_vsearch_opts o = {10, 64, NULL, NULL, get_row, &r, 40, NULL};
        mast_vsearch_opts oe = {10, 0, NULL, NULL, NULL, NULL, 0, NULL};
        REQUIRE(mast_vindex_search(v, q + i * (size_t)dim, &o, a, &na, NULL) == MAST_OK);
        REQUIRE(mast_vindex_search(exact, q + i * (size_t)dim, &oe, b, &nb, NULL) == MAST_OK);
        for (size_t s = 0; s < nb; s++)
            for (size_t t = 0; t < na; t++)
                found += a[t].id == b[s].id;
        if (i == 0 && na && nb && a[0].id == b[0].id)   /* re-ranked scores are exact */
            CHECK_NEAR(a[0].score, b[0].score, 1e-5);
    }
    double rc = (double)found / (double)(nq * 10);
    fprintf(stderr, "  int8 + re-ranking: recall@10 %.3f; memory %zu vs f32 flat %zu bytes\n", rc,
            mast_vindex_memory(v), mast_vindex_memory(exact));
    CHECK(rc >= 0.95);
    mast_vindex_free(v);
    mast_vindex_free(exact);
    free(x); free(ids);
}

static void test_deleted_never_returned_and_compaction(void)
{
    int dim = 16;
    size_t n = 3000;
    float *x = make_data(n, dim, 1);
    int64_t *ids = make_ids(n);
    mast_vindex *v = build(MAST_VINDEX_HNSW, MAST_METRIC_L2, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    REQUIRE(v);
    for (size_t i = 0; i < n; i += 2)   /* half of them */
        REQUIRE(mast_vindex_delete(v, ids[i]) == MAST_OK);
    CHECK_EQ_INT(mast_vindex_delete(v, ids[0]), MAST_ERR_NOT_FOUND);
    CHECK_EQ_INT(mast_vindex_delete(v, 5), MAST_ERR_NOT_FOUND);
    CHECK_EQ_INT(mast_vindex_count(v), n / 2);
    CHECK(!mast_vindex_contains(v, ids[0]) && mast_vindex_contains(v, ids[1]));
    int clean = 1;
    for (size_t i = 0; i < 200; i++) {
        mast_vhit h[10];
        size_t nh;
        mast_vsearch_opts o = {10, 50, NULL, NULL, NULL, NULL, 0, NULL};
        REQUIRE(mast_vindex_search(v, x + i * (size_t)dim, &o, h, &nh, NULL) == MAST_OK);
        clean &= nh == 10;
        for (size_t j = 0; j < nh; j++)
            clean &= ((h[j].id - 1000) / 7) % 2 == 1;
        if (i % 2 == 1)   /* a live vector finds itself */
            clean &= h[0].id == ids[i];
    }
    CHECK(clean);
    /* re-adding a deleted id is allowed; a live one is refused */
    CHECK_EQ_INT(mast_vindex_add(v, NULL, 1, &ids[1], x), MAST_ERR_INVALID);
    REQUIRE(mast_vindex_add(v, NULL, 1, &ids[0], x) == MAST_OK);
    CHECK(mast_vindex_contains(v, ids[0]));
    REQUIRE(mast_vindex_compact(v, NULL) == MAST_OK);
    CHECK_EQ_INT(mast_vindex_deleted(v), 0);
    CHECK_EQ_INT(mast_vindex_count(v), n / 2 + 1);
    mast_vindex *exact = build(MAST_VINDEX_FLAT, MAST_METRIC_L2, MAST_VSTORE_F32, dim, 0, x, ids, NULL);
    REQUIRE(exact);
    for (size_t i = 1; i < n; i += 2)
        REQUIRE(mast_vindex_add(exact, NULL, 1, &ids[i], x + i * (size_t)dim) == MAST_OK);
    REQUIRE(mast_vindex_add(exact, NULL, 1, &ids[0], x) == MAST_OK);
    double r = recall(v, exact, x + 1, 100, dim, 10, 64, NULL, NULL);
    fprintf(stderr, "  after compaction: recall@10 %.3f\n", r);
    CHECK(r >= 0.95);
    mast_vindex_free(exact);
    mast_vindex_free(v);
    free(x); free(ids);
}

static void test_filters_honoured_at_every_selectivity(void)
{
    int dim = 24;
    size_t n = 6000, nq = 50;
    float *x = make_data(n + nq, dim, 1), *q = x + n * (size_t)dim;
    int64_t *ids = make_ids(n);
    mast_vindex *v = build(MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    mast_vindex *exact = build(MAST_VINDEX_FLAT, MAST_METRIC_COS, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    REQUIRE(v && exact);
    int64_t mods[] = {2, 10, 100};   /* 50%, 10%, 1% */
    for (int i = 0; i < 3; i++) {
        keep_mod k = {mods[i]};
        int honoured = 1, brute = 0;
        for (size_t t = 0; t < nq; t++) {
            mast_vhit h[10];
            size_t nh;
            mast_vsearch_stats st;
            mast_vsearch_opts o = {10, 64, keep_filter, &k, NULL, NULL, 0, NULL};
            REQUIRE(mast_vindex_search(v, q + t * (size_t)dim, &o, h, &nh, &st) == MAST_OK);
            honoured &= nh == 10;
            for (size_t j = 0; j < nh; j++)
                honoured &= keep_filter(&k, h[j].id);
            brute += st.brute_force;
        }
        double r = recall(v, exact, q, nq, dim, 10, 64, keep_filter, &k);
        fprintf(stderr, "  filter keeping 1/%lld: recall@10 %.3f, scanned %d of %zu\n",
                (long long)mods[i], r, brute, nq);
        CHECK(honoured);
        CHECK(r >= 0.95);
        if (mods[i] == 100)
            CHECK(brute == (int)nq);   /* 60 of 6,000 kept: a scan */
        if (mods[i] == 2)
            CHECK(brute == 0);
    }
    mast_vindex_free(v);
    mast_vindex_free(exact);
    free(x); free(ids);
}

static char tmp_path[256];

static void test_files_round_trip_and_damage_is_detected(void)
{
    int dim = 20;
    size_t n = 1500;
    float *x = make_data(n, dim, 1);
    int64_t *ids = make_ids(n);
    snprintf(tmp_path, sizeof tmp_path, "/tmp/mast-test-vindex-%d.vix", (int)getpid());
    for (int s = 0; s < 3; s++) {
        mast_vindex *v = build(MAST_VINDEX_HNSW, MAST_METRIC_IP, (mast_vstore)s, dim, n, x, ids, NULL);
        REQUIRE(v);
        REQUIRE(mast_vindex_delete(v, ids[3]) == MAST_OK);
        REQUIRE(mast_vindex_save(v, tmp_path, 77) == MAST_OK);
        mast_vindex *w;
        uint64_t dv = 0;
        REQUIRE(mast_vindex_open(tmp_path, &w, &dv) == MAST_OK);
        CHECK_EQ_INT(dv, 77);
        CHECK_EQ_INT(mast_vindex_count(w), n - 1);
        int same = 1;
        for (size_t i = 0; i < 50; i++) {
            mast_vhit a[10], b[10];
            size_t na, nb;
            mast_vsearch_opts o = {10, 40, NULL, NULL, NULL, NULL, 0, NULL};
            REQUIRE(mast_vindex_search(v, x + i * (size_t)dim, &o, a, &nb, NULL) == MAST_OK);
            REQUIRE(mast_vindex_search(w, x + i * (size_t)dim, &o, b, &na, NULL) == MAST_OK);
            same &= na == nb;
            for (size_t j = 0; j < na && j < nb; j++)
                same &= a[j].id == b[j].id && a[j].score == b[j].score;
        }
        CHECK(same);
        /* an opened index changes on a private copy */
        REQUIRE(mast_vindex_delete(w, ids[4]) == MAST_OK);
        REQUIRE(mast_vindex_add(w, NULL, 1, &(int64_t){-1}, x) == MAST_OK);
        CHECK(mast_vindex_contains(w, -1) && !mast_vindex_contains(w, ids[4]));
        mast_vindex_free(w);
        mast_vindex_free(v);
    }
    /* damage: every truncation, and bit flips across the file */
    FILE *f = fopen(tmp_path, "rb");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size);
    REQUIRE(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    char bad[300];
    snprintf(bad, sizeof bad, "%s.bad", tmp_path);
    int refused = 1;
    for (long cut = 0; cut < size; cut += size / 97 + 1) {
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)cut, f);
        fclose(f);
        mast_vindex *w;
        mast_status st = mast_vindex_open(bad, &w, NULL);
        if (st != MAST_ERR_FORMAT)
            fprintf(stderr, "  a cut at %ld of %ld: status %d\n", cut, size, (int)st);
        refused &= st == MAST_ERR_FORMAT;
    }
    for (long at = 0; at < size; at += size / 89 + 1) {
        bytes[at] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        bytes[at] ^= 0x10;
        mast_vindex *w = NULL;
        mast_status st = mast_vindex_open(bad, &w, NULL);
        if (st == MAST_OK) {
            fprintf(stderr, "  a flip at byte %ld of %ld was not detected\n", at, size);
            mast_vindex_free(w);
        }
        refused &= st == MAST_ERR_FORMAT;
    }
    CHECK(refused);
    CHECK_EQ_INT(mast_vindex_open("/nonexistent/x.vix", &(mast_vindex *){NULL}, NULL), MAST_ERR_NOT_FOUND);
    unlink(bad);
    unlink(tmp_path);
    free(bytes);
    free(x); free(ids);
}

/* Files whose checksum is right but whose content lies (the fuzzer found the
** first): opened without the checksum, they must still be refused. */
static void test_structural_lies_are_refused(void)
{
    int dim = 8;
    size_t n = 300;
    float *x = make_data(n, dim, 0);
    int64_t *ids = make_ids(n);
    mast_vindex *v = build(MAST_VINDEX_HNSW, MAST_METRIC_L2, MAST_VSTORE_F32, dim, n, x, ids, NULL);
    REQUIRE(v);
    char path[256];
    snprintf(path, sizeof path, "/tmp/mast-test-lies-%d.vix", (int)getpid());
    REQUIRE(mast_vindex_save(v, path, 1) == MAST_OK);
    uint32_t entry = atomic_load(&v->entry);
    mast_vindex_free(v);
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    unsigned char *b = malloc(1 << 20);
    size_t size = fread(b, 1, 1 << 20, f);
    fclose(f);
    unlink(path);
    mast_mapped m = {b, size};
    mast_vindex *w;
    REQUIRE(vindex_open_bytes(m, "lies.vix", 0, &w, NULL) == MAST_OK);   /* as written */
    mast_vindex_free(w);
    size_t deleted_at = 256 + (n * 8 + 63) / 64 * 64, level_at = deleted_at + (n + 63) / 64 * 64;
    b[deleted_at + 5] = 1;   /* a tombstone the header does not count */
    CHECK_EQ_INT(vindex_open_bytes(m, "lies.vix", 0, &w, NULL), MAST_ERR_FORMAT);
    b[deleted_at + 5] = 0;
    b[level_at + entry] = 0;   /* the entry point loses its upper levels */
    CHECK_EQ_INT(vindex_open_bytes(m, "lies.vix", 0, &w, NULL), MAST_ERR_FORMAT);
    free(b);
    free(x);
    free(ids);
}

static void test_fvecs_round_trip_and_damage(void)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/mast-test-%d.fvecs", (int)getpid());
    float x[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    REQUIRE(mast_fvecs_write(path, x, 3, 4) == MAST_OK);
    float *y;
    size_t n;
    int dim;
    REQUIRE(mast_fvecs_read(path, &y, &n, &dim) == MAST_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(dim, 4);
    CHECK(memcmp(x, y, sizeof x) == 0);
    free(y);
    /* a row of another dimension: named by its number */
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    int32_t five = 5;
    fseek(f, 2 * (4 + 4 * 4), SEEK_SET);
    fwrite(&five, 4, 1, f);
    fclose(f);
    CHECK_EQ_INT(mast_fvecs_read(path, &y, &n, &dim), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "row 2 has dimension 5") != NULL);
    /* a file ending inside a row */
    REQUIRE(mast_fvecs_write(path, x, 3, 4) == MAST_OK);
    REQUIRE(truncate(path, 2 * (4 + 4 * 4) + 7) == 0);
    CHECK_EQ_INT(mast_fvecs_read(path, &y, &n, &dim), MAST_ERR_FORMAT);
    CHECK(strstr(mast_errmsg(), "not a whole number") != NULL);
    unlink(path);
    CHECK_EQ_INT(mast_fvecs_read(path, &y, &n, &dim), MAST_ERR_NOT_FOUND);
    /* an index cannot be saved where no file can be made, and says where */
    mast_vindex_params p = {MAST_VINDEX_FLAT, MAST_METRIC_L2, MAST_VSTORE_F32, 4, 0, 0, 0};
    mast_vindex *v;
    REQUIRE(mast_vindex_create(&p, &v) == MAST_OK);
    CHECK_EQ_INT(mast_vindex_save(v, "/nonexistent/dir/x.vix", 1), MAST_ERR_IO);
    CHECK(strstr(mast_errmsg(), "/nonexistent/dir/x.vix") != NULL);
    mast_vindex_free(v);
}

static void test_bad_input_is_refused_untouched(void)
{
    mast_vindex_params p = {MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_F32, 4, 0, 0, 0};
    mast_vindex *v;
    REQUIRE(mast_vindex_create(&p, &v) == MAST_OK);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, nan[4] = {1, NAN, 0, 0};
    int64_t dup[2] = {9, 9}, one = 1;
    CHECK_EQ_INT(mast_vindex_add(v, NULL, 2, dup, x), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_vindex_add(v, NULL, 1, &one, nan), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_vindex_count(v), 0);
    mast_vhit h[1];
    size_t nh = 5;
    mast_vsearch_opts o = {1, 0, NULL, NULL, NULL, NULL, 0, NULL};
    REQUIRE(mast_vindex_search(v, x, &o, h, &nh, NULL) == MAST_OK);
    CHECK_EQ_INT(nh, 0);
    mast_vindex_free(v);
    p.dim = 0;
    CHECK_EQ_INT(mast_vindex_create(&p, &v), MAST_ERR_INVALID);
    mast_metric m;
    CHECK_EQ_INT(mast_metric_parse("hamming", &m), MAST_ERR_INVALID);
}

typedef struct reader {
    mast_vindex *v;
    const float *q;
    int dim;
    volatile int *stop;
    int bad, searches;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    while (!*r->stop) {
        mast_vhit h[10];
        size_t nh;
        mast_vsearch_opts o = {10, 32, NULL, NULL, NULL, NULL, 0, NULL};
        if (mast_vindex_search(r->v, r->q + (size_t)(r->searches % 50) * (size_t)r->dim, &o, h,
                               &nh, NULL) != MAST_OK)
            r->bad++;
        for (size_t i = 0; i < nh; i++)
            r->bad += h[i].id < 1000 || (h[i].id - 1000) % 7 != 0;
        r->searches++;
    }
    return NULL;
}

static void test_searches_while_another_thread_adds(void)
{
    int dim = 16;
    size_t n = 4000;
    float *x = make_data(n, dim, 1);
    int64_t *ids = make_ids(n);
    mast_vindex_params p = {MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_F32, dim, 8, 40, 3};
    mast_vindex *v;
    REQUIRE(mast_vindex_create(&p, &v) == MAST_OK);
    volatile int stop = 0;
    reader r[2] = {{v, x, dim, &stop, 0, 0}, {v, x + 50 * dim, dim, &stop, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, read_loop, &r[i]);
    for (size_t i = 0; i < n; i += 100)   /* batches, growing the arrays as they go */
        REQUIRE(mast_vindex_add(v, NULL, 100, ids + i, x + i * (size_t)dim) == MAST_OK);
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "  %d searches ran during the adds\n", r[0].searches + r[1].searches);
    CHECK(r[0].bad == 0 && r[1].bad == 0);
    CHECK(r[0].searches + r[1].searches > 0);
    CHECK_EQ_INT(mast_vindex_count(v), n);
    mast_vindex_free(v);
    free(x); free(ids);
}

static void test_f16_conversion_round_trips(void)
{
    /* every half value converts to float and back to itself (NaNs stay NaNs) */
    int ok = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mast_vf16_to_f32((uint16_t)h);
        uint16_t back = mast_vf32_to_f16(f);
        ok &= isnan(f) ? (back & 0x7c00) == 0x7c00 && (back & 0x3ff) : back == h;
    }
    CHECK(ok);
    CHECK(mast_vf16_to_f32(mast_vf32_to_f16(1.0f / 3)) == 0.333251953125f);
    CHECK(mast_vf32_to_f16(1e6f) == 0x7c00);
}

int main(void)
{
    RUN(test_flat_is_exact);
    RUN(test_flat_scan_threads_match_one_thread);
    RUN(test_hnsw_recall_every_metric_and_storage);
    RUN(test_int8_with_reranking_matches_exact);
    RUN(test_deleted_never_returned_and_compaction);
    RUN(test_filters_honoured_at_every_selectivity);
    RUN(test_files_round_trip_and_damage_is_detected);
    RUN(test_structural_lies_are_refused);
    RUN(test_fvecs_round_trip_and_damage);
    RUN(test_bad_input_is_refused_untouched);
    RUN(test_searches_while_another_thread_adds);
    RUN(test_f16_conversion_round_trips);
    return test_summary();
}
