/*
** data/textindex/segment.c — postings segments: writing, reading, merging
** (see segment.h).
*/
#include "data/textindex/segment.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/status.h"

static const char SEG_MAGIC[8] = {'M', 'A', 'S', 'T', 'T', 'S', 'G', '1'};

size_t seg_vbyte_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t seg_vbyte_get(const uint8_t *p, const uint8_t *limit, uint32_t *v)
{
    uint32_t x = 0;
    for (size_t i = 0; i < 5; i++) {
        if (p + i >= limit)
            return 0;
        uint8_t byte = p[i];
        if (i == 4 && byte > 0x0f)
            return 0;   /* more than 32 bits */
        x |= (uint32_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* Dictionary order: bytes, then the shorter first. */
static int term_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

/* ---- reading ---- */

static uint64_t image_checksum(const uint8_t *data, size_t size)
{
    seg_footer f;
    memcpy(&f, data + size - sizeof f, sizeof f);
    f.checksum = 0;
    uint64_t h[2] = {mast_hash64(data, size - sizeof f), mast_hash64(&f, sizeof f)};
    return mast_hash64(h, sizeof h);
}

mast_status seg_parse(mast_seg *s, const uint8_t *data, size_t size, uint8_t *owned,
                      const mast_mapped *map, int verify, const char *name)
{
    memset(s, 0, sizeof *s);
    s->owned = owned;
    if (map)
        s->map = *map;
    seg_footer f;
    const char *why = NULL;
    if (size < sizeof f || ((uintptr_t)data & 7)) {
        why = "too short";
        goto bad;
    }
    memcpy(&f, data + size - sizeof f, sizeof f);
    if (memcmp(f.magic, SEG_MAGIC, sizeof SEG_MAGIC) != 0) {
        why = "not a mast postings segment";
        goto bad;
    }
    if (f.version != SEG_VERSION) {
        why = "unsupported segment version";
        goto bad;
    }
    uint64_t body = size - sizeof f;
    if (f.off_dict > f.off_strings || f.off_strings > f.off_docs || f.off_docs > body ||
        f.off_dict % 8 || f.off_docs % 8 ||
        (f.off_strings - f.off_dict) / sizeof(seg_term) != f.n_terms ||
        (f.off_strings - f.off_dict) % sizeof(seg_term) ||
        (body - f.off_docs) % 24 || (body - f.off_docs) / 24 != f.n_docs) {
        why = "section table out of range";
        goto bad;
    }
    if (verify && image_checksum(data, size) != f.checksum) {
        why = "checksum mismatch (the file is corrupt)";
        goto bad;
    }
    s->data = data;
    s->size = size;
    s->n_docs = f.n_docs;
    s->n_terms = f.n_terms;
    s->sum_lb = f.sum_lb;
    s->sum_lt = f.sum_lt;
    s->checksum = f.checksum;
    s->terms = (const seg_term *)(data + f.off_dict);
    s->strings = (const char *)(data + f.off_strings);
    s->strings_len = f.off_docs - f.off_strings;
    s->chunk_ids = (const int64_t *)(data + f.off_docs);
    s->doc_ids = s->chunk_ids + f.n_docs;
    s->lb = (const uint32_t *)(s->doc_ids + f.n_docs);
    s->lt = s->lb + f.n_docs;
    uint64_t prev_end = 0, lb = 0, lt = 0;
    for (uint32_t i = 0; i < f.n_terms; i++) {
        const seg_term *t = &s->terms[i];
        uint64_t blocks = ((uint64_t)t->df + SEG_BLOCK - 1) / SEG_BLOCK;
        if ((uint64_t)t->str_off + t->str_len > s->strings_len || t->df == 0 ||
            t->df > f.n_docs || t->post_off % 4 || t->post_off < prev_end ||
            t->post_off + blocks * sizeof(seg_skip) > f.off_dict) {
            why = "dictionary entry out of range";
            goto bad;
        }
        if (i && term_cmp(s->strings + s->terms[i - 1].str_off, s->terms[i - 1].str_len,
                          s->strings + t->str_off, t->str_len) >= 0) {
            why = "dictionary out of order";
            goto bad;
        }
        prev_end = t->post_off + blocks * sizeof(seg_skip);
        s->total_postings += t->df;
    }
    for (uint32_t i = 0; i < f.n_docs; i++) {
        if (i && s->chunk_ids[i] <= s->chunk_ids[i - 1]) {
            why = "chunk ids out of order";
            goto bad;
        }
        lb += s->lb[i];
        lt += s->lt[i];
    }
    if (lb != f.sum_lb || lt != f.sum_lt) {
        why = "document lengths do not add up";
        goto bad;
    }
    return MAST_OK;
bad:
    seg_free(s);
    return mast_fail(MAST_ERR_FORMAT, "%s: %s", name, why);
}

void seg_free(mast_seg *s)
{
    mast_munmap(&s->map);
    free(s->owned);
    memset(s, 0, sizeof *s);
}

long seg_find_term(const mast_seg *s, const char *t, size_t n)
{
    size_t lo = 0, hi = s->n_terms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const seg_term *e = &s->terms[mid];
        int c = term_cmp(s->strings + e->str_off, e->str_len, t, n);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long seg_find_chunk(const mast_seg *s, int64_t chunk_id)
{
    size_t lo = 0, hi = s->n_docs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->chunk_ids[mid] == chunk_id)
            return (long)mid;
        if (s->chunk_ids[mid] < chunk_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void cursor_end(seg_cursor *c)
{
    c->doc = SEG_END;
    c->block = c->n_blocks;
    c->pos = c->n = 0;
}

/* Decodes block b; on damage the list ends. */
static void decode_block(seg_cursor *c, uint32_t b)
{
    uint32_t start = b ? c->skips[b - 1].end : 0, end = c->skips[b].end;
    uint32_t count = b + 1 < c->n_blocks ? SEG_BLOCK : c->last_n;
    const uint8_t *p = c->base + start, *lim = c->base + end;
    if (end < start || end > (size_t)(c->limit - c->base))
        goto bad;
    uint32_t prev = b ? c->skips[b - 1].last_doc : UINT32_MAX;
    uint32_t n_docs = c->s->n_docs;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t gap;
        size_t used = seg_vbyte_get(p, lim, &gap);
        uint32_t doc = prev + 1 + gap;
        if (!used || gap >= n_docs || doc >= n_docs || (prev != UINT32_MAX && doc <= prev))
            goto bad;
        p += used;
        c->docs[i] = prev = doc;
    }
    if (prev != c->skips[b].last_doc)
        goto bad;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v, tft = 0;
        size_t used = seg_vbyte_get(p, lim, &v);
        if (!used)
            goto bad;
        p += used;
        if (v & 1) {
            used = seg_vbyte_get(p, lim, &tft);
            if (!used)
                goto bad;
            p += used;
        }
        c->tfb[i] = v >> 1;
        c->tft[i] = tft;
    }
    c->block = b;
    c->n = count;
    c->pos = 0;
    c->doc = c->docs[0];
    c->loaded = 1;
    c->decoded += count;
    return;
bad:
    c->bad = 1;
    cursor_end(c);
}

void seg_cursor_init(seg_cursor *c, const mast_seg *s, long term)
{
    seg_cursor_init_lazy(c, s, term);
    if (c->doc != SEG_END)
        decode_block(c, 0);
}

void seg_cursor_init_lazy(seg_cursor *c, const mast_seg *s, long term)
{
    c->s = s;
    c->bad = 0;
    c->loaded = 0;
    c->decoded = 0;
    if (term < 0) {
        c->n_blocks = 0;
        cursor_end(c);
        return;
    }
    const seg_term *t = &s->terms[term];
    c->n_blocks = (t->df + SEG_BLOCK - 1) / SEG_BLOCK;
    c->skips = (const seg_skip *)(s->data + t->post_off);
    c->base = s->data + t->post_off + (size_t)c->n_blocks * sizeof(seg_skip);
    uint64_t next = (uint64_t)term + 1 < s->n_terms ? s->terms[term + 1].post_off
                                                    : (uint64_t)((const uint8_t *)s->terms - s->data);
    c->limit = s->data + next;
    c->last_n = t->df - (c->n_blocks - 1) * SEG_BLOCK;
    c->block = c->pos = c->n = 0;
    c->doc = 0;   /* not loaded: the first posting is at or after 0 */
}

static void load_block(seg_cursor *c, uint32_t b)
{
    if (b >= c->n_blocks) {
        cursor_end(c);
        return;
    }
    decode_block(c, b);
}

uint32_t seg_cursor_next(seg_cursor *c)
{
    if (c->doc == SEG_END)
        return SEG_END;
    if (++c->pos < c->n)
        return c->doc = c->docs[c->pos];
    load_block(c, c->block + 1);
    return c->doc;
}

uint32_t seg_cursor_advance(seg_cursor *c, uint32_t target)
{
    if (c->doc == SEG_END || (c->loaded && c->doc >= target))
        return c->doc;
    uint32_t b = c->block;
    while (b < c->n_blocks && c->skips[b].last_doc < target)
        b++;
    if (b != c->block || !c->loaded) {
        load_block(c, b);
        if (c->doc == SEG_END)
            return SEG_END;
    }
    while (c->docs[c->pos] < target)
        c->pos++;   /* stops: the block's last doc is >= target */
    return c->doc = c->docs[c->pos];
}

const seg_skip *seg_cursor_block_of(const seg_cursor *c, uint32_t target)
{
    if (c->doc == SEG_END)
        return NULL;
    uint32_t b = c->block;
    while (b < c->n_blocks && c->skips[b].last_doc < target)
        b++;
    return b < c->n_blocks ? &c->skips[b] : NULL;
}

/* ---- writing ---- */

void seg_writer_begin(seg_writer *w, uint32_t n_docs, const uint32_t *lb, const uint32_t *lt)
{
    memset(w, 0, sizeof *w);
    w->n_docs = n_docs;
    w->lb = lb;
    w->lt = lt;
}

static void pad_to(seg_writer *w, size_t align)
{
    static const uint8_t zeros[8] = {0};
    if (w->st == MAST_OK && w->out.len % align)
        w->st = mast_buf_append(&w->out, zeros, align - w->out.len % align);
}

void seg_writer_term(seg_writer *w, const char *t, size_t len, const uint32_t *docs,
                     const uint32_t *tfb, const uint32_t *tft, uint32_t n)
{
    pad_to(w, 4);
    if (w->st != MAST_OK || n == 0)
        return;
    if (!mast_grow_array((void **)&w->terms, &w->cap_terms, w->n_terms + 1, sizeof *w->terms)) {
        w->st = mast_fail(MAST_ERR_NOMEM, "out of memory writing postings");
        return;
    }
    seg_term *e = &w->terms[w->n_terms++];
    *e = (seg_term){(uint32_t)w->strings.len, (uint32_t)len, n, 0, w->out.len};
    w->st = mast_buf_append(&w->strings, t, len);
    uint32_t n_blocks = (n + SEG_BLOCK - 1) / SEG_BLOCK;
    size_t skip_at = w->out.len;
    if (w->st == MAST_OK)
        w->st = mast_buf_reserve(&w->out, (size_t)n_blocks * sizeof(seg_skip) + SEG_BLOCK * 15);
    if (w->st != MAST_OK)
        return;
    memset(w->out.data + w->out.len, 0, (size_t)n_blocks * sizeof(seg_skip));
    w->out.len += (size_t)n_blocks * sizeof(seg_skip);
    size_t first = w->out.len;
    uint32_t prev = UINT32_MAX;
    for (uint32_t b = 0; b < n_blocks; b++) {
        uint32_t lo = b * SEG_BLOCK, hi = lo + SEG_BLOCK < n ? lo + SEG_BLOCK : n;
        seg_skip k = {docs[hi - 1], 0, 0, 0, UINT32_MAX, UINT32_MAX};
        uint8_t *p = (uint8_t *)w->out.data + w->out.len;
        for (uint32_t i = lo; i < hi; i++) {
            if (docs[i] >= w->n_docs || (prev != UINT32_MAX && docs[i] <= prev)) {
                w->st = mast_fail(MAST_ERR_INTERNAL, "postings out of order");
                return;
            }
            p += seg_vbyte_put(p, docs[i] - prev - 1);
            prev = docs[i];
        }
        for (uint32_t i = lo; i < hi; i++) {
            p += seg_vbyte_put(p, tfb[i] << 1 | (tft[i] != 0));
            if (tft[i])
                p += seg_vbyte_put(p, tft[i]);
            if (tfb[i] > k.max_tfb) k.max_tfb = tfb[i];
            if (tft[i] > k.max_tft) k.max_tft = tft[i];
            if (w->lb[docs[i]] < k.min_lb) k.min_lb = w->lb[docs[i]];
            if (w->lt[docs[i]] < k.min_lt) k.min_lt = w->lt[docs[i]];
        }
        w->out.len = (size_t)(p - (uint8_t *)w->out.data);
        if (w->out.len - first > UINT32_MAX) {
            w->st = mast_fail(MAST_ERR_LIMIT, "postings of one term over 4 GB");
            return;
        }
        k.end = (uint32_t)(w->out.len - first);
        memcpy(w->out.data + skip_at + (size_t)b * sizeof k, &k, sizeof k);
        /* room for the next block: 128 postings at most 5 + 5 + 5 bytes */
        if ((w->st = mast_buf_reserve(&w->out, SEG_BLOCK * 15)) != MAST_OK)
            return;
    }
}

mast_status seg_writer_finish(seg_writer *w, const int64_t *chunk_ids, const int64_t *doc_ids,
                              uint8_t **image, size_t *size)
{
    *image = NULL;
    *size = 0;
    seg_footer f = {{0}, SEG_VERSION, w->n_docs, (uint32_t)w->n_terms, 0, 0, 0, 0, 0, 0, 0};
    memcpy(f.magic, SEG_MAGIC, sizeof f.magic);
    for (uint32_t i = 0; i < w->n_docs; i++) {
        f.sum_lb += w->lb[i];
        f.sum_lt += w->lt[i];
    }
    pad_to(w, 8);
    f.off_dict = w->out.len;
    if (w->st == MAST_OK && w->n_terms)
        w->st = mast_buf_append(&w->out, w->terms, w->n_terms * sizeof *w->terms);
    f.off_strings = w->out.len;
    if (w->st == MAST_OK && w->strings.len)
        w->st = mast_buf_append(&w->out, w->strings.data, w->strings.len);
    pad_to(w, 8);
    f.off_docs = w->out.len;
    if (w->st == MAST_OK && w->n_docs) {
        w->st = mast_buf_append(&w->out, chunk_ids, w->n_docs * sizeof *chunk_ids);
        if (w->st == MAST_OK)
            w->st = mast_buf_append(&w->out, doc_ids, w->n_docs * sizeof *doc_ids);
        if (w->st == MAST_OK)
            w->st = mast_buf_append(&w->out, w->lb, w->n_docs * sizeof *w->lb);
        if (w->st == MAST_OK)
            w->st = mast_buf_append(&w->out, w->lt, w->n_docs * sizeof *w->lt);
    }
    if (w->st == MAST_OK)
        w->st = mast_buf_append(&w->out, &f, sizeof f);
    mast_status st = w->st;
    if (st == MAST_OK) {
        size_t n = w->out.len;
        uint8_t *img = (uint8_t *)mast_buf_detach(&w->out);
        if (!img) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        } else {
            f.checksum = image_checksum(img, n);
            memcpy(img + n - sizeof f, &f, sizeof f);
            *image = img;
            *size = n;
        }
    }
    seg_writer_abort(w);
    return st;
}

void seg_writer_abort(seg_writer *w)
{
    mast_buf_free(&w->out);
    mast_buf_free(&w->strings);
    free(w->terms);
    w->terms = NULL;
    w->n_terms = w->cap_terms = 0;
}

/* ---- merging ---- */

static int is_deleted(const uint8_t *bits, uint32_t i)
{
    return bits && (bits[i >> 3] >> (i & 7) & 1);
}

mast_status seg_merge(const mast_seg *const *segs, const uint8_t *const *deleted, size_t n,
                      uint8_t **image, size_t *size)
{
    *image = NULL;
    *size = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += segs[i]->n_docs;
    if (total >= UINT32_MAX)
        return mast_fail(MAST_ERR_LIMIT, "a segment holds at most 4 billion chunks");
    uint32_t **remap = calloc(n ? n : 1, sizeof *remap);
    int64_t *chunk = malloc((total ? total : 1) * sizeof *chunk);
    int64_t *doc = malloc((total ? total : 1) * sizeof *doc);
    uint32_t *lb = malloc((total ? total : 1) * sizeof *lb);
    uint32_t *lt = malloc((total ? total : 1) * sizeof *lt);
    size_t *term_at = calloc(n ? n : 1, sizeof *term_at);
    seg_cursor *cur = malloc(sizeof *cur);
    /* one term's merged postings: at most every document */
    uint32_t *pd = malloc((total ? total : 1) * sizeof *pd);
    uint32_t *pb = malloc((total ? total : 1) * sizeof *pb);
    uint32_t *pt = malloc((total ? total : 1) * sizeof *pt);
    mast_status st = remap && chunk && doc && lb && lt && term_at && cur && pd && pb && pt
                         ? MAST_OK
                         : mast_fail(MAST_ERR_NOMEM, "out of memory merging segments");
    uint32_t live = 0;
    for (size_t i = 0; st == MAST_OK && i < n; i++) {
        const mast_seg *s = segs[i];
        if (!(remap[i] = malloc((s->n_docs ? s->n_docs : 1) * sizeof **remap))) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory merging segments");
            break;
        }
        for (uint32_t d = 0; d < s->n_docs; d++) {
            if (is_deleted(deleted ? deleted[i] : NULL, d)) {
                remap[i][d] = SEG_END;
                continue;
            }
            chunk[live] = s->chunk_ids[d];
            doc[live] = s->doc_ids[d];
            lb[live] = s->lb[d];
            lt[live] = s->lt[d];
            remap[i][d] = live++;
        }
    }
    seg_writer w;
    seg_writer_begin(&w, live, lb, lt);
    while (st == MAST_OK) {
        /* the smallest next term over the segments */
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t i = 0; i < n; i++) {
            if (term_at[i] >= segs[i]->n_terms)
                continue;
            const seg_term *e = &segs[i]->terms[term_at[i]];
            const char *t = segs[i]->strings + e->str_off;
            if (!best || term_cmp(t, e->str_len, best, best_len) < 0) {
                best = t;
                best_len = e->str_len;
            }
        }
        if (!best)
            break;
        uint32_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (term_at[i] >= segs[i]->n_terms)
                continue;
            const seg_term *e = &segs[i]->terms[term_at[i]];
            if (term_cmp(segs[i]->strings + e->str_off, e->str_len, best, best_len) != 0)
                continue;
            seg_cursor_init(cur, segs[i], (long)term_at[i]);
            for (uint32_t d = cur->doc; d != SEG_END; d = seg_cursor_next(cur)) {
                if (remap[i][d] == SEG_END)
                    continue;
                pd[np] = remap[i][d];
                pb[np] = seg_cursor_tfb(cur);
                pt[np] = seg_cursor_tft(cur);
                np++;
            }
            if (cur->bad)
                st = mast_fail(MAST_ERR_FORMAT, "a postings block is damaged");
            term_at[i]++;
        }
        if (st == MAST_OK)
            seg_writer_term(&w, best, best_len, pd, pb, pt, np);
    }
    if (st == MAST_OK)
        st = seg_writer_finish(&w, chunk, doc, image, size);
    else
        seg_writer_abort(&w);
    for (size_t i = 0; remap && i < n; i++)
        free(remap[i]);
    free(remap);
    free(chunk);
    free(doc);
    free(lb);
    free(lt);
    free(term_at);
    free(cur);
    free(pd);
    free(pb);
    free(pt);
    return st;
}
