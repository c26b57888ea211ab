/*
** data/retrieve.c — the index cache and search (see retrieve.h).
*/
#include "data/retrieve.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "data/collection.h"
#include "data/vindex/vindex.h"

typedef struct index_ref {
    int64_t collection_id;
    int64_t version;
    mast_bm25 *bm25;
    /* dense: the chunk vectors (normalized at ingest) in a vector index, and
    ** each chunk's document (vchunk ascending, vdoc alongside) */
    mast_vindex *dense;
    int64_t *vchunk, *vdoc;
    size_t n_vec;
    int dim;
    mast_embedder *embedder;      /* the collection's model, for queries */
    int own_dim;                  /* > 0: the documents bring their own vectors */
    mast_metric metric;           /* of the dense index: cos for a model's vectors */
    char *language;               /* the collection's analyzer (NULL: English) */
    pthread_mutex_t embed_mu;     /* an embedder runs one call at a time */
    int refs;             /* holders: the cache (while current) + searches */
} index_ref;

struct mast_retriever {
    pthread_mutex_t mu;
    size_t hnsw_min;      /* vectors from which the dense index is HNSW */
    index_ref **entries;  /* the current index of each cached collection */
    size_t n_entries, cap_entries;
};

mast_status mast_retriever_create(mast_retriever **out)
{
    mast_retriever *r = calloc(1, sizeof *r);
    if (!r)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    r->hnsw_min = MAST_HNSW_MIN;
    *out = r;
    return MAST_OK;
}

static void unref(index_ref *ref)
{
    if (ref && --ref->refs == 0) {
        mast_bm25_free(ref->bm25);
        mast_vindex_free(ref->dense);
        free(ref->language);
        free(ref->vchunk);
        free(ref->vdoc);
        mast_embedder_free(ref->embedder);
        pthread_mutex_destroy(&ref->embed_mu);
        free(ref);
    }
}

typedef struct vec_ctx {
    index_ref *ref;
    float *vecs;              /* row i for ref->vchunk[i] */
    size_t cap_floats, cap_ids;
    int failed;
} vec_ctx;

static int vector_visit(void *ctx, int64_t chunk_id, int64_t doc_id, int dim, const float *v)
{
    vec_ctx *c = ctx;
    index_ref *r = c->ref;
    if (r->dim == 0)
        r->dim = dim;
    if (dim != r->dim)
        return 0;   /* a vector of another model (mid re-embedding): not searchable */
    size_t c2 = c->cap_ids;
    if (!mast_grow_array((void **)&r->vchunk, &c->cap_ids, r->n_vec + 1, sizeof *r->vchunk) ||
        !mast_grow_array((void **)&r->vdoc, &c2, r->n_vec + 1, sizeof *r->vdoc) ||
        !mast_grow_array((void **)&c->vecs, &c->cap_floats, (r->n_vec + 1) * (size_t)dim,
                         sizeof *c->vecs)) {
        c->failed = 1;
        return 1;
    }
    r->vchunk[r->n_vec] = chunk_id;
    r->vdoc[r->n_vec] = doc_id;
    memcpy(c->vecs + r->n_vec * (size_t)dim, v, (size_t)dim * sizeof *v);
    r->n_vec++;
    return 0;
}

/* Index files of the layout before the .idx folder (<db>-c<id>.tix and its
** segments, .vix, .lock): derived data, so simply removed. */
static void remove_legacy_files(const char *db, int64_t collection_id, const char *ext)
{
    mast_buf pattern = {0};
    glob_t g;
    if (mast_buf_printf(&pattern, "%s-c%lld.%s*", db, (long long)collection_id, ext) == MAST_OK &&
        glob(pattern.data, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    mast_buf_free(&pattern);
}

/* <db>.idx/c<id>.<ext>: a store is its database file and this one folder. The
** folder is made here when the store is writable. */
static char *index_path(mast_store *store, int64_t collection_id, const char *ext)
{
    const char *db = mast_store_path(store);
    if (!db || !*db || db[0] == ':')
        return NULL;
    mast_buf b = {0};
    if (mast_buf_printf(&b, "%s.idx", db) != MAST_OK) {
        mast_buf_free(&b);
        return NULL;
    }
    if (!mast_store_readonly(store)) {
        if (mkdir(b.data, 0755) != 0 && errno != EEXIST)
            mast_debug("%s: cannot create the index folder: %s", b.data, strerror(errno));
        remove_legacy_files(db, collection_id, ext);
    }
    if (mast_buf_printf(&b, "/c%lld.%s", (long long)collection_id, ext) != MAST_OK) {
        mast_buf_free(&b);
        return NULL;
    }
    return mast_buf_detach(&b);
}

char *mast_retrieve_vindex_path(mast_store *store, int64_t collection_id)
{
    return index_path(store, collection_id, "vix");
}

char *mast_retrieve_tindex_path(mast_store *store, int64_t collection_id)
{
    return index_path(store, collection_id, "tix");
}

/* Brings the collection's vector index up to the vectors in the store: the
** saved index (if it is one of these vectors' kind) gets the new chunks
** added and the vanished ones deleted, else a new index is built (exact
** below MAST_HNSW_MIN vectors, HNSW from there on); then it is saved for the
** next process. Returns how many vectors were added and deleted. */
static mast_status sync_dense(index_ref *ref, mast_store *store, const float *vecs,
                              int64_t version, size_t hnsw_min, size_t *added, size_t *deleted)
{
    *added = *deleted = 0;
    if (ref->n_vec == 0)
        return MAST_OK;
    char *path = mast_retrieve_vindex_path(store, ref->collection_id);
    int want_hnsw = ref->n_vec >= hnsw_min;
    mast_vindex *v = NULL;
    uint64_t file_version = 0;
    if (path) {
        mast_status st = mast_vindex_open(path, &v, &file_version);
        if (st == MAST_OK) {
            const mast_vindex_params *p = mast_vindex_params_of(v);
            if (p->dim != ref->dim || p->metric != ref->metric ||
                (want_hnsw && p->type != MAST_VINDEX_HNSW)) {
                mast_vindex_free(v);   /* another model, or grown past the exact scan */
                v = NULL;
            }
        } else if (st != MAST_ERR_NOT_FOUND) {
            mast_warn("%s; rebuilding the vector index from the database", mast_errmsg());
        }
    }
    mast_status st = MAST_OK;
    int fresh = v == NULL;
    if (!v) {
        mast_vindex_params p = {want_hnsw ? MAST_VINDEX_HNSW : MAST_VINDEX_FLAT, ref->metric,
                                MAST_VSTORE_F32, ref->dim, 16, 200, 42};
        st = mast_vindex_create(&p, &v);
    }
    mast_pool *pool = NULL;
    if (st == MAST_OK) {
        /* always compared with the store (the ids, not the file's version,
        ** decide): the ids (ascending) of the store and of the index */
        int64_t *have = NULL, *add_ids = NULL;
        size_t n_have = 0, n_add = 0;
        float *add_vecs = NULL;
        st = mast_vindex_ids(v, &have, &n_have);
        if (st == MAST_OK)
            qsort(have, n_have, sizeof *have, mast_cmp_i64);
        for (size_t i = 0; st == MAST_OK && i < n_have; i++)
            if (!bsearch(&have[i], ref->vchunk, ref->n_vec, sizeof *ref->vchunk, mast_cmp_i64)) {
                st = mast_vindex_delete(v, have[i]);
                (*deleted)++;
            }
        if (st == MAST_OK && !(add_ids = malloc(ref->n_vec * sizeof *add_ids)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        if (st == MAST_OK && !(add_vecs = malloc(ref->n_vec * (size_t)ref->dim * sizeof *add_vecs)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == MAST_OK && i < ref->n_vec; i++) {
            if (bsearch(&ref->vchunk[i], have, n_have, sizeof *have, mast_cmp_i64))
                continue;
            add_ids[n_add] = ref->vchunk[i];
            memcpy(add_vecs + n_add * (size_t)ref->dim, vecs + i * (size_t)ref->dim,
                   (size_t)ref->dim * sizeof *vecs);
            n_add++;
        }
        if (st == MAST_OK && n_add > 1000)
            st = mast_pool_create(&pool, 0);
        if (st == MAST_OK)
            st = mast_vindex_add(v, pool, n_add, add_ids, add_vecs);
        *added = n_add;
        /* tombstones cost search time: past a fifth, rebuild without them */
        if (st == MAST_OK && mast_vindex_deleted(v) * 4 > mast_vindex_count(v))
            st = mast_vindex_compact(v, pool);
        free(have);
        free(add_ids);
        free(add_vecs);
    }
    if (st == MAST_OK && path && !mast_store_readonly(store) &&
        (fresh || *added || *deleted || file_version != (uint64_t)version)) {
        mast_status saved = mast_vindex_save(v, path, (uint64_t)version);
        if (saved != MAST_OK)
            mast_warn("%s (the index stays in memory)", mast_errmsg());
    }
    mast_pool_free(pool);
    free(path);
    if (st != MAST_OK) {
        mast_vindex_free(v);
        return st;
    }
    ref->dense = v;
    return MAST_OK;
}

void mast_retriever_set_hnsw_min(mast_retriever *r, size_t n)
{
    pthread_mutex_lock(&r->mu);
    r->hnsw_min = n;
    pthread_mutex_unlock(&r->mu);
}

void mast_retriever_free(mast_retriever *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_entries; i++)
        unref(r->entries[i]);
    free(r->entries);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

mast_status mast_collection_delete(mast_retriever *r, mast_store *store, const char *name)
{
    int64_t id;
    MAST_TRY(mast_store_collection_find(store, name, &id));
    MAST_TRY(mast_store_collection_delete(store, id));
    /* derived data goes after the rows: a crash between leaves only files, which a
    ** later collection with the same id never trusts (their data version differs) */
    char *tix = mast_retrieve_tindex_path(store, id), *vix = mast_retrieve_vindex_path(store, id);
    if (tix) {
        mast_bm25_remove_files(tix);
        mast_buf lock = {0};
        if (mast_buf_printf(&lock, "%s.lock", tix) == MAST_OK)
            unlink(lock.data);
        mast_buf_free(&lock);
    }
    if (vix)
        unlink(vix);
    free(tix);
    free(vix);
    if (r) {
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->n_entries; i++)
            if (r->entries[i]->collection_id == id) {
                unref(r->entries[i]);
                r->entries[i] = r->entries[--r->n_entries];
                break;
            }
        pthread_mutex_unlock(&r->mu);
    }
    return MAST_OK;
}

typedef struct build_ctx {
    mast_bm25 *bm25;
    mast_analyzer *analyzer;
    mast_buf title;
    mast_status st;
    size_t n;
} build_ctx;

static int build_visit(void *ctx, const mast_chunk_row *row)
{
    build_ctx *b = ctx;
    mast_buf_clear(&b->title);
    b->st = mast_buf_printf(&b->title, "%s\n%s", row->title, row->heading);
    /* a document that is only a title keeps it as its chunk's text (to show it),
    ** but its words count once, in the title field */
    const char *body = strcmp(row->text, row->title) == 0 && !*row->heading ? "" : row->text;
    if (b->st == MAST_OK)
        b->st = mast_bm25_add(b->bm25, b->analyzer, row->chunk_id, row->doc_id, b->title.data,
                              b->title.len, body, strlen(body));
    b->n++;
    return b->st != MAST_OK;
}

typedef struct live_diff {
    const int64_t *ids;   /* the store's, ascending */
    size_t n;
    int64_t *gone;
    size_t n_gone, cap_gone;
    int failed;
} live_diff;

static int live_visit(void *ctx, int64_t chunk_id)
{
    live_diff *l = ctx;
    if (bsearch(&chunk_id, l->ids, l->n, sizeof *l->ids, mast_cmp_i64))
        return 0;
    if (!mast_grow_array((void **)&l->gone, &l->cap_gone, l->n_gone + 1, sizeof *l->gone)) {
        l->failed = 1;
        return 1;
    }
    l->gone[l->n_gone++] = chunk_id;
    return 0;
}

/* Serializes the processes that update one collection's index files. */
static int lock_files(const char *path)
{
    if (!path)
        return -1;
    mast_buf b = {0};
    int fd = -1;
    if (mast_buf_printf(&b, "%s.lock", path) == MAST_OK)
        fd = open(b.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    mast_buf_free(&b);
    if (fd >= 0)
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    return fd;   /* unlocked without the lock (read-only folder): updates may race, never corrupt */
}

static void unlock_files(int fd)
{
    if (fd >= 0)
        close(fd);   /* releases the lock */
}

/* Brings the collection's BM25 index up to the store: the saved files are
** opened (a damaged or missing one is rebuilt with a warning), vanished
** chunks are deleted, chunks above the index's largest id are added, merges
** run and the files are saved for the next process. A database without a
** path builds in memory. */
static mast_status sync_sparse(mast_store *store, int64_t collection_id, const char *language,
                               int64_t version, int optimize, mast_trace *trace, mast_bm25 **out)
{
    *out = NULL;
    mast_trace_span_begin(trace, "index.build_text");
    const char *tag = language ? language : "english";
    char *path = mast_retrieve_tindex_path(store, collection_id);
    int lock = mast_store_readonly(store) ? -1 : lock_files(path);
    build_ctx b = {0};
    uint64_t file_version = 0;
    char file_tag[64] = "";
    mast_status st = MAST_OK;
    if (path) {
        st = mast_bm25_open(path, NULL, &b.bm25, &file_version, file_tag);
        if (st == MAST_OK && strcmp(file_tag, tag) != 0) {
            mast_bm25_free(b.bm25);   /* built with another analyzer */
            b.bm25 = NULL;
        } else if (st != MAST_OK && st != MAST_ERR_NOT_FOUND && st != MAST_ERR_NOMEM) {
            mast_warn("%s; rebuilding the text index from the database", mast_errmsg());
        }
        st = st == MAST_ERR_NOMEM ? st : MAST_OK;
    }
    int fresh = !b.bm25, changed = 0;
    size_t removed = 0;
    if (st == MAST_OK && fresh)
        st = mast_bm25_create(&b.bm25, NULL);
    if (st == MAST_OK && (fresh || file_version != (uint64_t)version || optimize)) {
        st = mast_analyzer_open(&b.analyzer, language);
        if (st == MAST_OK && !fresh) {
            live_diff l = {0};
            st = mast_store_chunk_ids(store, collection_id, (int64_t **)&l.ids, &l.n);
            if (st == MAST_OK)
                mast_bm25_each_live(b.bm25, live_visit, &l);
            if (st == MAST_OK && l.failed)
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == MAST_OK && i < l.n_gone; i++)
                removed += (size_t)mast_bm25_remove(b.bm25, l.gone[i]);
            free((void *)l.ids);
            free(l.gone);
        }
        if (st == MAST_OK)
            st = mast_store_chunk_scan_after(store, collection_id, mast_bm25_max_chunk(b.bm25),
                                             build_visit, &b);
        if (st == MAST_OK)
            st = b.st;
        if (st == MAST_OK)
            st = mast_bm25_maintain(b.bm25, optimize);
        changed = 1;
    }
    if (st == MAST_OK && path && changed && !mast_store_readonly(store)) {
        mast_status saved = mast_bm25_save(b.bm25, path, (uint64_t)version, tag);
        if (saved != MAST_OK)
            mast_warn("%s (the text index stays in memory)", mast_errmsg());
    }
    unlock_files(lock);
    mast_analyzer_free(b.analyzer);
    mast_buf_free(&b.title);
    free(path);
    mast_bm25_info info;
    if (b.bm25) {
        mast_bm25_get_info(b.bm25, &info);
        mast_trace_attr_int(trace, "segments", (int64_t)info.segments);
        mast_trace_attr_int(trace, "chunks", (int64_t)info.chunks);
        mast_trace_attr_int(trace, "bytes", (int64_t)info.bytes);
    }
    mast_trace_attr_str(trace, "language", tag);
    mast_trace_attr_int(trace, "chunks_added", (int64_t)b.n);
    mast_trace_attr_int(trace, "chunks_removed", (int64_t)removed);
    mast_trace_attr_str(trace, "source", fresh ? "rebuilt" : changed ? "updated" : "file");
    mast_trace_span_end(trace, st);
    if (st != MAST_OK) {
        mast_bm25_free(b.bm25);
        return st;
    }
    *out = b.bm25;
    return MAST_OK;
}

/* Reads the collection's vectors (ref->vchunk, vdoc, dim, n_vec) and brings
** its vector index file up to them (ref->dense). */
static mast_status load_dense(index_ref *ref, mast_store *store, int64_t version, size_t hnsw_min,
                              mast_trace *trace)
{
    mast_trace_span_begin(trace, "index.build_dense");
    vec_ctx vc = {ref, NULL, 0, 0, 0};
    size_t added = 0, deleted = 0;
    mast_status st = mast_store_vector_scan(store, ref->collection_id, vector_visit, &vc);
    if (st == MAST_OK && vc.failed)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory loading vectors");
    if (st == MAST_OK)
        st = sync_dense(ref, store, vc.vecs, version, hnsw_min, &added, &deleted);
    free(vc.vecs);
    mast_trace_attr_int(trace, "n_vectors", (int64_t)ref->n_vec);
    mast_trace_attr_str(trace, "dense_index", !ref->dense ? "none"
                                              : mast_vindex_params_of(ref->dense)->type == MAST_VINDEX_HNSW
                                                  ? "hnsw" : "flat");
    mast_trace_attr_int(trace, "vectors_added", (int64_t)added);
    mast_trace_attr_int(trace, "vectors_deleted", (int64_t)deleted);
    mast_trace_span_end(trace, st);
    return st;
}

static mast_status build_index(mast_store *store, int64_t collection_id, int64_t version,
                               size_t hnsw_min, mast_trace *trace, index_ref **out)
{
    mast_trace_span_begin(trace, "index.build");
    char *language = NULL;
    mast_bm25 *bm25 = NULL;
    mast_status st = mast_collection_language(store, collection_id, &language);
    if (st == MAST_OK)
        st = sync_sparse(store, collection_id, language, version, 0, trace, &bm25);
    mast_trace_span_end(trace, st);
    if (st != MAST_OK) {
        free(language);
        return st;
    }
    index_ref *ref = calloc(1, sizeof *ref);
    if (!ref) {
        mast_bm25_free(bm25);
        free(language);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    ref->language = language;
    ref->collection_id = collection_id;
    ref->version = version;
    ref->bm25 = bm25;
    ref->refs = 1;
    pthread_mutex_init(&ref->embed_mu, NULL);
    st = mast_collection_open_embedder(store, collection_id, &ref->embedder);
    if (st == MAST_OK)
        st = mast_collection_vectors(store, collection_id, &ref->own_dim, &ref->metric);
    if (st == MAST_OK && !ref->own_dim)
        ref->metric = MAST_METRIC_COS;   /* a model's vectors, normalized at ingest */
    if (st == MAST_OK && (ref->embedder || ref->own_dim))
        st = load_dense(ref, store, version, hnsw_min, trace);
    if (st != MAST_OK) {
        unref(ref);
        return st;
    }
    *out = ref;
    return MAST_OK;
}

/* Returns a referenced, current index for the collection (build if stale). */
static mast_status acquire(mast_retriever *r, mast_store *store, int64_t collection_id,
                           mast_trace *trace, index_ref **out)
{
    int64_t version;
    MAST_TRY(mast_store_collection_version(store, collection_id, &version));
    pthread_mutex_lock(&r->mu);
    size_t i;
    for (i = 0; i < r->n_entries; i++)
        if (r->entries[i]->collection_id == collection_id)
            break;
    if (i < r->n_entries && r->entries[i]->version == version) {
        index_ref *ref = r->entries[i];
        ref->refs++;
        pthread_mutex_unlock(&r->mu);
        *out = ref;
        return MAST_OK;
    }
    /* Build under the lock: concurrent searches of a stale collection wait for
    ** one build instead of each building their own. */
    index_ref *ref = NULL;
    mast_status st = build_index(store, collection_id, version, r->hnsw_min, trace, &ref);
    if (st == MAST_OK) {
        if (i < r->n_entries) {
            unref(r->entries[i]);
            r->entries[i] = ref;
        } else {
            if (r->n_entries == r->cap_entries) {
                size_t cap = r->cap_entries ? r->cap_entries * 2 : 4;
                index_ref **p = realloc(r->entries, cap * sizeof *p);
                if (!p) {
                    unref(ref);
                    pthread_mutex_unlock(&r->mu);
                    return mast_fail(MAST_ERR_NOMEM, "out of memory");
                }
                r->entries = p;
                r->cap_entries = cap;
            }
            r->entries[r->n_entries++] = ref;
        }
        ref->refs++;
        *out = ref;
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

static void release(mast_retriever *r, index_ref *ref)
{
    pthread_mutex_lock(&r->mu);
    unref(ref);
    pthread_mutex_unlock(&r->mu);
}

static mast_status group_hits(mast_hit *hits, size_t n, size_t k, size_t *n_out)
{
    /* keep the first (best) hit of each document, in rank order */
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < k; i++) {
        int dup = 0;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = hits[j].doc_id == hits[i].doc_id;
        if (!dup)
            hits[kept++] = hits[i];
    }
    *n_out = kept;
    return MAST_OK;
}

int mast_search_mode_parse(const char *name)
{
    if (strcmp(name, "auto") == 0) return MAST_MODE_AUTO;
    if (strcmp(name, "bm25") == 0) return MAST_MODE_BM25;
    if (strcmp(name, "dense") == 0) return MAST_MODE_DENSE;
    if (strcmp(name, "hybrid") == 0) return MAST_MODE_HYBRID;
    return -1;
}

const char *mast_search_mode_name(mast_search_mode mode)
{
    static const char *names[] = {"auto", "bm25", "dense", "hybrid"};
    return names[mode];
}

static int cmp_chunk_id(const void *a, const void *b)
{
    int64_t x = ((const mast_hit *)a)->chunk_id, y = ((const mast_hit *)b)->chunk_id;
    return (x > y) - (x < y);
}

static int64_t doc_of(const index_ref *ref, int64_t chunk_id)
{
    const int64_t *p = ref->n_vec ? bsearch(&chunk_id, ref->vchunk, ref->n_vec, sizeof *ref->vchunk,
                                            mast_cmp_i64)
                                  : NULL;
    return p ? ref->vdoc[p - ref->vchunk] : -1;
}

/* A metadata filter resolved to document ids (ascending); NULL = none. */
typedef struct doc_set {
    const index_ref *ref;
    int64_t *ids;
    size_t n;
} doc_set;

static int doc_allowed(const doc_set *f, int64_t doc_id)
{
    return !f || (f->n && bsearch(&doc_id, f->ids, f->n, sizeof *f->ids, mast_cmp_i64) != NULL);
}

static bool chunk_allowed(void *ctx, int64_t chunk_id)
{
    const doc_set *f = ctx;
    return doc_allowed(f, doc_of(f->ref, chunk_id));
}

/* The top `want` chunks from the collection's vector index, for the query
** vector the caller gave, or else for the query text embedded by the model. */
static mast_status dense_search(index_ref *ref, const char *query, const mast_search_opts *o,
                                size_t want, const doc_set *filter, mast_hit **hits,
                                size_t *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    if (!ref->dense)
        return MAST_OK;
    float *q = malloc((size_t)ref->dim * sizeof *q);
    mast_vhit *vh = malloc(want * sizeof *vh);
    mast_hit *out = malloc(want * sizeof *out);
    mast_status st = q && vh && out ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && o->query_vector) {
        memcpy(q, o->query_vector, (size_t)ref->dim * sizeof *q);   /* dimension checked */
    } else if (st == MAST_OK) {
        pthread_mutex_lock(&ref->embed_mu);
        st = mast_embedder_embed(ref->embedder, &query, 1, true, q, NULL);
        pthread_mutex_unlock(&ref->embed_mu);
    }
    int zero = 1;   /* a query with nothing the model knows: no dense hits */
    for (int d = 0; st == MAST_OK && d < ref->dim; d++)
        zero &= q[d] == 0.0f;
    size_t n = 0;
    if (st == MAST_OK && !zero) {
        /* a beam of twice the list (at least 128) keeps HNSW's recall near exact */
        mast_vsearch_opts o = {want, (int)(want * 2 > 128 ? want * 2 : 128),
                               filter ? chunk_allowed : NULL, (void *)filter, NULL, NULL, 0, NULL};
        st = mast_vindex_search(ref->dense, q, &o, vh, &n, NULL);
    }
    for (size_t i = 0; st == MAST_OK && i < n; i++)
        out[i] = (mast_hit){vh[i].id, doc_of(ref, vh[i].id), vh[i].score};
    if (st == MAST_OK) {
        *hits = out;
        *n_hits = n;
    } else {
        free(out);
    }
    free(q);
    free(vh);
    return st;
}

static int allow_doc(void *ctx, int64_t doc_id)
{
    return doc_allowed(ctx, doc_id);
}

/* The top `want` BM25 hits among the allowed documents. */
static mast_status sparse_search(index_ref *ref, mast_analyzer *a, const char *query, size_t want,
                                 const doc_set *filter, const mast_search_opts *o,
                                 mast_hit **hits, size_t *n_hits)
{
    mast_bm25_query q = {want, o->title_weight,
                         o->exhaustive ? MAST_BM25_EXHAUSTIVE : MAST_BM25_AUTO,
                         filter ? allow_doc : NULL, (void *)filter};
    mast_bm25_stats stats;
    MAST_TRY(mast_bm25_search_with(ref->bm25, a, query, strlen(query), &q, hits, n_hits, &stats));
    if (o->bm25_stats) {
        o->bm25_stats->postings += stats.postings;
        o->bm25_stats->decoded += stats.decoded;
        o->bm25_stats->scored += stats.scored;
    }
    return MAST_OK;
}

int mast_fusion_method_parse(const char *name)
{
    return !strcmp(name, "rrf") ? MAST_FUSION_RRF : !strcmp(name, "convex") ? MAST_FUSION_CONVEX : -1;
}

int mast_fusion_norm_parse(const char *name)
{
    return !strcmp(name, "minmax") ? MAST_NORM_MINMAX : !strcmp(name, "zscore") ? MAST_NORM_ZSCORE : -1;
}

const char *mast_fusion_method_name(mast_fusion_method m) { return m == MAST_FUSION_CONVEX ? "convex" : "rrf"; }

/* The list's scores normalized in place (see mast_fusion); returns the
** lowest normalized score, which a chunk absent from the list takes. */
static double normalize_list(mast_hit *h, size_t n, mast_fusion_norm norm)
{
    if (n == 0)
        return 0;
    double lo = h[0].score, hi = h[0].score, sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        lo = h[i].score < lo ? h[i].score : lo;
        hi = h[i].score > hi ? h[i].score : hi;
        sum += h[i].score;
    }
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (h[i].score - mean) * (h[i].score - mean);
    double sd = sqrt(sq / (double)n);
    for (size_t i = 0; i < n; i++) {
        if (norm == MAST_NORM_ZSCORE)
            h[i].score = sd > 0 ? (h[i].score - mean) / sd : 0;
        else
            h[i].score = hi > lo ? (h[i].score - lo) / (hi - lo) : 1;
    }
    if (norm == MAST_NORM_ZSCORE)
        return sd > 0 ? (lo - mean) / sd : 0;
    return hi > lo ? 0 : 1;
}

/* Fuses the BM25 list a and the dense list b (see mast_fusion): every chunk
** gets its term from each list (RRF: 1 / (k + rank), 0 when absent; convex:
** the weighted normalized score, the list's floor when absent), summed. */
static mast_status fuse(mast_hit *a, size_t na, mast_hit *b, size_t nb, const mast_fusion *fu,
                        mast_hit **out, size_t *n_out)
{
    mast_hit *f = malloc((na + nb ? na + nb : 1) * sizeof *f);
    if (!f)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    int convex = fu->method == MAST_FUSION_CONVEX;
    double wa = convex ? 1 - fu->alpha : 1, wb = convex ? fu->alpha : 1, floor_a = 0, floor_b = 0;
    if (convex) {
        floor_a = normalize_list(a, na, fu->norm);
        floor_b = normalize_list(b, nb, fu->norm);
    }
    /* each entry carries its own term plus the other list's floor; a chunk in
    ** both lists then replaces the floor by the real term (below) */
    for (size_t i = 0; i < na; i++)
        f[i] = (mast_hit){a[i].chunk_id, a[i].doc_id,
                          convex ? wa * a[i].score + wb * floor_b : 1.0 / (fu->rrf_k + (double)(i + 1))};
    for (size_t i = 0; i < nb; i++)
        f[na + i] = (mast_hit){b[i].chunk_id, b[i].doc_id,
                               convex ? wb * b[i].score + wa * floor_a : 1.0 / (fu->rrf_k + (double)(i + 1))};
    if (na + nb > 1)
        qsort(f, na + nb, sizeof *f, cmp_chunk_id);
    size_t n = 0;
    for (size_t i = 0; i < na + nb; i++) {
        if (n && f[n - 1].chunk_id == f[i].chunk_id) {
            /* in both lists: the two terms (convex: minus the two floors) */
            f[n - 1].score += f[i].score - (convex ? wa * floor_a + wb * floor_b : 0);
        } else {
            f[n++] = f[i];
        }
    }
    *out = f;
    *n_out = mast_hits_top(f, n, n);
    return MAST_OK;
}

static mast_status ranked(index_ref *ref, mast_analyzer *a, const char *query, size_t want,
                          mast_search_mode mode, const doc_set *filter, const mast_search_opts *o,
                          mast_hit **hits, size_t *n_hits)
{
    const mast_fusion *fu = &o->fusion;
    if (mode == MAST_MODE_BM25)
        return sparse_search(ref, a, query, want, filter, o, hits, n_hits);
    if (mode == MAST_MODE_DENSE)
        return dense_search(ref, query, o, want, filter, hits, n_hits);
    mast_hit *sparse = NULL, *dense = NULL;
    size_t ns = 0, nd = 0;
    mast_status st = sparse_search(ref, a, query, want, filter, o, &sparse, &ns);
    if (st == MAST_OK)
        st = dense_search(ref, query, o, want, filter, &dense, &nd);
    if (st == MAST_OK)
        st = fuse(sparse, ns, dense, nd, fu, hits, n_hits);
    free(sparse);
    free(dense);
    return st;
}

/* Settles the mode (auto: hybrid when there is a dense side, dense for a
** vector alone) and refuses what the collection or the query cannot do. */
static mast_status check_mode(const index_ref *ref, const char *query, const mast_search_opts *o,
                              mast_search_mode *mode)
{
    int has_text = query != NULL, has_vector = o->query_vector != NULL;
    int dense_ok = has_vector ? ref->embedder || ref->own_dim : ref->embedder != NULL;
    if (*mode == MAST_MODE_AUTO)
        *mode = !has_text ? MAST_MODE_DENSE : dense_ok ? MAST_MODE_HYBRID : MAST_MODE_BM25;
    if (has_vector && !ref->embedder && !ref->own_dim)
        return mast_fail(MAST_ERR_INVALID, "a query vector was given, but this collection has "
                         "no vectors (no embedding model, no dimension of its own)");
    if (has_vector && (int)o->query_vector_dim != (ref->own_dim ? ref->own_dim : ref->dim) &&
        (ref->own_dim || ref->dim))
        return mast_fail(MAST_ERR_INVALID, "the query vector has %zu dimensions, the "
                         "collection's have %d", o->query_vector_dim,
                         ref->own_dim ? ref->own_dim : ref->dim);
    if (!has_text && *mode != MAST_MODE_DENSE)
        return mast_fail(MAST_ERR_INVALID, "mode '%s' needs a query text",
                         mast_search_mode_name(*mode));
    if (*mode != MAST_MODE_BM25 && !dense_ok)
        return ref->own_dim
                   ? mast_fail(MAST_ERR_INVALID, "mode '%s' in this collection needs a query "
                               "vector (its documents bring their own vectors; there is no "
                               "model to embed the text)", mast_search_mode_name(*mode))
                   : mast_fail(MAST_ERR_INVALID, "mode '%s' needs an embedding model and this "
                               "collection has none (give it one: mast collection create NAME "
                               "--embed MODEL)", mast_search_mode_name(*mode));
    return MAST_OK;
}

mast_status mast_retrieve_with(mast_retriever *r, mast_store *store, int64_t collection_id,
                               const char *query, size_t k, const mast_search_opts *opts,
                               int group_by_doc, mast_trace *trace, mast_hit **hits,
                               size_t *n_hits)
{
    *hits = NULL;
    *n_hits = 0;
    mast_search_opts o = opts ? *opts : MAST_SEARCH_OPTS_DEFAULT;
    mast_search_mode mode = o.mode;
    const mast_filter *filter = o.filter;
    if (o.fusion.rrf_k == 0)   /* zero-initialized options: the default k */
        o.fusion.rrf_k = MAST_RRF_K;
    if (!(o.title_weight >= 0 && o.title_weight <= 1000))
        return mast_fail(MAST_ERR_INVALID, "title weight must be within 0..1000 (got %g)",
                         o.title_weight);
    if (!(o.fusion.rrf_k > 0) || !(o.fusion.alpha >= 0 && o.fusion.alpha <= 1))
        return mast_fail(MAST_ERR_INVALID, "fusion: rrf_k must be > 0 and alpha within 0..1 "
                         "(got %g and %g)", o.fusion.rrf_k, o.fusion.alpha);
    mast_trace_span_begin(trace, "retrieve");
    if (query)
        mast_trace_attr_str(trace, "query", query);
    mast_trace_attr_int(trace, "k", (int64_t)k);
    index_ref *ref = NULL;
    mast_analyzer *a = NULL;
    doc_set docs = {NULL, NULL, 0}, *fset = NULL;
    mast_status st = acquire(r, store, collection_id, trace, &ref);
    if (st == MAST_OK && filter && filter->key) {
        mast_trace_attr_str(trace, "filter_key", filter->key);
        mast_trace_attr_str(trace, "filter_value", filter->value);
        st = mast_store_docs_matching(store, collection_id, filter->key, filter->value, &docs.ids,
                                      &docs.n);
        docs.ref = ref;
        fset = &docs;
    }
    if (st == MAST_OK)
        st = check_mode(ref, query, &o, &mode);
    mast_trace_attr_str(trace, "mode", mast_search_mode_name(mode));
    if (mode == MAST_MODE_HYBRID) {
        mast_trace_attr_str(trace, "fusion", mast_fusion_method_name(o.fusion.method));
        if (o.fusion.method == MAST_FUSION_CONVEX)
            mast_trace_attr_double(trace, "alpha", o.fusion.alpha);
    }
    if (st == MAST_OK)
        st = mast_analyzer_open(&a, ref->language);
    if (st == MAST_OK) {
        size_t want = group_by_doc ? k * 4 : k;
        if (mode == MAST_MODE_HYBRID && want < 100)
            want = 100;   /* fuse deeper lists than the k asked for */
        for (;;) {
            free(*hits);
            st = ranked(ref, a, query, want, mode, fset, &o, hits, n_hits);
            if (st != MAST_OK)
                break;
            size_t got = *n_hits;
            if (group_by_doc)
                group_hits(*hits, got, k, n_hits);
            else if (*n_hits > k)
                *n_hits = k;
            if (!group_by_doc || *n_hits >= k || got < want)
                break;
            want *= 4;
        }
    }
    mast_analyzer_free(a);
    free(docs.ids);
    if (ref) {
        mast_trace_attr_int(trace, "index_chunks", (int64_t)mast_bm25_count(ref->bm25));
        release(r, ref);
    }
    mast_trace_attr_int(trace, "n_results", (int64_t)*n_hits);
    mast_trace_span_end(trace, st);
    if (st != MAST_OK) {
        free(*hits);
        *hits = NULL;
        *n_hits = 0;
    }
    return st;
}

mast_status mast_retrieve(mast_retriever *r, mast_store *store, int64_t collection_id,
                          const char *query, size_t k, int group_by_doc, mast_trace *trace,
                          mast_hit **hits, size_t *n_hits)
{
    return mast_retrieve_with(r, store, collection_id, query, k, NULL, group_by_doc, trace, hits,
                              n_hits);
}

mast_status mast_search(mast_retriever *r, mast_store *store, const char *collection,
                        const char *query, size_t k, mast_trace *trace, mast_result **results,
                        size_t *n_results)
{
    return mast_search_with(r, store, collection, query, k, NULL, trace, results, n_results);
}

mast_status mast_search_with(mast_retriever *r, mast_store *store, const char *collection,
                             const char *query, size_t k, const mast_search_opts *opts,
                             mast_trace *trace, mast_result **results, size_t *n_results)
{
    *results = NULL;
    *n_results = 0;
    if (k < 1 || k > MAST_MAX_K)
        return mast_fail(MAST_ERR_INVALID, "k must be between 1 and %d (got %zu)", MAST_MAX_K, k);
    int64_t collection_id;
    MAST_TRY(mast_store_collection_find(store, collection, &collection_id));
    mast_hit *hits;
    size_t n_hits;
    MAST_TRY(mast_retrieve_with(r, store, collection_id, query, k, opts, 0, trace, &hits, &n_hits));
    mast_result *res = calloc(n_hits ? n_hits : 1, sizeof *res);
    if (!res) {
        free(hits);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    mast_status st = MAST_OK;
    for (size_t i = 0; i < n_hits && st == MAST_OK; i++) {
        st = mast_store_chunk_get(store, hits[i].chunk_id, &res[n]);
        if (st == MAST_ERR_NOT_FOUND) {   /* deleted since the index was read */
            st = MAST_OK;
            continue;
        }
        if (st == MAST_OK) {
            res[n].score = hits[i].score;
            res[n].rank = (int)n + 1;
            n++;
        }
    }
    free(hits);
    if (st != MAST_OK) {
        mast_results_free(res, n + 1);
        return st;
    }
    *results = res;
    *n_results = n;
    return MAST_OK;
}

static mast_status index_update(mast_store *store, int64_t collection_id, int optimize,
                                mast_trace *trace)
{
    int64_t version;
    char *language = NULL, *model = NULL;
    mast_bm25 *bm25 = NULL;
    MAST_TRY(mast_store_collection_version(store, collection_id, &version));
    mast_status st = mast_collection_language(store, collection_id, &language);
    if (st == MAST_OK)
        st = sync_sparse(store, collection_id, language, version, optimize, trace, &bm25);
    mast_bm25_free(bm25);
    free(language);
    if (st == MAST_OK)
        st = mast_collection_embed_model(store, collection_id, &model);
    if (st != MAST_OK || !model)
        return st;
    free(model);
    index_ref ref = {.collection_id = collection_id};
    st = load_dense(&ref, store, version, MAST_HNSW_MIN, trace);
    mast_vindex_free(ref.dense);
    free(ref.vchunk);
    free(ref.vdoc);
    return st;
}

mast_status mast_index_sync(mast_store *store, int64_t collection_id, mast_trace *trace)
{
    return index_update(store, collection_id, 0, trace);
}

mast_status mast_index_optimize(mast_store *store, int64_t collection_id, mast_trace *trace)
{
    return index_update(store, collection_id, 1, trace);
}

mast_status mast_index_text_info(mast_store *store, int64_t collection_id, mast_bm25_info *info,
                                 uint64_t *data_version)
{
    memset(info, 0, sizeof *info);
    *data_version = 0;
    char *path = mast_retrieve_tindex_path(store, collection_id);
    if (!path)
        return mast_fail(MAST_ERR_NOT_FOUND, "an in-memory database has no index files");
    mast_bm25 *x = NULL;
    mast_status st = mast_bm25_open(path, NULL, &x, data_version, NULL);
    free(path);
    if (st == MAST_OK)
        mast_bm25_get_info(x, info);
    mast_bm25_free(x);
    return st;
}

mast_status mast_filter_parse(const char *text, mast_filter *out, char **owned)
{
    *owned = NULL;
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return mast_fail(MAST_ERR_INVALID, "filter '%s' is not key=value", text);
    char *copy = strdup(text);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    copy[eq - text] = '\0';
    out->key = copy;
    out->value = copy + (eq - text) + 1;
    *owned = copy;
    return MAST_OK;
}

json_t *mast_result_to_json(const mast_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(r->rank));
    json_object_set_new(o, "score", json_real(r->score));
    json_object_set_new(o, "chunk_id", json_integer(r->chunk_id));
    json_object_set_new(o, "doc_id", json_integer(r->doc_id));
    json_object_set_new(o, "uri", mast_json_string_lossy(r->uri));
    json_object_set_new(o, "title", mast_json_string_lossy(r->title));
    json_object_set_new(o, "heading", mast_json_string_lossy(r->heading));
    json_object_set_new(o, "text", mast_json_string_lossy(r->text));
    return o;
}
