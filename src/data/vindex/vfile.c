/*
** data/vindex/vfile.c — index files (see vindex.h): a 256-byte header, then
** sections at 64-byte boundaries in a fixed order, their sizes implied by the
** header. Opening maps the file and validates everything a search reads, so
** a damaged or hostile file is refused instead of crashing a search.
*/
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/status.h"
#include "data/vindex/vindex_impl.h"

#define VIX_MAGIC "MASTVIX1"
#define VIX_VERSION 1
#define VIX_HEADER 256

typedef struct vix_header {
    char magic[8];
    uint32_t version, type, metric, storage;
    uint32_t dim, m, ef_construction, trained;
    uint64_t seed, n, n_deleted, upper_len;
    uint32_t entry;
    int32_t max_level;
    uint64_t data_version, body_size, checksum;
} vix_header;

_Static_assert(sizeof(vix_header) <= VIX_HEADER, "header fits its block");
_Static_assert(sizeof(vix_header) % 8 == 0, "no tail padding");

enum { S_IDS, S_DELETED, S_LEVEL, S_UPPER_OFF, S_CODES, S_QMIN, S_QSCALE, S_LINKS0, S_UPPER, S_COUNT };

/* section sizes in bytes for n nodes */
static void section_sizes(const mast_vindex *v, uint64_t n, uint64_t upper_len, uint64_t sz[S_COUNT])
{
    int hnsw = v->p.type == MAST_VINDEX_HNSW;
    sz[S_IDS] = n * 8;
    sz[S_DELETED] = n;
    sz[S_LEVEL] = n;
    sz[S_UPPER_OFF] = n * 8;
    sz[S_CODES] = n * v->code_size;
    sz[S_QMIN] = sz[S_QSCALE] = (uint64_t)v->p.dim * 4;
    sz[S_LINKS0] = hnsw ? n * (uint64_t)(v->m0 + 1) * 4 : 0;
    sz[S_UPPER] = upper_len * 4;
}

static uint64_t pad64(uint64_t x) { return (x + 63) / 64 * 64; }

/* XXH3 of the header (its checksum field zero) and of every section */
static uint64_t checksum(const vix_header *hd, const void *const ptr[S_COUNT],
                         const uint64_t sz[S_COUNT])
{
    vix_header z = *hd;
    z.checksum = 0;
    uint64_t h[S_COUNT + 1];
    h[S_COUNT] = mast_hash64(&z, sizeof z);
    for (int i = 0; i < S_COUNT; i++)
        h[i] = mast_hash64(ptr[i], (size_t)sz[i]);
    return mast_hash64(h, sizeof h);
}

/* padding must be zero, so that no byte of a file goes unchecked */
static int zeros(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void pointers(const mast_vindex *v, const void *ptr[S_COUNT])
{
    ptr[S_IDS] = v->ids;
    ptr[S_DELETED] = (const void *)v->deleted;
    ptr[S_LEVEL] = v->level;
    ptr[S_UPPER_OFF] = v->upper_off;
    ptr[S_CODES] = v->codes;
    ptr[S_QMIN] = v->qmin;
    ptr[S_QSCALE] = v->qscale;
    ptr[S_LINKS0] = (const void *)v->links0;
    ptr[S_UPPER] = (const void *)v->upper;
}

mast_status mast_vindex_save(const mast_vindex *cv, const char *path, uint64_t data_version)
{
    mast_vindex *v = (mast_vindex *)cv;
    pthread_rwlock_rdlock(&v->grow);
    uint64_t n = atomic_load(&v->n), sz[S_COUNT], body = 0;
    section_sizes(v, n, v->upper_len, sz);
    const void *ptr[S_COUNT];
    pointers(v, ptr);
    for (int i = 0; i < S_COUNT; i++)
        body += pad64(sz[i]);
    vix_header h;
    memset(&h, 0, sizeof h);   /* no uninitialized padding in the file */
    memcpy(h.magic, VIX_MAGIC, 8);
    h.version = VIX_VERSION;
    h.type = (uint32_t)v->p.type;
    h.metric = (uint32_t)v->p.metric;
    h.storage = (uint32_t)v->p.storage;
    h.dim = (uint32_t)v->p.dim;
    h.m = (uint32_t)v->p.m;
    h.ef_construction = (uint32_t)v->p.ef_construction;
    h.trained = (uint32_t)v->trained;
    h.seed = v->p.seed;
    h.n = n;
    h.n_deleted = v->n_deleted;
    h.upper_len = v->upper_len;
    h.entry = atomic_load(&v->entry);
    h.max_level = atomic_load(&v->max_level);
    h.data_version = data_version;
    h.body_size = body;
    h.checksum = checksum(&h, ptr, sz);
    unsigned char block[VIX_HEADER] = {0};
    memcpy(block, &h, sizeof h);
    mast_file_out f;
    mast_status st = mast_file_begin(&f, path);
    if (st == MAST_OK) {
        mast_file_write(&f, block, sizeof block);
        for (int i = 0; i < S_COUNT; i++) {
            mast_file_write(&f, ptr[i], (size_t)sz[i]);
            mast_file_pad(&f, sz[i], 64);
        }
        st = mast_file_commit(&f);
    }
    pthread_rwlock_unlock(&v->grow);
    return st;
}

/* Everything a search follows: levels, upper offsets, link counts and targets, the entry. */
static int structure_ok(const mast_vindex *v, uint64_t n)
{
    size_t mx0 = (size_t)v->m0, mx = (size_t)v->p.m, dead = 0;
    for (uint64_t i = 0; i < n; i++)
        dead += atomic_load(&v->deleted[i]) != 0;
    if (dead != v->n_deleted)   /* the count and the flags must agree */
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        if (v->level[i] >= VINDEX_MAX_LEVEL)
            return 0;
        if (v->p.type != MAST_VINDEX_HNSW)
            continue;
        uint64_t need = (uint64_t)v->level[i] * (mx + 1);
        if (v->upper_off[i] > v->upper_len || need > v->upper_len - v->upper_off[i])
            return 0;
        for (int l = 0; l <= v->level[i]; l++) {
            _Atomic uint32_t *links = hnsw_links(v, (uint32_t)i, l);
            size_t cnt = atomic_load(&links[0]);
            if (cnt > (l ? mx : mx0))
                return 0;
            for (size_t j = 0; j < cnt; j++) {
                uint32_t t = atomic_load(&links[1 + j]);
                if (t >= n || v->level[t] < l)   /* a link at level l leads to a node that has it */
                    return 0;
            }
        }
    }
    int top = atomic_load(&v->max_level);
    if (v->p.type == MAST_VINDEX_HNSW && n > 0)
        return top >= 0 && atomic_load(&v->entry) < n && v->level[atomic_load(&v->entry)] == top;
    return top < VINDEX_MAX_LEVEL;
}

mast_status mast_vindex_open(const char *path, mast_vindex **out, uint64_t *data_version)
{
    *out = NULL;
    mast_mapped file;
    MAST_TRY(mast_mmap_file(path, &file));
    mast_status st = vindex_open_bytes(file, path, 1, out, data_version);
    if (st == MAST_OK)
        (*out)->unmap = 1;
    else
        mast_munmap(&file);
    return st;
}

mast_status vindex_open_bytes(mast_mapped file, const char *path, int verify, mast_vindex **out,
                              uint64_t *data_version)
{
    *out = NULL;
    vix_header h;
    if (file.size < VIX_HEADER || memcmp(file.data, VIX_MAGIC, 8) != 0) {
        return mast_fail(MAST_ERR_FORMAT, "%s: not a mast vector index", path);
    }
    memcpy(&h, file.data, sizeof h);
    if (h.version != VIX_VERSION) {
        return mast_fail(MAST_ERR_FORMAT, "%s: index format version %u (this mast reads %d)", path,
                         h.version, VIX_VERSION);
    }
    mast_vindex_params p = {(mast_vindex_type)h.type, (mast_metric)h.metric,
                            (mast_vstore)h.storage, (int)h.dim, (int)h.m,
                            (int)h.ef_construction, h.seed};
    mast_vindex *v;
    if (h.dim > 65536 || h.m > 128 || h.ef_construction > 10000 || h.seed == 0 ||
        mast_vindex_create(&p, &v) != MAST_OK) {
        return mast_fail(MAST_ERR_FORMAT, "%s: the header's parameters are invalid", path);
    }
    uint64_t sz[S_COUNT], body = 0;
    int ok = h.n < UINT32_MAX && h.n_deleted <= h.n &&
             h.upper_len <= h.n * (uint64_t)VINDEX_MAX_LEVEL * (uint64_t)(h.m + 1);
    if (ok) {
        section_sizes(v, h.n, h.upper_len, sz);
        for (int i = 0; i < S_COUNT; i++)
            body += pad64(sz[i]);
        ok = body == h.body_size && file.size == VIX_HEADER + body;
    }
    if (!ok) {
        mast_vindex_free(v);
        return mast_fail(MAST_ERR_FORMAT, "%s: truncated or inconsistent (%zu bytes)", path, file.size);
    }
    const void *ptr[S_COUNT];
    const unsigned char *at = file.data + VIX_HEADER;
    ok = zeros(file.data + sizeof h, VIX_HEADER - sizeof h);
    for (int i = 0; i < S_COUNT; i++) {
        ptr[i] = at;
        ok &= zeros(at + sz[i], (size_t)(pad64(sz[i]) - sz[i]));
        at += pad64(sz[i]);
    }
    if (!ok || (verify && checksum(&h, ptr, sz) != h.checksum)) {
        mast_vindex_free(v);
        return mast_fail(MAST_ERR_FORMAT, "%s: checksum mismatch (the file is corrupt)", path);
    }
    free(v->qmin);
    free(v->qscale);
    v->mapped = 1;
    v->file = file;
    v->ids = (int64_t *)ptr[S_IDS];
    v->deleted = (_Atomic unsigned char *)ptr[S_DELETED];
    v->level = (unsigned char *)ptr[S_LEVEL];
    v->upper_off = (uint64_t *)ptr[S_UPPER_OFF];
    v->codes = (unsigned char *)ptr[S_CODES];
    v->qmin = (float *)ptr[S_QMIN];
    v->qscale = (float *)ptr[S_QSCALE];
    v->links0 = (_Atomic uint32_t *)ptr[S_LINKS0];
    v->upper = (_Atomic uint32_t *)ptr[S_UPPER];
    v->cap = (size_t)h.n;
    v->upper_len = v->upper_cap = (size_t)h.upper_len;
    v->n_deleted = (size_t)h.n_deleted;
    v->trained = h.trained != 0;
    atomic_store(&v->n, (size_t)h.n);
    atomic_store(&v->entry, h.entry);
    atomic_store(&v->max_level, h.max_level);
    mast_status st = structure_ok(v, h.n)
                         ? vindex_build_map(v)
                         : mast_fail(MAST_ERR_FORMAT, "%s: the graph is inconsistent", path);
    if (st != MAST_OK) {
        mast_vindex_free(v);
        return st;
    }
    if (data_version)
        *data_version = h.data_version;
    *out = v;
    return MAST_OK;
}

mast_status vindex_make_owned(mast_vindex *v)
{
    if (!v->mapped)
        return MAST_OK;
    uint64_t n = atomic_load(&v->n), sz[S_COUNT];
    section_sizes(v, n, v->upper_len, sz);
    const void *ptr[S_COUNT];
    pointers(v, ptr);
    void *copy[S_COUNT];
    int ok = 1;
    for (int i = 0; i < S_COUNT; i++) {
        copy[i] = malloc(sz[i] ? (size_t)sz[i] : 1);
        ok &= copy[i] != NULL;
        if (copy[i] && sz[i])
            memcpy(copy[i], ptr[i], (size_t)sz[i]);
    }
    if (!ok) {
        for (int i = 0; i < S_COUNT; i++)
            free(copy[i]);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    if (v->unmap)
        mast_munmap(&v->file);
    v->mapped = v->unmap = 0;
    v->ids = copy[S_IDS];
    v->deleted = copy[S_DELETED];
    v->level = copy[S_LEVEL];
    v->upper_off = copy[S_UPPER_OFF];
    v->codes = copy[S_CODES];
    v->qmin = copy[S_QMIN];
    v->qscale = copy[S_QSCALE];
    v->links0 = copy[S_LINKS0];
    v->upper = copy[S_UPPER];
    v->cap = (size_t)n;
    v->upper_cap = v->upper_len;
    return MAST_OK;
}
