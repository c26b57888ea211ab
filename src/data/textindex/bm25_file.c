/*
** data/textindex/bm25_file.c — the BM25 index on disk (see bm25.h): a
** checksummed manifest naming the segment files (path-<gen>) in order with
** their deletion bitmaps; written by writing new files and renaming the
** manifest, so a crash leaves the old index or the new one.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/mmap.h"
#include "base/status.h"
#include "data/textindex/bm25_impl.h"

/* ---- files ---- */

#define MANIFEST_MAGIC "MASTTIX1"
#define MANIFEST_VERSION 1

typedef struct manifest_head {
    char magic[8];
    uint32_t version, n_segs;
    uint64_t data_version, next_gen;
    int64_t max_chunk;
    char tag[64];
} manifest_head;

typedef struct manifest_seg {
    uint64_t gen, checksum, size;
    uint32_t n_docs, n_deleted;
} manifest_seg;

static char *seg_path(const char *path, uint64_t gen)
{
    mast_buf b = {0};
    if (mast_buf_printf(&b, "%s-%llu", path, (unsigned long long)gen) != MAST_OK) {
        mast_buf_free(&b);
        return NULL;
    }
    return mast_buf_detach(&b);
}

/* Removes path-<digits> files other than the segments named (keep[0..n)). */
static void remove_stale(const char *path, const segment *keep, size_t n)
{
    const char *slash = strrchr(path, '/');
    mast_buf dir = {0};
    if (slash ? mast_buf_append(&dir, path, (size_t)(slash - path + 1)) != MAST_OK
              : mast_buf_puts(&dir, "./") != MAST_OK) {
        mast_buf_free(&dir);
        return;
    }
    const char *base = slash ? slash + 1 : path;
    size_t nb = strlen(base);
    DIR *d = opendir(mast_buf_cstr(&dir));
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, nb) != 0 || e->d_name[nb] != '-' || !e->d_name[nb + 1])
            continue;
        char *endp;
        errno = 0;
        unsigned long long gen = strtoull(e->d_name + nb + 1, &endp, 10);
        if (*endp || errno)
            continue;
        int used = 0;
        for (size_t i = 0; i < n && !used; i++)
            used = keep[i].gen == gen;
        if (!used) {
            size_t mark = dir.len;
            if (mast_buf_puts(&dir, e->d_name) == MAST_OK)
                unlink(dir.data);
            dir.len = mark;
            dir.data[mark] = '\0';
        }
    }
    if (d)
        closedir(d);
    mast_buf_free(&dir);
}

void mast_bm25_remove_files(const char *path)
{
    unlink(path);
    remove_stale(path, NULL, 0);
}

mast_status mast_bm25_save(mast_bm25 *x, const char *path, uint64_t data_version, const char *tag)
{
    MAST_TRY(mast_bm25_flush(x));
    /* the generation after every file already there, so no live file is overwritten */
    for (size_t i = 0; i < x->n_segs; i++)
        if (x->segs[i].gen >= x->next_gen)
            x->next_gen = x->segs[i].gen + 1;
    for (size_t i = 0; i < x->n_segs; i++) {
        segment *s = &x->segs[i];
        if (s->gen)
            continue;
        char *p = seg_path(path, x->next_gen);
        if (!p)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        mast_file_out f;
        mast_status st = mast_file_begin(&f, p);
        if (st == MAST_OK) {
            mast_file_write(&f, s->seg.data, s->seg.size);
            st = mast_file_commit(&f);
        }
        free(p);
        if (st != MAST_OK)
            return st;
        s->gen = x->next_gen++;
    }
    manifest_head h = {{0}, MANIFEST_VERSION, (uint32_t)x->n_segs, data_version, x->next_gen,
                       x->max_chunk, {0}};
    memcpy(h.magic, MANIFEST_MAGIC, 8);
    if (tag)
        snprintf(h.tag, sizeof h.tag, "%s", tag);
    mast_buf b = {0};
    mast_status st = mast_buf_append(&b, &h, sizeof h);
    for (size_t i = 0; st == MAST_OK && i < x->n_segs; i++) {
        const segment *s = &x->segs[i];
        manifest_seg e = {s->gen, s->seg.checksum, s->seg.size, s->seg.n_docs, s->n_deleted};
        st = mast_buf_append(&b, &e, sizeof e);
    }
    for (size_t i = 0; st == MAST_OK && i < x->n_segs; i++)
        if (x->segs[i].n_deleted)
            st = mast_buf_append(&b, x->segs[i].deleted, (x->segs[i].seg.n_docs + 7) / 8);
    uint64_t sum = st == MAST_OK ? mast_hash64(b.data, b.len) : 0;
    if (st == MAST_OK)
        st = mast_buf_append(&b, &sum, sizeof sum);
    if (st == MAST_OK) {
        mast_file_out f;
        st = mast_file_begin(&f, path);
        if (st == MAST_OK) {
            mast_file_write(&f, b.data, b.len);
            st = mast_file_commit(&f);
        }
    }
    mast_buf_free(&b);
    if (st == MAST_OK)
        remove_stale(path, x->segs, x->n_segs);
    return st;
}

mast_status mast_bm25_open(const char *path, const mast_bm25_params *params, mast_bm25 **out,
                           uint64_t *data_version, char *tag)
{
    *out = NULL;
    char *data;
    size_t len;
    mast_status st = mast_read_file(path, (size_t)1 << 32, &data, &len);
    if (st != MAST_OK) {
        if (access(path, F_OK) != 0 && errno == ENOENT)
            return mast_fail(MAST_ERR_NOT_FOUND, "%s: no text index", path);
        return st;
    }
    manifest_head h;
    uint64_t sum;
    const char *why = NULL;
    if (len < sizeof h + sizeof sum) {
        why = "too short";
    } else {
        memcpy(&h, data, sizeof h);
        memcpy(&sum, data + len - sizeof sum, sizeof sum);
        if (memcmp(h.magic, MANIFEST_MAGIC, 8) != 0)
            why = "not a mast text index";
        else if (h.version != MANIFEST_VERSION)
            why = "unsupported text index version";
        else if (mast_hash64(data, len - sizeof sum) != sum)
            why = "checksum mismatch (the file is corrupt)";
        else if (h.n_segs > (len - sizeof h) / sizeof(manifest_seg))
            why = "segment table out of range";
    }
    mast_bm25 *x = NULL;
    if (!why) {
        st = mast_bm25_create(&x, params);
        if (st != MAST_OK) {
            free(data);
            return st;
        }
        x->next_gen = h.next_gen;
        x->max_chunk = h.max_chunk;
        size_t bits_at = sizeof h + (size_t)h.n_segs * sizeof(manifest_seg);
        for (uint32_t i = 0; !why && st == MAST_OK && i < h.n_segs; i++) {
            manifest_seg e;
            memcpy(&e, data + sizeof h + i * sizeof e, sizeof e);
            size_t nbits = (e.n_docs + 7) / 8;
            if (e.n_deleted > e.n_docs ||
                (e.n_deleted && bits_at + nbits > len - sizeof sum)) {
                why = "deleted-chunk table out of range";
                break;
            }
            char *p = seg_path(path, e.gen);
            mast_mapped map = {0};
            st = p && mast_grow_array((void **)&x->segs, &x->cap_segs, x->n_segs + 1,
                                      sizeof *x->segs)
                     ? mast_mmap_file(p, &map)
                     : mast_fail(MAST_ERR_NOMEM, "out of memory");
            if (st == MAST_OK) {
                segment *s = &x->segs[x->n_segs];
                memset(s, 0, sizeof *s);
                st = seg_parse(&s->seg, map.data, map.size, NULL, &map, 1, p);
                if (st == MAST_OK && (s->seg.checksum != e.checksum || s->seg.n_docs != e.n_docs)) {
                    seg_free(&s->seg);
                    st = mast_fail(MAST_ERR_FORMAT, "%s: not the segment the manifest names", p);
                }
                if (st == MAST_OK) {
                    s->gen = e.gen;
                    x->n_segs++;
                    if (e.n_deleted) {
                        if (!(s->deleted = malloc(nbits))) {
                            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                        } else {
                            memcpy(s->deleted, data + bits_at, nbits);
                            for (uint32_t d = 0; d < e.n_docs; d++)
                                s->n_deleted += deleted_at(s, d);
                            if (s->n_deleted != e.n_deleted)
                                why = "deleted-chunk count does not match";
                        }
                        bits_at += nbits;
                    }
                }
            } else if (st != MAST_ERR_NOMEM) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", mast_errmsg());
                st = mast_fail(MAST_ERR_FORMAT, "%s (a segment of %s)", msg, path);
            }
            free(p);
        }
        if (!why && st == MAST_OK && x->n_segs &&
            x->segs[x->n_segs - 1].seg.chunk_ids[x->segs[x->n_segs - 1].seg.n_docs - 1] > x->max_chunk)
            why = "chunk ids beyond the recorded maximum";
        for (size_t i = 1; !why && st == MAST_OK && i < x->n_segs; i++) {
            const mast_seg *a = &x->segs[i - 1].seg, *b = &x->segs[i].seg;
            if (a->n_docs && b->n_docs && a->chunk_ids[a->n_docs - 1] >= b->chunk_ids[0])
                why = "segments overlap";
        }
    }
    free(data);
    if (why || st != MAST_OK) {
        mast_bm25_free(x);
        return why ? mast_fail(MAST_ERR_FORMAT, "%s: %s", path, why) : st;
    }
    if (data_version)
        *data_version = h.data_version;
    if (tag)
        memcpy(tag, h.tag, sizeof h.tag), tag[sizeof h.tag - 1] = '\0';
    *out = x;
    return MAST_OK;
}
