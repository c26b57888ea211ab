/*
** data/vindex/vindex.c — the index API (see vindex.h): vector storage and
** its distances, ids, adding and deleting, exact and graph search with
** filters and re-ranking, compaction. The graph is in hnsw.c, files in
** vfile.c.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/vindex/distance.h"
#include "data/vindex/vindex_impl.h"

/* ---- names ---- */

static const char *const metric_names[] = {"cos", "ip", "l2"};
static const char *const vstore_names[] = {"f32", "f16", "int8"};

const char *mast_metric_name(mast_metric m) { return (unsigned)m < 3 ? metric_names[m] : "?"; }
const char *mast_vstore_name(mast_vstore s) { return (unsigned)s < 3 ? vstore_names[s] : "?"; }

mast_status mast_metric_parse(const char *s, mast_metric *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, metric_names[i])) {
            *out = (mast_metric)i;
            return MAST_OK;
        }
    if (!strcmp(s, "cosine") || !strcmp(s, "angular")) {
        *out = MAST_METRIC_COS;
        return MAST_OK;
    }
    return mast_fail(MAST_ERR_INVALID, "unknown metric '%s' (cos, ip or l2)", s);
}

mast_status mast_vstore_parse(const char *s, mast_vstore *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, vstore_names[i])) {
            *out = (mast_vstore)i;
            return MAST_OK;
        }
    return mast_fail(MAST_ERR_INVALID, "unknown vector storage '%s' (f32, f16 or int8)", s);
}

/* ---- storage ---- */

/* int8 codes: a float |x^|^2 (for L2) then dim bytes, padded to 4 */
static size_t code_size(const mast_vindex_params *p)
{
    switch (p->storage) {
    case MAST_VSTORE_F32: return (size_t)p->dim * 4;
    case MAST_VSTORE_F16: return ((size_t)p->dim * 2 + 3) / 4 * 4;
    default: return 4 + ((size_t)p->dim + 3) / 4 * 4;
    }
}

const void *vindex_code(const mast_vindex *v, uint32_t label)
{
    return v->codes + (size_t)label * v->code_size;
}

static void encode(const mast_vindex *v, const float *x, unsigned char *code)
{
    size_t dim = (size_t)v->p.dim;
    if (v->p.storage == MAST_VSTORE_F32) {
        memcpy(code, x, dim * 4);
    } else if (v->p.storage == MAST_VSTORE_F16) {
        uint16_t *h = (uint16_t *)(void *)code;
        for (size_t i = 0; i < dim; i++)
            h[i] = mast_vf32_to_f16(x[i]);
    } else {
        uint8_t *c = code + 4;
        float norm = 0;
        for (size_t i = 0; i < dim; i++) {
            float t = (x[i] - v->qmin[i]) / v->qscale[i];
            t = t < 0 ? 0 : t > 255 ? 255 : t;
            c[i] = (uint8_t)lrintf(t);
            float back = v->qmin[i] + v->qscale[i] * (float)c[i];
            norm += back * back;
        }
        memcpy(code, &norm, 4);
    }
}

const float *vindex_decode(const mast_vindex *v, uint32_t label, float *buf)
{
    const unsigned char *code = vindex_code(v, label);
    size_t dim = (size_t)v->p.dim;
    if (v->p.storage == MAST_VSTORE_F32)
        return (const float *)(const void *)code;
    if (v->p.storage == MAST_VSTORE_F16) {
        const uint16_t *h = (const uint16_t *)(const void *)code;
        for (size_t i = 0; i < dim; i++)
            buf[i] = mast_vf16_to_f32(h[i]);
    } else {
        for (size_t i = 0; i < dim; i++)
            buf[i] = v->qmin[i] + v->qscale[i] * (float)code[4 + i];
    }
    return buf;
}

/* per-dimension ranges of 8-bit storage from (up to 100,000 of) the vectors */
static void train(mast_vindex *v, size_t n, const float *x)
{
    size_t dim = (size_t)v->p.dim, step = n > 100000 ? n / 100000 : 1;
    for (size_t i = 0; i < dim; i++) {
        v->qmin[i] = INFINITY;
        v->qscale[i] = -INFINITY;   /* the max, until the end */
    }
    for (size_t r = 0; r < n; r += step)
        for (size_t i = 0; i < dim; i++) {
            float t = x[r * dim + i];
            if (t < v->qmin[i]) v->qmin[i] = t;
            if (t > v->qscale[i]) v->qscale[i] = t;
        }
    for (size_t i = 0; i < dim; i++) {
        float range = v->qscale[i] - v->qmin[i];
        v->qscale[i] = range > 0 ? range / 255.0f : 1.0f;
    }
    v->trained = 1;
}

void vindex_prepare(const mast_vindex *v, const float *q, vquery *out, float *qs_buf)
{
    size_t dim = (size_t)v->p.dim;
    out->q = q;
    out->qs = NULL;
    out->base = 0;
    out->qq = v->p.metric == MAST_METRIC_L2 ? mast_vdot_f32(q, q, dim) : 0;
    if (v->p.storage == MAST_VSTORE_INT8) {
        for (size_t i = 0; i < dim; i++)
            qs_buf[i] = q[i] * v->qscale[i];
        out->qs = qs_buf;
        out->base = mast_vdot_f32(q, v->qmin, dim);
    }
}

/* distance: 1 - similarity (cos, ip) or the squared L2 distance */
float vindex_dist(const mast_vindex *v, const vquery *q, uint32_t label)
{
    const unsigned char *code = vindex_code(v, label);
    size_t dim = (size_t)v->p.dim;
    int l2 = v->p.metric == MAST_METRIC_L2;
    switch (v->p.storage) {
    case MAST_VSTORE_F32: {
        const float *x = (const float *)(const void *)code;
        return l2 ? mast_vl2_f32(q->q, x, dim) : 1.0f - mast_vdot_f32(q->q, x, dim);
    }
    case MAST_VSTORE_F16: {
        const uint16_t *x = (const uint16_t *)(const void *)code;
        return l2 ? mast_vl2_f16(q->q, x, dim) : 1.0f - mast_vdot_f16(q->q, x, dim);
    }
    default: {
        float dot = q->base + mast_vdot_u8(q->qs, code + 4, dim), norm;
        if (!l2)
            return 1.0f - dot;
        memcpy(&norm, code, 4);
        return q->qq - 2.0f * dot + norm;
    }
    }
}

static float score_of(const mast_vindex *v, float d)
{
    return v->p.metric == MAST_METRIC_L2 ? -d : 1.0f - d;
}

int vindex_heap_reserve(cand **a, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    cand *p = realloc(*a, c * sizeof *p);
    if (!p)
        return 0;
    *a = p;
    *cap = c;
    return 1;
}

vscratch *vindex_scratch_get(mast_vindex *v)
{
    pthread_mutex_lock(&v->scratch_mu);
    vscratch *s = v->free_scratch;
    if (s)
        v->free_scratch = s->next;
    pthread_mutex_unlock(&v->scratch_mu);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    float *f = s ? malloc((size_t)v->p.dim * 5 * sizeof *f) : NULL;
    if (!f) {
        free(s);
        return NULL;
    }
    size_t d = (size_t)v->p.dim;
    s->qbuf = f;
    s->buf = f + d;
    s->buf2 = f + 2 * d;
    s->buf3 = f + 3 * d;
    s->buf4 = f + 4 * d;
    return s;
}

void vindex_scratch_put(mast_vindex *v, vscratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&v->scratch_mu);
    s->next = v->free_scratch;
    v->free_scratch = s;
    pthread_mutex_unlock(&v->scratch_mu);
}

static void scratch_free(vscratch *s)
{
    while (s) {
        vscratch *next = s->next;
        free(s->tag);
        free(s->c);
        free(s->r);
        free(s->qbuf);
        free(s);
        s = next;
    }
}

/* ---- lifecycle ---- */

mast_status mast_vindex_create(const mast_vindex_params *p, mast_vindex **out)
{
    *out = NULL;
    mast_vindex_params q = *p;
    if (!q.m) q.m = 16;
    if (!q.ef_construction) q.ef_construction = 200;
    if (!q.seed) q.seed = 42;
    if (q.dim < 1 || q.dim > 65536)
        return mast_fail(MAST_ERR_INVALID, "vector index: dimension %d is out of range (1 to 65536)", q.dim);
    if (q.m < 2 || q.m > 128)
        return mast_fail(MAST_ERR_INVALID, "vector index: M = %d is out of range (2 to 128)", q.m);
    if (q.ef_construction < 1 || q.ef_construction > 10000)
        return mast_fail(MAST_ERR_INVALID, "vector index: efConstruction = %d is out of range (1 to 10000)",
                         q.ef_construction);
    if ((unsigned)q.metric > MAST_METRIC_L2 || (unsigned)q.storage > MAST_VSTORE_INT8 ||
        (unsigned)q.type > MAST_VINDEX_HNSW)
        return mast_fail(MAST_ERR_INVALID, "vector index: unknown metric, storage or type");
    mast_vindex *v = calloc(1, sizeof *v);
    if (!v)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    v->p = q;
    v->m0 = 2 * q.m;
    v->ml = 1.0 / log((double)q.m);
    v->code_size = code_size(&q);
    v->qmin = calloc((size_t)q.dim, sizeof *v->qmin);
    v->qscale = malloc((size_t)q.dim * sizeof *v->qscale);
    if (!v->qmin || !v->qscale) {
        free(v->qmin);
        free(v->qscale);
        free(v);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < q.dim; i++)
        v->qscale[i] = 1.0f;
    atomic_init(&v->n, 0);
    atomic_init(&v->entry, 0);
    atomic_init(&v->max_level, -1);
    pthread_mutex_init(&v->entry_mu, NULL);
    pthread_mutex_init(&v->scratch_mu, NULL);
    for (int i = 0; i < VINDEX_STRIPES; i++)
        pthread_mutex_init(&v->stripes[i], NULL);
    pthread_rwlock_init(&v->grow, NULL);
    *out = v;
    return MAST_OK;
}

static void free_arrays(mast_vindex *v)
{
    if (v->mapped) {
        if (v->unmap)
            mast_munmap(&v->file);
        v->mapped = v->unmap = 0;
    } else {
        free(v->codes);
        free(v->ids);
        free((void *)v->deleted);
        free(v->level);
        free((void *)v->links0);
        free(v->upper_off);
        free((void *)v->upper);
        free(v->qmin);
        free(v->qscale);
    }
    free(v->map.keys);
    free(v->map.vals);
}

void mast_vindex_free(mast_vindex *v)
{
    if (!v)
        return;
    free_arrays(v);
    scratch_free(v->free_scratch);
    pthread_mutex_destroy(&v->entry_mu);
    pthread_mutex_destroy(&v->scratch_mu);
    for (int i = 0; i < VINDEX_STRIPES; i++)
        pthread_mutex_destroy(&v->stripes[i]);
    pthread_rwlock_destroy(&v->grow);
    free(v);
}

const mast_vindex_params *mast_vindex_params_of(const mast_vindex *v) { return &v->p; }
size_t mast_vindex_count(const mast_vindex *v) { return atomic_load(&v->n) - v->n_deleted; }
size_t mast_vindex_deleted(const mast_vindex *v) { return v->n_deleted; }

size_t mast_vindex_memory(const mast_vindex *v)
{
    size_t n = atomic_load(&v->n), per = v->code_size + 8 + 1;
    if (v->p.type == MAST_VINDEX_HNSW)
        per += 1 + (size_t)(v->m0 + 1) * 4 + 8;
    return n * per + v->upper_len * 4 + (size_t)v->p.dim * 8 + v->map.cap * 12;
}

/* ---- ids ---- */

mast_status mast_vindex_ids(const mast_vindex *v, int64_t **ids, size_t *n)
{
    size_t total = atomic_load(&v->n), k = 0;
    int64_t *out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < total; i++)
        if (!atomic_load(&v->deleted[i]))
            out[k++] = v->ids[i];
    *ids = out;
    *n = k;
    return MAST_OK;
}

static uint64_t id_hash(int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static uint32_t map_get(const idmap *m, int64_t id)
{
    if (!m->cap)
        return UINT32_MAX;
    for (size_t i = id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == UINT32_MAX)
            return UINT32_MAX;
        if (m->keys[i] == id)
            return m->vals[i];
    }
}

static int map_put(idmap *m, int64_t id, uint32_t label)
{
    if ((m->len + 1) * 4 > m->cap * 3) {   /* load factor <= 3/4 */
        size_t cap = m->cap ? m->cap * 2 : 1024;
        int64_t *k = malloc(cap * sizeof *k);
        uint32_t *val = malloc(cap * sizeof *val);
        if (!k || !val) {
            free(k);
            free(val);
            return 0;
        }
        memset(val, 0xff, cap * sizeof *val);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i] == UINT32_MAX)
                continue;
            size_t j = id_hash(m->keys[i]) & (cap - 1);
            while (val[j] != UINT32_MAX)
                j = (j + 1) & (cap - 1);
            k[j] = m->keys[i];
            val[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = k;
        m->vals = val;
        m->cap = cap;
    }
    size_t i = id_hash(id) & (m->cap - 1);
    while (m->vals[i] != UINT32_MAX && m->keys[i] != id)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == UINT32_MAX)
        m->len++;
    m->keys[i] = id;
    m->vals[i] = label;
    return 1;
}

mast_status vindex_build_map(mast_vindex *v)
{
    size_t n = atomic_load(&v->n);
    for (size_t i = 0; i < n; i++)
        if (!map_put(&v->map, v->ids[i], (uint32_t)i))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
    return MAST_OK;
}

bool mast_vindex_contains(const mast_vindex *v, int64_t id)
{
    uint32_t l = map_get(&v->map, id);
    return l != UINT32_MAX && !atomic_load(&v->deleted[l]);
}

/* ---- adding ---- */

static void *grow_array(void *p, size_t old_n, size_t new_n, size_t size)
{
    unsigned char *q = realloc(p, new_n * size);
    if (q)
        memset(q + old_n * size, 0, (new_n - old_n) * size);
    return q;
}

/* Room for `need` nodes and `upper_need` more upper-level link words. */
static mast_status reserve(mast_vindex *v, size_t need, size_t upper_need)
{
    if (need > UINT32_MAX - 1)
        return mast_fail(MAST_ERR_INVALID, "vector index: more than 4 billion vectors");
    if (need > v->cap) {
        size_t cap = v->cap * 2 > need ? v->cap * 2 : need;
        cap = cap < 1024 ? 1024 : cap;
        void *p;
#define GROW(field, size)                                          \
    if (!(p = grow_array((void *)v->field, v->cap, cap, size)))    \
        return mast_fail(MAST_ERR_NOMEM, "out of memory");         \
    v->field = p;
        GROW(codes, v->code_size)
        GROW(ids, sizeof *v->ids)
        GROW(deleted, 1)
        GROW(level, 1)
        GROW(upper_off, sizeof *v->upper_off)
        if (v->p.type == MAST_VINDEX_HNSW) {
            GROW(links0, (size_t)(v->m0 + 1) * 4)
        }
#undef GROW
        v->cap = cap;
    }
    if (v->upper_len + upper_need > v->upper_cap) {
        size_t cap = v->upper_cap * 2 > v->upper_len + upper_need ? v->upper_cap * 2
                                                                   : v->upper_len + upper_need;
        void *p = grow_array((void *)v->upper, v->upper_cap, cap, 4);
        if (!p)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        v->upper = p;
        v->upper_cap = cap;
    }
    return MAST_OK;
}

typedef struct insert_job {
    mast_vindex *v;
    uint32_t first;
    const float *vecs;
    vscratch **scratch;
    mast_status st;
    pthread_mutex_t mu;
} insert_job;

static void insert_range(void *ctx, size_t begin, size_t end, int worker)
{
    insert_job *j = ctx;
    size_t dim = (size_t)j->v->p.dim;
    for (size_t i = begin; i < end; i++) {
        mast_status st = hnsw_insert(j->v, j->first + (uint32_t)i, j->vecs + i * dim, j->scratch[worker]);
        if (st != MAST_OK) {
            pthread_mutex_lock(&j->mu);
            if (j->st == MAST_OK)
                j->st = st;
            pthread_mutex_unlock(&j->mu);
            return;
        }
    }
}

static mast_status check_batch(const mast_vindex *v, size_t n, const int64_t *ids, const float *vecs)
{
    size_t dim = (size_t)v->p.dim;
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < dim; d++)
            if (!isfinite(vecs[i * dim + d]))
                return mast_fail(MAST_ERR_INVALID, "vector of id %lld has a non-finite value at %zu",
                                 (long long)ids[i], d);
        if (mast_vindex_contains(v, ids[i]))
            return mast_fail(MAST_ERR_INVALID, "id %lld is already in the index", (long long)ids[i]);
    }
    int64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, mast_cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1]) {
            long long dup = (long long)sorted[i];
            free(sorted);
            return mast_fail(MAST_ERR_INVALID, "id %lld appears twice in the batch", dup);
        }
    free(sorted);
    return MAST_OK;
}

static mast_status add_vectors(mast_vindex *v, mast_pool *pool, size_t n, const int64_t *ids,
                               const float *vecs, int normalized)
{
    if (n == 0)
        return MAST_OK;
    MAST_TRY(check_batch(v, n, ids, vecs));
    size_t dim = (size_t)v->p.dim;
    float *norm = NULL;
    if (v->p.metric == MAST_METRIC_COS && !normalized) {
        if (!(norm = malloc(n * dim * sizeof *norm)))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const float *x = vecs + i * dim;
            float s = mast_vdot_f32(x, x, dim), inv = s > 0 ? 1.0f / sqrtf(s) : 0.0f;
            for (size_t d = 0; d < dim; d++)
                norm[i * dim + d] = x[d] * inv;
        }
        vecs = norm;
    }
    if (v->p.storage == MAST_VSTORE_INT8 && !v->trained)
        train(v, n, vecs);
    /* make room and write the new nodes, alone */
    pthread_rwlock_wrlock(&v->grow);
    mast_status st = v->mapped ? vindex_make_owned(v) : MAST_OK;
    size_t first = atomic_load(&v->n), upper_need = 0;
    unsigned char *levels = malloc(n);
    if (st == MAST_OK && !levels)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == MAST_OK && i < n; i++) {
        levels[i] = v->p.type == MAST_VINDEX_HNSW ? (unsigned char)hnsw_draw_level(v, (uint32_t)(first + i)) : 0;
        upper_need += (size_t)levels[i] * (size_t)(v->p.m + 1);
    }
    if (st == MAST_OK)
        st = reserve(v, first + n, upper_need);
    for (size_t i = 0; st == MAST_OK && i < n; i++) {
        size_t l = first + i;
        encode(v, vecs + i * dim, v->codes + l * v->code_size);
        v->ids[l] = ids[i];
        v->level[l] = levels[i];
        v->upper_off[l] = v->upper_len;
        v->upper_len += (size_t)levels[i] * (size_t)(v->p.m + 1);
        if (!map_put(&v->map, ids[i], (uint32_t)l))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_rwlock_unlock(&v->grow);
    free(levels);
    /* link them (searches may run meanwhile: they only see published nodes) */
    if (st == MAST_OK && v->p.type == MAST_VINDEX_HNSW) {
        size_t workers = pool ? (size_t)mast_pool_size(pool) : 1;
        vscratch **sc = calloc(workers, sizeof *sc);
        insert_job j = {v, (uint32_t)first, vecs, sc, MAST_OK, PTHREAD_MUTEX_INITIALIZER};
        for (size_t w = 0; sc && w < workers; w++)
            if (!(sc[w] = vindex_scratch_get(v)))
                j.st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        if (!sc)
            j.st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        if (j.st == MAST_OK) {
            if (pool)
                mast_pool_for(pool, n, insert_range, &j);
            else
                insert_range(&j, 0, n, 0);
        }
        for (size_t w = 0; sc && w < workers; w++)
            vindex_scratch_put(v, sc[w]);
        free(sc);
        pthread_mutex_destroy(&j.mu);
        st = j.st;
    }
    if (st == MAST_OK)
        atomic_store_explicit(&v->n, first + n, memory_order_release);
    free(norm);
    return st;
}

mast_status mast_vindex_add(mast_vindex *v, mast_pool *pool, size_t n, const int64_t *ids,
                            const float *vecs)
{
    return add_vectors(v, pool, n, ids, vecs, 0);
}

mast_status mast_vindex_delete(mast_vindex *v, int64_t id)
{
    uint32_t l = map_get(&v->map, id);
    if (l == UINT32_MAX || atomic_load(&v->deleted[l]))
        return mast_fail(MAST_ERR_NOT_FOUND, "id %lld is not in the index", (long long)id);
    if (v->mapped) {
        pthread_rwlock_wrlock(&v->grow);
        mast_status st = vindex_make_owned(v);
        pthread_rwlock_unlock(&v->grow);
        MAST_TRY(st);
    }
    atomic_store(&v->deleted[l], 1);
    v->n_deleted++;
    return MAST_OK;
}

/* ---- search ---- */

typedef struct filter_ctx {
    mast_vfilter fn;
    void *ctx;
} filter_ctx;

static int passes(const mast_vindex *v, uint32_t label, void *ctx)
{
    const filter_ctx *f = ctx;
    if (atomic_load_explicit(&v->deleted[label], memory_order_relaxed))
        return 0;
    return !f->fn || f->fn(f->ctx, v->ids[label]);
}

/* The best `want` of nodes [lo, hi) into the max-heap h (want + 1 room). */
static size_t scan_range(const mast_vindex *v, const vquery *q, filter_ctx *f, size_t lo,
                         size_t hi, size_t want, cand *h, uint64_t *n_dist)
{
    size_t nr = 0;
    for (size_t l = lo; l < hi; l++) {
        if (!passes(v, (uint32_t)l, f))
            continue;
        float d = vindex_dist(v, q, (uint32_t)l);
        (*n_dist)++;
        if (nr < want || d < h[0].d) {
            cand_push_max(h, &nr, (cand){d, (uint32_t)l});
            if (nr > want)
                cand_pop_max(h, &nr);
        }
    }
    return nr;
}

typedef struct scan_job {
    const mast_vindex *v;
    const vquery *q;
    filter_ctx *f;
    size_t limit, want, parts;
    cand *heaps;           /* parts * (want + 1) */
    size_t *sizes;
    uint64_t *dists;
} scan_job;

static void scan_parts(void *ctx, size_t begin, size_t end, int worker)
{
    (void)worker;
    scan_job *j = ctx;
    for (size_t p = begin; p < end; p++)
        j->sizes[p] = scan_range(j->v, j->q, j->f, p * j->limit / j->parts,
                                 (p + 1) * j->limit / j->parts, j->want,
                                 j->heaps + p * (j->want + 1), &j->dists[p]);
}

/* Exact: every published node, best `want` into s->r (max-heap); with a pool
** and enough nodes, ranges are scanned in parallel and their heaps merged. */
static size_t brute_force(const mast_vindex *v, const vquery *q, size_t want, size_t limit,
                          filter_ctx *f, vscratch *s, uint64_t *n_dist, mast_pool *pool)
{
    if (!vindex_heap_reserve(&s->r, &s->r_cap, want + 2))
        return 0;
    size_t parts = pool && limit >= 16384 ? (size_t)mast_pool_size(pool) * 4 : 1;
    cand *heaps = parts > 1 ? malloc(parts * (want + 1) * sizeof *heaps) : NULL;
    size_t *sizes = parts > 1 ? calloc(parts, sizeof *sizes) : NULL;
    uint64_t *dists = parts > 1 ? calloc(parts, sizeof *dists) : NULL;
    if (!heaps || !sizes || !dists) {   /* one thread (or no memory for more) */
        free(heaps);
        free(sizes);
        free(dists);
        return scan_range(v, q, f, 0, limit, want, s->r, n_dist);
    }
    scan_job j = {v, q, f, limit, want, parts, heaps, sizes, dists};
    mast_pool_for(pool, parts, scan_parts, &j);
    size_t nr = 0;
    for (size_t p = 0; p < parts; p++) {
        *n_dist += dists[p];
        for (size_t i = 0; i < sizes[p]; i++) {
            cand c = heaps[p * (want + 1) + i];
            if (nr < want || c.d < s->r[0].d) {
                cand_push_max(s->r, &nr, c);
                if (nr > want)
                    cand_pop_max(s->r, &nr);
            }
        }
    }
    free(heaps);
    free(sizes);
    free(dists);
    return nr;
}

/* Whether a filter keeps so few nodes that scanning them beats the graph:
** a filtered beam of ef expands about ef / p nodes (p the kept fraction),
** some 10 distances each; a scan computes p n distances (and n filter
** calls); so scan when p^2 n < 10 ef. */
static int filter_is_narrow(const mast_vindex *v, filter_ctx *f, size_t limit, size_t ef)
{
    size_t samples = limit < 512 ? limit : 512, kept = 0;
    for (size_t i = 0; i < samples; i++)
        kept += (size_t)passes(v, (uint32_t)(i * limit / samples), f);
    double p = samples ? (double)kept / (double)samples : 0;
    return p * p * (double)limit < 10.0 * (double)ef;
}

/* best first: score (in .d) descending, then label */
static int by_score(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->d != y->d)
        return x->d > y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

mast_status mast_vindex_search(const mast_vindex *cv, const float *query,
                               const mast_vsearch_opts *o, mast_vhit *hits, size_t *n_hits,
                               mast_vsearch_stats *stats)
{
    mast_vindex *v = (mast_vindex *)cv;   /* scratch lists and the lock change */
    *n_hits = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (o->k == 0)
        return MAST_OK;
    size_t dim = (size_t)v->p.dim, k = o->k;
    size_t want = o->rerank_get ? (o->rerank_k > k ? o->rerank_k : 4 * k) : k;
    size_t ef = o->ef > 0 ? (size_t)o->ef : (k > 64 ? k : 64);
    if (ef < want)
        ef = want;
    vscratch *s = vindex_scratch_get(v);
    if (!s)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    pthread_rwlock_rdlock(&v->grow);
    size_t limit = atomic_load_explicit(&v->n, memory_order_acquire);
    const float *q = query;
    if (v->p.metric == MAST_METRIC_COS) {
        float ss = mast_vdot_f32(query, query, dim), inv = ss > 0 ? 1.0f / sqrtf(ss) : 0.0f;
        for (size_t i = 0; i < dim; i++)
            s->qbuf[i] = query[i] * inv;
        q = s->qbuf;
    }
    vquery vq;
    vindex_prepare(v, q, &vq, s->buf2);
    filter_ctx f = {o->filter, o->filter_ctx};
    uint64_t n_dist = 0;
    size_t nr;
    int brute = v->p.type == MAST_VINDEX_FLAT ||
                (o->filter && filter_is_narrow(v, &f, limit, ef));
    if (brute)
        nr = brute_force(v, &vq, want, limit, &f, s, &n_dist, o->pool);
    else
        nr = hnsw_search(v, &vq, ef, o->filter || v->n_deleted ? passes : NULL, &f, limit, s,
                         &n_dist);
    while (nr > want)
        cand_pop_max(s->r, &nr);
    /* the results heap becomes the ranked list: distances turn into scores */
    cand *best = s->r;
    size_t n = nr;
    for (size_t i = 0; i < n; i++)
        best[i].d = score_of(v, best[i].d);
    mast_status st = MAST_OK;
    if (o->rerank_get) {
        float *x = s->buf;
        for (size_t i = 0; i < n; i++) {
            if (!o->rerank_get(o->rerank_ctx, v->ids[best[i].id], x)) {
                st = mast_fail(MAST_ERR_NOT_FOUND, "re-ranking: no vector for id %lld",
                               (long long)v->ids[best[i].id]);
                break;
            }
            float s2 = v->p.metric == MAST_METRIC_L2 ? mast_vl2_f32(query, x, dim) : 0;
            float dot = mast_vdot_f32(v->p.metric == MAST_METRIC_COS ? q : query, x, dim);
            if (v->p.metric == MAST_METRIC_COS) {
                float xx = mast_vdot_f32(x, x, dim);
                dot = xx > 0 ? dot / sqrtf(xx) : 0;
            }
            best[i].d = v->p.metric == MAST_METRIC_L2 ? -s2 : dot;
        }
    }
    if (n > 1)
        qsort(best, n, sizeof *best, by_score);
    if (n > k)
        n = k;
    for (size_t i = 0; st == MAST_OK && i < n; i++)
        hits[i] = (mast_vhit){v->ids[best[i].id], best[i].d};
    pthread_rwlock_unlock(&v->grow);
    if (st == MAST_OK)
        *n_hits = n;
    if (stats) {
        stats->distances = n_dist;
        stats->brute_force = brute;
    }
    vindex_scratch_put(v, s);
    return st;
}

/* ---- compaction ---- */

mast_status mast_vindex_compact(mast_vindex *v, mast_pool *pool)
{
    if (v->n_deleted == 0)
        return MAST_OK;
    size_t n = atomic_load(&v->n), dim = (size_t)v->p.dim, live = 0;
    for (size_t l = 0; l < n; l++)
        live += !atomic_load(&v->deleted[l]);
    mast_vindex *nv;
    MAST_TRY(mast_vindex_create(&v->p, &nv));
    memcpy(nv->qmin, v->qmin, dim * sizeof *nv->qmin);
    memcpy(nv->qscale, v->qscale, dim * sizeof *nv->qscale);
    nv->trained = v->trained;
    float *vecs = malloc((live ? live : 1) * dim * sizeof *vecs);
    int64_t *ids = malloc((live ? live : 1) * sizeof *ids);
    mast_status st = vecs && ids ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t j = 0;
    for (size_t l = 0; st == MAST_OK && l < n; l++) {
        if (atomic_load(&v->deleted[l]))
            continue;
        const float *x = vindex_decode(v, (uint32_t)l, vecs + j * dim);
        if (x != vecs + j * dim)
            memcpy(vecs + j * dim, x, dim * sizeof *x);
        ids[j++] = v->ids[l];
    }
    if (st == MAST_OK)
        st = add_vectors(nv, pool, live, ids, vecs, 1);
    free(vecs);
    free(ids);
    if (st != MAST_OK) {
        mast_vindex_free(nv);
        return st;
    }
    /* swap the data, keep the locks */
    pthread_rwlock_wrlock(&v->grow);
    mast_vindex tmp = *v;
#define SWAP(f) v->f = nv->f; nv->f = tmp.f;
    SWAP(cap) SWAP(n_deleted) SWAP(codes) SWAP(ids) SWAP(deleted) SWAP(qmin) SWAP(qscale)
    SWAP(trained) SWAP(level) SWAP(links0) SWAP(upper_off) SWAP(upper) SWAP(upper_len)
    SWAP(upper_cap) SWAP(map) SWAP(file) SWAP(mapped) SWAP(unmap)
#undef SWAP
    atomic_store(&v->n, atomic_load(&nv->n));
    atomic_store(&nv->n, n);
    atomic_store(&v->entry, atomic_load(&nv->entry));
    atomic_store(&v->max_level, atomic_load(&nv->max_level));
    pthread_rwlock_unlock(&v->grow);
    mast_vindex_free(nv);
    return MAST_OK;
}
