/*
** data/dedup.c — MinHash signatures, LSH candidates and duplicate clusters
** (see dedup.h).
*/
#include "data/dedup.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"

static uint64_t mix64(uint64_t x)   /* the splitmix64 finalizer */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* The K hash functions: h → (a·h + b) >> 32 with odd a, fixed for all time
** (stored signatures depend on them). */
static uint64_t perm_a[MAST_MINHASH_K], perm_b[MAST_MINHASH_K];
static int perm_ready;

static void init_perms(void)
{
    if (perm_ready)
        return;
    uint64_t s = 0x6d617374ULL;   /* "mast" */
    for (int k = 0; k < MAST_MINHASH_K; k++) {
        perm_a[k] = mix64(s += 0x9e3779b97f4a7c15ULL) | 1;
        perm_b[k] = mix64(s += 0x9e3779b97f4a7c15ULL);
    }
    perm_ready = 1;   /* the same values whichever thread writes them */
}

void mast_minhash_begin(mast_minhash *m)
{
    init_perms();
    memset(m, 0, sizeof *m);
    memset(m->v, 0xff, sizeof m->v);
}

static void add_shingle(mast_minhash *m, uint64_t h)
{
    h = mix64(h);
    for (int k = 0; k < MAST_MINHASH_K; k++) {
        uint32_t v = (uint32_t)((perm_a[k] * h + perm_b[k]) >> 32);
        m->v[k] = v < m->v[k] ? v : m->v[k];
    }
    m->n_shingles++;
}

static void add_word(mast_minhash *m, uint64_t w)
{
    if (++m->n_words >= 3)
        add_shingle(m, m->w1 ^ rotl(m->w2, 23) ^ rotl(w, 47));
    m->w1 = m->w2;
    m->w2 = w;
}

/* A separator: ASCII that is not a letter or digit, and the Latin-1
** punctuation (U+00A0–U+00BF) and general punctuation (U+2000–U+206F)
** blocks; returns its length in bytes, 0 for a word character. */
static size_t separator(const unsigned char *p, size_t left)
{
    if (p[0] < 0x80)
        return ((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') || (p[0] >= '0' && p[0] <= '9')
                   ? 0 : 1;
    if (p[0] == 0xC2 && left >= 2 && p[1] >= 0xA0 && p[1] <= 0xBF)
        return 2;
    if (p[0] == 0xE2 && left >= 3 && (p[1] == 0x80 || p[1] == 0x81))
        return 3;
    return 0;
}

void mast_minhash_add(mast_minhash *m, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a over the word's bytes */
    int in_word = 0;
    for (size_t i = 0; i < len;) {
        size_t sep = separator(p + i, len - i);
        if (sep) {
            if (in_word)
                add_word(m, mix64(h));
            in_word = 0;
            h = 0xcbf29ce484222325ULL;
            i += sep;
            continue;
        }
        unsigned char c = p[i++];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        h = (h ^ c) * 0x100000001b3ULL;
        in_word = 1;
    }
    if (in_word)
        add_word(m, mix64(h));
}

void mast_minhash_end(mast_minhash *m)
{
    if (m->n_words > 0 && m->n_words < 3)   /* a text of one or two words: one shingle */
        add_shingle(m, m->w1 ^ rotl(m->w2, 23));
}

void mast_minhash_bands(const uint32_t sig[MAST_MINHASH_K], int64_t bands[MAST_MINHASH_BANDS])
{
    for (int b = 0; b < MAST_MINHASH_BANDS; b++) {
        const uint32_t *v = sig + b * MAST_MINHASH_ROWS;
        uint64_t h = mix64((uint64_t)b * 0x9e3779b97f4a7c15ULL ^ v[0]);
        h = mix64(h ^ ((uint64_t)v[1] << 32 | v[2]));
        bands[b] = (int64_t)(h >> 1);   /* SQLite integers are signed */
    }
}

double mast_minhash_similarity(const uint32_t a[MAST_MINHASH_K], const uint32_t b[MAST_MINHASH_K])
{
    int eq = 0;
    for (int k = 0; k < MAST_MINHASH_K; k++)
        eq += a[k] == b[k];
    return (double)eq / MAST_MINHASH_K;
}

int mast_dedup_mode_parse(const char *s)
{
    return !strcmp(s, "link") ? MAST_DEDUP_LINK
         : !strcmp(s, "skip") ? MAST_DEDUP_SKIP
         : !strcmp(s, "off")  ? MAST_DEDUP_OFF : -1;
}

/* ---- the in-memory band index ---- */

#define LSH_PER_KEY 8   /* the oldest documents kept for one band key */

typedef struct lsh_slot {
    uint32_t tag;   /* the band key's low 32 bits, never 0; 0 = empty */
    uint32_t doc;   /* index into ids */
} lsh_slot;

struct mast_lsh {
    lsh_slot *slots;
    size_t cap, used;          /* cap a power of two */
    int64_t *ids;              /* doc ids by index */
    uint16_t *sigs;            /* their signatures' low 16 bits, K by index: equal by chance
                                  with probability 1/65536, a bias under 0.00002 */
    size_t n_ids, cap_ids, cap_sigs;
};

static uint32_t tag_of(int64_t key)
{
    uint32_t t = (uint32_t)((uint64_t)key ^ ((uint64_t)key >> 32));
    return t ? t : 1;
}

static int lsh_insert(mast_lsh *l, uint32_t tag, uint32_t doc)
{
    size_t mask = l->cap - 1, i = tag & mask;
    int same = 0;
    for (; l->slots[i].tag; i = (i + 1) & mask)
        if (l->slots[i].tag == tag && (++same >= LSH_PER_KEY || l->slots[i].doc == doc))
            return 0;
    l->slots[i] = (lsh_slot){tag, doc};
    l->used++;
    return 1;
}

static mast_status lsh_grow(mast_lsh *l)
{
    size_t cap = l->cap ? l->cap * 2 : 1024;
    lsh_slot *old = l->slots;
    size_t old_cap = l->cap;
    l->slots = calloc(cap, sizeof *l->slots);
    if (!l->slots) {
        l->slots = old;
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    l->cap = cap;
    l->used = 0;
    for (size_t i = 0; i < old_cap; i++)   /* in slot order: the oldest of a key stay first */
        if (old[i].tag)
            lsh_insert(l, old[i].tag, old[i].doc);
    free(old);
    return MAST_OK;
}

mast_status mast_lsh_add(mast_lsh *l, int64_t doc_id, const uint32_t sig[MAST_MINHASH_K])
{
    if (l->n_ids >= UINT32_MAX)
        return mast_fail(MAST_ERR_LIMIT, "too many documents for the near-duplicate index");
    if (!mast_grow_array((void **)&l->ids, &l->cap_ids, l->n_ids + 1, sizeof *l->ids))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (!mast_grow_array((void **)&l->sigs, &l->cap_sigs, (l->n_ids + 1) * MAST_MINHASH_K,
                         sizeof *l->sigs))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    l->ids[l->n_ids] = doc_id;
    for (int k = 0; k < MAST_MINHASH_K; k++)
        l->sigs[l->n_ids * MAST_MINHASH_K + k] = (uint16_t)sig[k];
    int64_t bands[MAST_MINHASH_BANDS];
    mast_minhash_bands(sig, bands);
    for (int b = 0; b < MAST_MINHASH_BANDS; b++) {
        if ((l->used + 1) * 4 > l->cap * 3)
            MAST_TRY(lsh_grow(l));
        lsh_insert(l, tag_of(bands[b]), (uint32_t)l->n_ids);
    }
    l->n_ids++;
    return MAST_OK;
}

typedef struct open_ctx {
    mast_lsh *l;
    mast_status st;
} open_ctx;

static int open_visit(void *ctx, int64_t doc_id, const char *uri, const uint32_t *sig)
{
    (void)uri;
    open_ctx *o = ctx;
    o->st = mast_lsh_add(o->l, doc_id, sig);
    return o->st != MAST_OK;
}

mast_status mast_lsh_open(mast_store *store, int64_t collection_id, mast_lsh **out)
{
    mast_lsh *l = calloc(1, sizeof *l);
    if (!l)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    open_ctx o = {l, lsh_grow(l)};
    mast_status st = o.st;
    if (st == MAST_OK)
        st = mast_store_minhash_scan(store, collection_id, open_visit, &o);
    if (st == MAST_OK)
        st = o.st;
    if (st != MAST_OK) {
        mast_lsh_free(l);
        return st;
    }
    *out = l;
    return MAST_OK;
}

void mast_lsh_free(mast_lsh *l)
{
    if (!l)
        return;
    free(l->slots);
    free(l->ids);
    free(l->sigs);
    free(l);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

mast_status mast_dedup_find(mast_store *store, const mast_lsh *l, const uint32_t *sig,
                            int64_t before_id, double threshold, mast_dedup_match *m)
{
    *m = (mast_dedup_match){0, NULL, 0};
    int64_t bands[MAST_MINHASH_BANDS];
    uint32_t cand[MAST_MINHASH_BANDS * LSH_PER_KEY];   /* indexes */
    size_t n = 0;
    mast_minhash_bands(sig, bands);
    size_t mask = l->cap - 1;
    for (int b = 0; b < MAST_MINHASH_BANDS; b++) {
        uint32_t tag = tag_of(bands[b]);
        int same = 0;
        for (size_t i = tag & mask; l->slots[i].tag && same < LSH_PER_KEY; i = (i + 1) & mask)
            if (l->slots[i].tag == tag) {
                same++;
                if (l->ids[l->slots[i].doc] < before_id)
                    cand[n++] = l->slots[i].doc;
            }
    }
    /* the best candidate by the signatures in memory (ties: the oldest, added first) */
    qsort(cand, n, sizeof *cand, cmp_u32);
    double best = -1;
    size_t best_i = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && cand[i] == cand[i - 1])
            continue;
        const uint16_t *o = l->sigs + (size_t)cand[i] * MAST_MINHASH_K;
        int eq = 0;
        for (int k = 0; k < MAST_MINHASH_K; k++)
            eq += (uint16_t)sig[k] == o[k];
        double s = (double)eq / MAST_MINHASH_K;
        if (s > best) {
            best = s;
            best_i = cand[i];
        }
    }
    if (best < threshold)
        return MAST_OK;
    /* its stored signature, exactly (the document may have changed since) */
    uint32_t other[MAST_MINHASH_K];
    char *uri;
    mast_status st = mast_store_minhash_get(store, l->ids[best_i], other, &uri);
    if (st == MAST_ERR_NOT_FOUND)
        return MAST_OK;   /* deleted since */
    MAST_TRY(st);
    double s = mast_minhash_similarity(sig, other);
    if (s < threshold) {
        free(uri);
        return MAST_OK;
    }
    *m = (mast_dedup_match){l->ids[best_i], uri, s};
    return MAST_OK;
}

/* ---- clusters ---- */

typedef struct sig_table {
    int64_t *ids;
    uint32_t *sigs;   /* n × K */
    size_t n, cap;
    int nomem;
} sig_table;

static int load_visit(void *ctx, int64_t doc_id, const char *uri, const uint32_t *sig)
{
    (void)uri;
    sig_table *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        int64_t *ids = realloc(t->ids, cap * sizeof *ids);
        if (ids)
            t->ids = ids;
        uint32_t *sigs = ids ? realloc(t->sigs, cap * MAST_MINHASH_K * sizeof *sigs) : NULL;
        if (!sigs) {
            t->nomem = 1;
            return 1;
        }
        t->sigs = sigs;
        t->cap = cap;
    }
    t->ids[t->n] = doc_id;
    memcpy(t->sigs + t->n * MAST_MINHASH_K, sig, MAST_MINHASH_K * sizeof *sig);
    t->n++;
    return 0;
}

typedef struct band_entry {
    int64_t key;
    size_t doc;   /* index into the table */
} band_entry;

static int cmp_band(const void *a, const void *b)
{
    const band_entry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int cmp_pair(const void *a, const void *b)
{
    const mast_dedup_pair *x = a, *y = b;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int cmp_pair_b(const void *a, const void *b)
{
    const mast_dedup_pair *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    return x->a < y->a ? -1 : x->a > y->a;
}

/* The index of doc id in the table (ids ascending). */
static size_t index_of(const sig_table *t, int64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_cluster(const void *a, const void *b)
{
    const mast_dedup_cluster *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->members[0].doc_id < y->members[0].doc_id ? -1 : 1;
}

/* Within one run of equal band keys, each document is compared with at most
** this many before it: a band shared by thousands of documents (exact
** copies) still links them all, in linear time. */
#define RUN_COMPARE 32

mast_status mast_dedup_report_build(mast_store *store, int64_t collection_id, double threshold,
                                    mast_dedup_report *r)
{
    memset(r, 0, sizeof *r);
    int64_t n_docs = 0, n_signed = 0;
    MAST_TRY(mast_store_minhash_count(store, collection_id, &n_docs, &n_signed));
    r->n_documents = (size_t)n_docs;
    sig_table t = {0};
    mast_status st = mast_store_minhash_scan(store, collection_id, load_visit, &t);
    if (st == MAST_OK && t.nomem)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    r->n_signed = t.n;
    band_entry *entries = st == MAST_OK ? malloc((t.n ? t.n : 1) * sizeof *entries) : NULL;
    int64_t (*keys)[MAST_MINHASH_BANDS] = entries ? malloc((t.n ? t.n : 1) * sizeof *keys) : NULL;
    size_t *parent = keys ? malloc((t.n ? t.n : 1) * sizeof *parent) : NULL;
    size_t cap_pairs = 0;
    if (st == MAST_OK && !parent)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == MAST_OK && i < t.n; i++) {
        mast_minhash_bands(t.sigs + i * MAST_MINHASH_K, keys[i]);
        parent[i] = i;
    }
    for (int b = 0; st == MAST_OK && b < MAST_MINHASH_BANDS; b++) {
        for (size_t i = 0; i < t.n; i++)
            entries[i] = (band_entry){keys[i][b], i};
        qsort(entries, t.n, sizeof *entries, cmp_band);
        for (size_t start = 0, end; start < t.n && st == MAST_OK; start = end) {
            for (end = start + 1; end < t.n && entries[end].key == entries[start].key; end++) {
                size_t from = end - start > RUN_COMPARE ? end - RUN_COMPARE : start;
                for (size_t j = from; j < end; j++) {
                    size_t x = entries[j].doc, y = entries[end].doc;
                    double s = mast_minhash_similarity(t.sigs + x * MAST_MINHASH_K,
                                                       t.sigs + y * MAST_MINHASH_K);
                    if (s < threshold)
                        continue;
                    if (!mast_grow_array((void **)&r->pairs, &cap_pairs, r->n_pairs + 1,
                                         sizeof *r->pairs)) {
                        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                        break;
                    }
                    r->pairs[r->n_pairs++] = x < y ? (mast_dedup_pair){t.ids[x], t.ids[y], s}
                                                   : (mast_dedup_pair){t.ids[y], t.ids[x], s};
                }
            }
        }
    }
    /* the same pair found in several bands once */
    if (st == MAST_OK && r->n_pairs) {
        qsort(r->pairs, r->n_pairs, sizeof *r->pairs, cmp_pair);
        size_t w = 0;
        for (size_t i = 0; i < r->n_pairs; i++)
            if (!w || r->pairs[i].a != r->pairs[w - 1].a || r->pairs[i].b != r->pairs[w - 1].b)
                r->pairs[w++] = r->pairs[i];
        r->n_pairs = w;
    }
    /* clusters, greedily in id order: a document joins the cluster of the most
    ** similar older document that leads one (so every member is at least
    ** `threshold` like its cluster's first document: no chains), else leads its
    ** own. parent[i] is i's leader. */
    mast_dedup_pair *by_b = st == MAST_OK ? malloc((r->n_pairs ? r->n_pairs : 1) * sizeof *by_b) : NULL;
    size_t *count = by_b ? calloc(t.n ? t.n : 1, sizeof *count) : NULL;
    size_t *slot = count ? calloc(t.n ? t.n : 1, sizeof *slot) : NULL;   /* leader → cluster + 1 */
    if (st == MAST_OK && !slot)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK) {
        memcpy(by_b, r->pairs, r->n_pairs * sizeof *by_b);
        qsort(by_b, r->n_pairs, sizeof *by_b, cmp_pair_b);
        for (size_t i = 0, p = 0; i < t.n; i++) {
            double best = -1;
            for (; p < r->n_pairs && by_b[p].b == t.ids[i]; p++) {
                size_t a = index_of(&t, by_b[p].a);
                if (parent[a] == a && by_b[p].similarity > best) {
                    best = by_b[p].similarity;
                    parent[i] = a;
                }
            }
            count[parent[i]]++;
        }
    }
    size_t cap_clusters = 0;
    for (size_t i = 0; st == MAST_OK && i < t.n; i++) {
        size_t root = parent[i];
        if (count[root] < 2)
            continue;
        if (root == i) {
            mast_dedup_member *m = malloc(count[root] * sizeof *m);
            if (!m || !mast_grow_array((void **)&r->clusters, &cap_clusters, r->n_clusters + 1,
                                       sizeof *r->clusters)) {
                free(m);
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            r->clusters[r->n_clusters++] = (mast_dedup_cluster){m, 0};
            slot[root] = r->n_clusters;
        } else {
            r->n_duplicates++;
        }
        mast_dedup_cluster *c = &r->clusters[slot[root] - 1];
        c->members[c->n++] = (mast_dedup_member){
            t.ids[i], mast_minhash_similarity(t.sigs + root * MAST_MINHASH_K,
                                              t.sigs + i * MAST_MINHASH_K)};
    }
    if (st == MAST_OK && r->n_clusters > 1)
        qsort(r->clusters, r->n_clusters, sizeof *r->clusters, cmp_cluster);
    free(slot);
    free(count);
    free(by_b);
    free(parent);
    free(keys);
    free(entries);
    free(t.ids);
    free(t.sigs);
    if (st != MAST_OK)
        mast_dedup_report_free(r);
    return st;
}

void mast_dedup_report_free(mast_dedup_report *r)
{
    for (size_t i = 0; i < r->n_clusters; i++)
        free(r->clusters[i].members);
    free(r->clusters);
    free(r->pairs);
    memset(r, 0, sizeof *r);
}
