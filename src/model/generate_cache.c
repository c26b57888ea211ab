/*
** model/generate_cache.c — the local engine's slots saved to a folder when it
** closes and restored when it opens again (mast_local_opts.cache_dir,
** `mast serve --cache-dir`): the prompt cache outlives an unload, a restart,
** a scale to zero.
**
** A file per slot, DIR/<stem>-<key>-<slot>.kvc, written to a temporary name
** and renamed. <key> is a hash of what makes the bytes valid: the model file
** (its real path, size, modification time and inode) and the engine's shape
** (layers, KV heads, head size, KV type, context). The file says it again,
** with the tokens the slot holds and a hash of everything after the header,
** and a file that does not match in every field is left out with a warning:
** a cache is never restored into another model. A model that changes on disk
** gets a new key; files for old keys stay until removed (the .kvc files in DIR).
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mmap.h"
#include "base/status.h"
#include "model/generate_impl.h"

#define MAGIC "MASTKVC1"
#define MIN_SAVED 32   /* shorter prefixes are not reused (generate_seq.c): not worth a file */

typedef struct header {
    char magic[8];
    uint64_t key;
    uint32_t n_layer, n_head_kv, head_dim, kv_type, n_ctx, n_tokens;
    uint64_t payload_hash;       /* of the tokens and the KV bytes */
} header;
_Static_assert(sizeof(header) == 48, "the header is written as it is: no padding");

static uint64_t model_key(const local *l)
{
    char real[PATH_MAX];
    struct stat sb;
    const mast_llama_info *in = mast_llama_info_of(l->llama);
    mast_buf b = {0};
    if (!realpath(l->path, real))
        snprintf(real, sizeof real, "%s", l->path);
    if (stat(real, &sb) != 0)
        memset(&sb, 0, sizeof sb);
    mast_buf_printf(&b, "%s|%lld|%lld.%09ld|%llu|%d|%d|%d|%d|%d", real, (long long)sb.st_size,
                    (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
                    (unsigned long long)sb.st_ino, in->n_layer, in->n_head_kv, in->head_dim,
                    (int)l->kv_type, l->n_ctx);
    uint64_t k = mast_hash64(b.data, b.len);
    mast_buf_free(&b);
    return k;
}

static mast_status file_name(const local *l, int slot, mast_buf *out)
{
    const char *base = strrchr(l->path, '/');
    base = base ? base + 1 : l->path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf"))
        n -= 5;
    out->len = 0;
    return mast_buf_printf(out, "%s/%.*s-%016llx-%d.kvc", l->cache_dir, (int)n, base,
                           (unsigned long long)l->cache_key, slot);
}

static void fill_header(const local *l, header *h, uint32_t n_tokens)
{
    const mast_llama_info *in = mast_llama_info_of(l->llama);
    memset(h, 0, sizeof *h);
    memcpy(h->magic, MAGIC, 8);
    h->key = l->cache_key;
    h->n_layer = (uint32_t)in->n_layer;
    h->n_head_kv = (uint32_t)in->n_head_kv;
    h->head_dim = (uint32_t)in->head_dim;
    h->kv_type = (uint32_t)l->kv_type;
    h->n_ctx = (uint32_t)l->n_ctx;
    h->n_tokens = n_tokens;
}

/* The payload's hash, from the file (after the header). */
static bool payload_hash(FILE *f, uint64_t *out)
{
    mast_hasher *h = mast_hasher_new();
    static unsigned char buf[1 << 16];
    size_t n;
    if (!h)
        return false;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        mast_hasher_add(h, buf, n);
    char hex[MAST_HASH_HEX_LEN + 1];
    bool ok = !ferror(f);
    mast_hasher_hex(h, hex);
    *out = strtoull(hex + 16, NULL, 16);
    return ok;
}

static mast_status save_slot(local *l, int i, const slot *s)
{
    int n = mast_llama_ctx_used(s->ctx);
    if ((size_t)n > s->n_held)
        n = (int)s->n_held;
    mast_buf path = {0}, tmp = {0};
    MAST_TRY(file_name(l, i, &path));
    if (n < MIN_SAVED) {   /* nothing worth keeping: an older file would be stale */
        unlink(mast_buf_cstr(&path));
        mast_buf_free(&path);
        return MAST_OK;
    }
    mast_status st = mast_buf_printf(&tmp, "%s.tmp", mast_buf_cstr(&path));
    FILE *f = st == MAST_OK ? fopen(mast_buf_cstr(&tmp), "w+b") : NULL;
    if (st == MAST_OK && !f)
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&tmp), strerror(errno));
    header h;
    fill_header(l, &h, (uint32_t)n);
    if (st == MAST_OK && (fwrite(&h, sizeof h, 1, f) != 1 ||
                          fwrite(s->held, sizeof *s->held, (size_t)n, f) != (size_t)n))
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&tmp), strerror(errno));
    if (st == MAST_OK)
        st = mast_llama_ctx_write(s->ctx, n, f);
    if (st == MAST_OK && (fflush(f) != 0 || fseek(f, (long)sizeof h, SEEK_SET) != 0 ||
                          !payload_hash(f, &h.payload_hash) || fseek(f, 0, SEEK_SET) != 0 ||
                          fwrite(&h, sizeof h, 1, f) != 1))
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&tmp), strerror(errno));
    if (f && fclose(f) != 0 && st == MAST_OK)
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&tmp), strerror(errno));
    if (st == MAST_OK && rename(mast_buf_cstr(&tmp), mast_buf_cstr(&path)) != 0)
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&path), strerror(errno));
    if (st != MAST_OK)
        unlink(mast_buf_cstr(&tmp));
    mast_buf_free(&path);
    mast_buf_free(&tmp);
    return st;
}

void gen_cache_save(local *l)
{
    if (!l->cache_dir || !l->slots)
        return;
    int saved = 0;
    for (int i = 0; i < l->n_slots; i++) {
        const slot *s = &l->slots[i];
        if (s->seq)
            continue;
        if (save_slot(l, i, s) != MAST_OK)
            mast_warn("prompt cache not saved: %s", mast_errmsg());
        else
            saved += s->n_held >= MIN_SAVED;
    }
    mast_debug("%s: %d slot caches saved to %s", l->path, saved, l->cache_dir);
}

/* One slot's file into it; MAST_ERR_NOT_FOUND when there is none. */
static mast_status restore_slot(local *l, int i, slot *s, size_t *budget_left)
{
    mast_buf path = {0};
    MAST_TRY(file_name(l, i, &path));
    FILE *f = fopen(mast_buf_cstr(&path), "rb");
    mast_status st = MAST_OK;
    header h, want;
    if (!f) {
        st = errno == ENOENT ? MAST_ERR_NOT_FOUND : mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&path),
                                                             strerror(errno));
    } else if (fread(&h, sizeof h, 1, f) != 1) {
        st = mast_fail(MAST_ERR_FORMAT, "%s: too short for a prompt cache", mast_buf_cstr(&path));
    } else {
        fill_header(l, &want, h.n_tokens);
        want.payload_hash = h.payload_hash;
        uint64_t sum = 0;
        if (memcmp(&h, &want, sizeof h))
            st = mast_fail(MAST_ERR_FORMAT, "%s: not a prompt cache of this model and KV type",
                           mast_buf_cstr(&path));
        else if (h.n_tokens < MIN_SAVED || h.n_tokens > (uint32_t)l->n_ctx)
            st = mast_fail(MAST_ERR_FORMAT, "%s: %u tokens do not fit a context of %d",
                           mast_buf_cstr(&path), h.n_tokens, l->n_ctx);
        else if (!payload_hash(f, &sum) || sum != h.payload_hash)
            st = mast_fail(MAST_ERR_FORMAT, "%s: damaged (its contents do not match their hash)",
                           mast_buf_cstr(&path));
    }
    size_t need = st == MAST_OK ? mast_llama_ctx_state_bytes(s->ctx, (int)h.n_tokens) : 0;
    if (st == MAST_OK && l->kv_budget && need > *budget_left)
        st = MAST_ERR_NOT_FOUND;   /* no room under the budget: the rest stay on disk */
    if (st == MAST_OK && s->cap_held < h.n_tokens) {
        int32_t *held = realloc(s->held, h.n_tokens * sizeof *held);
        if (!held)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        else {
            s->held = held;
            s->cap_held = h.n_tokens;
        }
    }
    if (st == MAST_OK && (fseek(f, (long)sizeof h, SEEK_SET) != 0 ||
                          fread(s->held, sizeof *s->held, h.n_tokens, f) != h.n_tokens))
        st = mast_fail(MAST_ERR_FORMAT, "%s: shorter than its header says", mast_buf_cstr(&path));
    if (st == MAST_OK)
        st = mast_llama_ctx_read(s->ctx, (int)h.n_tokens, f);
    if (st == MAST_OK) {
        s->n_held = h.n_tokens;
        if (l->kv_budget)
            *budget_left -= mast_llama_ctx_bytes(s->ctx) < *budget_left ? mast_llama_ctx_bytes(s->ctx) : *budget_left;
    } else {
        s->n_held = 0;
        mast_llama_ctx_release(s->ctx);
    }
    if (f)
        fclose(f);
    mast_buf_free(&path);
    return st;
}

mast_status gen_cache_open(local *l, const char *dir)
{
    if (!dir)
        return MAST_OK;
    struct stat sb;
    MAST_TRY(mast_mkdirs(dir));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mast_fail(MAST_ERR_IO, "--cache-dir %s: not a folder", dir);
    if (!(l->cache_dir = strdup(dir)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    l->cache_key = model_key(l);
    size_t left = l->kv_budget;
    int restored = 0;
    for (int i = 0; i < l->n_slots; i++) {
        mast_status st = restore_slot(l, i, &l->slots[i], &left);
        if (st == MAST_OK)
            restored++;
        else if (st != MAST_ERR_NOT_FOUND)
            mast_warn("prompt cache left out: %s", mast_errmsg());
    }
    if (restored)
        mast_info("%s: %d slot caches restored from %s", l->path, restored, dir);
    return MAST_OK;
}
