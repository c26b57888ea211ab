/*
** cli/vindex.c — `mast vindex build|search|info`: vector indexes over raw
** .fvecs files, so that anyone can reproduce the ANN benchmarks.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/pool.h"
#include "base/progress.h"
#include "base/status.h"
#include "cli/cli.h"
#include "data/vindex/fvecs.h"
#include "data/vindex/vindex.h"

static const char vindex_help[] =
    "Usage: mast vindex build --input BASE.fvecs -o INDEX [options]\n"
    "       mast vindex search --index INDEX --queries Q.fvecs [options]\n"
    "       mast vindex info INDEX [--json]\n"
    "\n"
    "Builds and searches vector indexes over raw vectors in the .fvecs format of the ANN\n"
    "benchmark sets (per vector an int32 dimension, then the float32 values). Ids are the\n"
    "0-based row numbers of BASE.\n"
    "\n"
    "build options:\n"
    "  --input FILE            the vectors (.fvecs)\n"
    "  -o, --output INDEX      the index file to write\n"
    "  --metric cos|ip|l2      similarity (default cos; 'angular' = cos)\n"
    "  --type hnsw|flat        graph index or exact scan (default hnsw)\n"
    "  --m N                   HNSW links per node, 2N at level 0 (default 16)\n"
    "  --ef-construction N     HNSW build beam (default 200)\n"
    "  --storage f32|f16|int8  how vectors are held (default f32; int8 = 4x smaller, pair it\n"
    "                          with --rerank at search time)\n"
    "  -t, --threads N         build threads (default: number of CPUs)\n"
    "\n"
    "search options:\n"
    "  --index INDEX           an index written by 'mast vindex build'\n"
    "  --queries FILE          query vectors (.fvecs)\n"
    "  -k N                    results per query (default 10)\n"
    "  --ef N                  HNSW search beam (default max(k, 64))\n"
    "  --rerank BASE.fvecs     re-score the best candidates with these full-precision vectors\n"
    "  --rerank-k N            candidates to re-score (default 4k)\n"
    "  -t, --threads N         queries in parallel (default 1)\n"
    "  --json                  print {\"ids\": [[...], ...], \"qps\": ..., \"seconds\": ...,\n"
    "                          \"distances_per_query\": ...}; else one line of ids per query\n";

static int parse_enum(const char *cmd, const char *opt, mast_status st)
{
    if (st == MAST_OK)
        return 1;
    cli_usage(cmd, "%s: %s", opt, mast_errmsg());
    return 0;
}

static int vindex_build(int argc, char **argv)
{
    enum { OPT_INPUT = 256, OPT_METRIC, OPT_TYPE, OPT_M, OPT_EFC, OPT_STORAGE };
    static const struct option options[] = {
        {"input", required_argument, NULL, OPT_INPUT},   {"output", required_argument, NULL, 'o'},
        {"metric", required_argument, NULL, OPT_METRIC}, {"type", required_argument, NULL, OPT_TYPE},
        {"m", required_argument, NULL, OPT_M},           {"ef-construction", required_argument, NULL, OPT_EFC},
        {"storage", required_argument, NULL, OPT_STORAGE}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
    };
    const char *input = NULL, *out = NULL;
    mast_vindex_params p = {MAST_VINDEX_HNSW, MAST_METRIC_COS, MAST_VSTORE_F32, 0, 16, 200, 42};
    long m = 16, efc = 200, threads = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:h", options, NULL)) != -1) {
        switch (c) {
        case OPT_INPUT: input = optarg; break;
        case 'o': out = optarg; break;
        case OPT_METRIC:
            if (!parse_enum("vindex build", "--metric", mast_metric_parse(optarg, &p.metric)))
                return EXIT_USAGE;
            break;
        case OPT_STORAGE:
            if (!parse_enum("vindex build", "--storage", mast_vstore_parse(optarg, &p.storage)))
                return EXIT_USAGE;
            break;
        case OPT_TYPE:
            if (strcmp(optarg, "hnsw") == 0)
                p.type = MAST_VINDEX_HNSW;
            else if (strcmp(optarg, "flat") == 0)
                p.type = MAST_VINDEX_FLAT;
            else
                return cli_usage("vindex build", "--type must be hnsw or flat");
            break;
        case OPT_M:
            if (!cli_parse_int("vindex build", "--m", optarg, 2, 128, &m))
                return EXIT_USAGE;
            break;
        case OPT_EFC:
            if (!cli_parse_int("vindex build", "--ef-construction", optarg, 1, 10000, &efc))
                return EXIT_USAGE;
            break;
        case 't':
            if (!cli_parse_int("vindex build", "--threads", optarg, 1, 1024, &threads))
                return EXIT_USAGE;
            break;
        case 'h': fputs(vindex_help, stdout); return 0;
        default: return cli_bad_option("vindex build", argv);
        }
    }
    if (!input || !out || optind != argc)
        return cli_usage("vindex build", "expected --input BASE.fvecs -o INDEX");
    p.m = (int)m;
    p.ef_construction = (int)efc;
    float *vecs;
    size_t n;
    mast_status st = mast_fvecs_read(input, &vecs, &n, &p.dim);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_vindex *v = NULL;
    mast_pool *pool = NULL;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    st = ids ? mast_vindex_create(&p, &v) : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK)
        st = mast_pool_create(&pool, (int)threads);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int64_t)i;
    int64_t t0 = mast_mono_us();
    mast_progress bar;
    mast_progress_begin(&bar, "indexing", n);
    for (size_t done = 0; st == MAST_OK && done < n;) {   /* in slices, for the progress bar */
        size_t take = n - done < 20000 ? n - done : 20000;
        st = mast_vindex_add(v, pool, take, ids + done, vecs + done * (size_t)p.dim);
        done += take;
        mast_progress_update(&bar, done);
    }
    mast_progress_end(&bar);
    double secs = (double)(mast_mono_us() - t0) / 1e6;
    if (st == MAST_OK)
        st = mast_vindex_save(v, out, 0);
    if (st == MAST_OK)
        fprintf(stderr, "indexed %zu vectors of %d dimensions (%s, %s, %s) in %.2f s; %.1f MB in memory\n",
                n, p.dim, p.type == MAST_VINDEX_HNSW ? "hnsw" : "flat", mast_metric_name(p.metric),
                mast_vstore_name(p.storage), secs, (double)mast_vindex_memory(v) / 1e6);
    mast_vindex_free(v);
    mast_pool_free(pool);
    free(ids);
    free(vecs);
    return st == MAST_OK ? 0 : cli_fail(st);
}

typedef struct rows {
    const float *x;
    size_t n;
    int dim;
} rows;

static bool get_row(void *ctx, int64_t id, float *out)
{
    const rows *r = ctx;
    if (id < 0 || (size_t)id >= r->n)
        return false;
    memcpy(out, r->x + (size_t)id * (size_t)r->dim, (size_t)r->dim * sizeof *out);
    return true;
}

typedef struct search_job {
    const mast_vindex *v;
    const float *q;
    int dim;
    mast_vsearch_opts o;
    mast_vhit *hits;
    size_t *n_hits;
    uint64_t *dists;
    mast_status st;
} search_job;

static void search_range(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    search_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        mast_vsearch_stats s;
        mast_status st = mast_vindex_search(j->v, j->q + i * (size_t)j->dim, &j->o,
                                            j->hits + i * j->o.k, &j->n_hits[i], &s);
        j->dists[i] = s.distances;
        if (st != MAST_OK)
            j->st = st;
    }
}

static int vindex_search(int argc, char **argv)
{
    enum { OPT_INDEX = 256, OPT_QUERIES, OPT_EF, OPT_JSON, OPT_RERANK, OPT_RERANK_K };
    static const struct option options[] = {
        {"index", required_argument, NULL, OPT_INDEX}, {"queries", required_argument, NULL, OPT_QUERIES},
        {"ef", required_argument, NULL, OPT_EF},       {"json", no_argument, NULL, OPT_JSON},
        {"rerank", required_argument, NULL, OPT_RERANK}, {"rerank-k", required_argument, NULL, OPT_RERANK_K},
        {"threads", required_argument, NULL, 't'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *index = NULL, *queries = NULL, *rerank = NULL;
    long k = 10, ef = 0, threads = 1, rerank_k = 0;
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:t:h", options, NULL)) != -1) {
        switch (c) {
        case OPT_INDEX: index = optarg; break;
        case OPT_QUERIES: queries = optarg; break;
        case OPT_RERANK: rerank = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'k':
            if (!cli_parse_int("vindex search", "-k", optarg, 1, 10000, &k))
                return EXIT_USAGE;
            break;
        case OPT_EF:
            if (!cli_parse_int("vindex search", "--ef", optarg, 1, 100000, &ef))
                return EXIT_USAGE;
            break;
        case OPT_RERANK_K:
            if (!cli_parse_int("vindex search", "--rerank-k", optarg, 1, 100000, &rerank_k))
                return EXIT_USAGE;
            break;
        case 't':
            if (!cli_parse_int("vindex search", "--threads", optarg, 1, 1024, &threads))
                return EXIT_USAGE;
            break;
        case 'h': fputs(vindex_help, stdout); return 0;
        default: return cli_bad_option("vindex search", argv);
        }
    }
    if (!index || !queries || optind != argc)
        return cli_usage("vindex search", "expected --index INDEX --queries Q.fvecs");
    mast_vindex *v = NULL;
    float *q = NULL, *base = NULL;
    size_t nq = 0, nb = 0;
    int dim = 0, bdim = 0;
    mast_status st = mast_vindex_open(index, &v, NULL);
    if (st == MAST_OK)
        st = mast_fvecs_read(queries, &q, &nq, &dim);
    if (st == MAST_OK && dim != mast_vindex_params_of(v)->dim)
        st = mast_fail(MAST_ERR_INVALID, "%s: queries have %d dimensions, the index %d", queries,
                       dim, mast_vindex_params_of(v)->dim);
    if (st == MAST_OK && rerank) {
        st = mast_fvecs_read(rerank, &base, &nb, &bdim);
        if (st == MAST_OK && bdim != dim)
            st = mast_fail(MAST_ERR_INVALID, "%s: %d dimensions, the index has %d", rerank, bdim, dim);
    }
    rows r = {base, nb, dim};
    mast_vhit *hits = malloc((nq ? nq : 1) * (size_t)k * sizeof *hits);
    size_t *n_hits = calloc(nq ? nq : 1, sizeof *n_hits);
    uint64_t *dists = calloc(nq ? nq : 1, sizeof *dists);
    mast_pool *pool = NULL;
    if (st == MAST_OK && (!hits || !n_hits || !dists))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && threads > 1)
        st = mast_pool_create(&pool, (int)threads);
    double secs = 0;
    if (st == MAST_OK) {
        search_job j = {v, q, dim, {(size_t)k, (int)ef, NULL, NULL, rerank ? get_row : NULL, &r,
                                    (size_t)rerank_k, NULL},
                        hits, n_hits, dists, MAST_OK};
        int64_t t0 = mast_mono_us();
        if (pool)
            mast_pool_for(pool, nq, search_range, &j);
        else
            search_range(&j, 0, nq, 0);
        secs = (double)(mast_mono_us() - t0) / 1e6;
        st = j.st;
    }
    if (st == MAST_OK) {
        uint64_t total = 0;
        for (size_t i = 0; i < nq; i++)
            total += dists[i];
        double qps = secs > 0 ? (double)nq / secs : 0, dpq = nq ? (double)total / (double)nq : 0;
        if (json) {
            json_t *all = json_array();
            for (size_t i = 0; i < nq; i++) {
                json_t *row = json_array();
                for (size_t h = 0; h < n_hits[i]; h++)
                    json_array_append_new(row, json_integer(hits[i * (size_t)k + h].id));
                json_array_append_new(all, row);
            }
            cli_print_json(json_pack("{s:o, s:f, s:f, s:f}", "ids", all, "qps", qps, "seconds",
                                     secs, "distances_per_query", dpq));
        } else {
            for (size_t i = 0; i < nq; i++) {
                for (size_t h = 0; h < n_hits[i]; h++)
                    printf(h ? " %lld" : "%lld", (long long)hits[i * (size_t)k + h].id);
                printf("\n");
            }
            fprintf(stderr, "%zu queries in %.3f s: %.0f queries/s, %.0f distances per query\n",
                    nq, secs, qps, dpq);
        }
    }
    mast_pool_free(pool);
    mast_vindex_free(v);
    free(q); free(base); free(hits); free(n_hits); free(dists);
    return st == MAST_OK ? 0 : cli_fail(st);
}

static int vindex_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(vindex_help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' || path)
            return cli_usage("vindex info", "expected INDEX [--json] (got '%s')", argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage("vindex info", "expected INDEX [--json]");
    mast_vindex *v;
    uint64_t dv;
    mast_status st = mast_vindex_open(path, &v, &dv);
    if (st != MAST_OK)
        return cli_fail(st);
    const mast_vindex_params *p = mast_vindex_params_of(v);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I}", "type",
                              p->type == MAST_VINDEX_HNSW ? "hnsw" : "flat", "metric",
                              mast_metric_name(p->metric), "storage", mast_vstore_name(p->storage),
                              "dim", p->dim, "count", (json_int_t)mast_vindex_count(v), "deleted",
                              (json_int_t)mast_vindex_deleted(v), "memory_bytes",
                              (json_int_t)mast_vindex_memory(v), "data_version", (json_int_t)dv);
        if (p->type == MAST_VINDEX_HNSW) {
            json_object_set_new(o, "m", json_integer(p->m));
            json_object_set_new(o, "ef_construction", json_integer(p->ef_construction));
        }
        cli_print_json(o);
    } else {
        printf("%s: %s index, metric %s, %s storage, %d dimensions\n"
               "%zu vectors, %zu deleted, %zu bytes in memory, data version %llu\n",
               path, p->type == MAST_VINDEX_HNSW ? "HNSW" : "flat (exact)",
               mast_metric_name(p->metric), mast_vstore_name(p->storage), p->dim,
               (size_t)mast_vindex_count(v), (size_t)mast_vindex_deleted(v),
               (size_t)mast_vindex_memory(v), (unsigned long long)dv);
        if (p->type == MAST_VINDEX_HNSW)
            printf("M %d, efConstruction %d\n", p->m, p->ef_construction);
    }
    mast_vindex_free(v);
    return 0;
}

int cmd_vindex(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(vindex_help, stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "build"))
        return vindex_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "search"))
        return vindex_search(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return vindex_info(argc - 1, argv + 1);
    return cli_usage("vindex", "unknown subcommand '%s' (build, search, info)", argv[1]);
}
