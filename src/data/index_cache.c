/*
** data/index_cache.c — the retriever's cache of each collection's derived
** indexes and keeping them in step with the store (see retrieve.h): the BM25
** segments and the vector index, their files in <db>.idx/, rebuilt or
** updated when the collection's data version moves.
*/
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/pool.h"
#include "base/status.h"
#include "data/collection.h"
#include "data/retrieve_impl.h"

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
mast_status mast_index_acquire(mast_retriever *r, mast_store *store, int64_t collection_id,
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

void mast_index_release(mast_retriever *r, index_ref *ref)
{
    pthread_mutex_lock(&r->mu);
    unref(ref);
    pthread_mutex_unlock(&r->mu);
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
