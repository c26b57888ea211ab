/*
** deploy/extract.c — the extractive answer: the passages' best sentences,
** cited (see extract.h).
**
** Every prose sentence of the candidate passages is scored against the
** question's terms (analyzed as the index analyzes text):
**   BM25 over the sentences (k1 1.2, b 0.75, idf over the candidate set),
**   normalized by the best sentence's,
** + coverage: the idf-weighted share of the question's terms the sentence
**   holds (terms of its passage's title and heading count half),
** + proximity: matched terms / the shortest window holding them all,
** + a prior for the passage's retrieval rank, 2 / rank: the retriever ranks
**   whole passages better than a sentence's words alone can (answer_hit@1
**   on scifact, cranfield, cacm, lisa: 0.477 0.351 0.442 0.429 with 0.1 / rank
**   over 5 passages; 0.557 0.333 0.615 0.514 with 2 / rank over 20; see
**   docs/benchmarks.md).
** Sentences are then picked by maximal marginal relevance (0.7 score, 0.3
** dissimilarity to those already picked, by the Jaccard overlap of their
** terms; a near-duplicate, overlap 0.8 or more, is never picked), so the
** answer does not say one thing twice. A sentence is kept
** whole; a passage's first sentence that starts in lower case (a chunk that
** began mid-sentence) is not a candidate; white space is collapsed.
*/
#include "deploy/extract.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/chunk.h"

#define MAX_QUERY_TERMS 64
#define MAX_SENTENCE_TERMS 512   /* terms of a sentence looked at */
#define BM25_K1 1.2
#define BM25_B 0.75
#define MMR_LAMBDA 0.7
#define NEAR_DUPLICATE 0.8   /* Jaccard overlap from which a sentence repeats a picked one */
#define MAX_PER_PASSAGE 2
#define RANK_PRIOR 2.0   /* + RANK_PRIOR / rank of the sentence's passage (measured: see below) */

typedef struct query {
    char *terms[MAX_QUERY_TERMS];
    size_t n;
    double idf[MAX_QUERY_TERMS];
} query;

typedef struct cand {
    size_t passage;
    const char *text;
    size_t len;
    int n_terms;
    unsigned short tf[MAX_QUERY_TERMS];
    int first_pos[MAX_QUERY_TERMS], last_pos[MAX_QUERY_TERMS];
    uint64_t *hashes;         /* the sentence's distinct term hashes, sorted (for MMR) */
    size_t n_hashes;
    double bm25, score;
    int picked;
} cand;

/* ---- analysis callbacks ---- */

static int query_index(const query *q, const char *t, size_t n)
{
    for (size_t i = 0; i < q->n; i++)
        if (strlen(q->terms[i]) == n && memcmp(q->terms[i], t, n) == 0)
            return (int)i;
    return -1;
}

static void add_query_term(void *ctx, const char *t, size_t n)
{
    query *q = ctx;
    if (query_index(q, t, n) < 0 && q->n < MAX_QUERY_TERMS && (q->terms[q->n] = strndup(t, n)))
        q->n++;
}

typedef struct sentence_scan {
    const query *q;
    cand *c;
    uint64_t hashes[MAX_SENTENCE_TERMS];
    size_t n_hashes;
} sentence_scan;

static uint64_t term_hash(const char *t, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a: a set of a sentence's words */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 1099511628211ull;
    return h;
}

static void scan_term(void *ctx, const char *t, size_t n)
{
    sentence_scan *s = ctx;
    cand *c = s->c;
    int pos = c->n_terms++;
    if (s->n_hashes < MAX_SENTENCE_TERMS)
        s->hashes[s->n_hashes++] = term_hash(t, n);
    int qi = query_index(s->q, t, n);
    if (qi < 0)
        return;
    if (c->tf[qi]++ == 0)
        c->first_pos[qi] = pos;
    c->last_pos[qi] = pos;
}

typedef struct heading_scan {
    const query *q;
    unsigned char hit[MAX_QUERY_TERMS];
} heading_scan;

static void scan_heading(void *ctx, const char *t, size_t n)
{
    heading_scan *h = ctx;
    int qi = query_index(h->q, t, n);
    if (qi >= 0)
        h->hit[qi] = 1;
}

/* ---- candidates ---- */

/* The prose of a passage: code fences and table rows make poor answer sentences. */
static char *prose_of(const char *text)
{
    mast_buf b = {0};
    int in_fence = 0;
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *p = line;
        while (p < line + n && (*p == ' ' || *p == '\t'))
            p++;
        int fence = (line + n - p >= 3) && (strncmp(p, "```", 3) == 0 || strncmp(p, "~~~", 3) == 0);
        if (fence)
            in_fence = !in_fence;
        else if (!in_fence && *p != '|' && mast_buf_append(&b, line, n) == MAST_OK)
            mast_buf_putc(&b, '\n');
        line = nl ? nl + 1 : line + n;
    }
    if (!b.data)
        return strdup("");
    return mast_buf_detach(&b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static mast_status add_candidate(cand **list, size_t *n, size_t *cap, const cand *c,
                                 const sentence_scan *scan)
{
    if (!mast_grow_array((void **)list, cap, *n + 1, sizeof **list))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    cand *dst = &(*list)[(*n)++];
    *dst = *c;
    dst->hashes = malloc((scan->n_hashes ? scan->n_hashes : 1) * sizeof *dst->hashes);
    if (!dst->hashes)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    memcpy(dst->hashes, scan->hashes, scan->n_hashes * sizeof *dst->hashes);
    qsort(dst->hashes, scan->n_hashes, sizeof *dst->hashes, cmp_u64);
    size_t k = 0;   /* distinct */
    for (size_t i = 0; i < scan->n_hashes; i++)
        if (k == 0 || dst->hashes[k - 1] != dst->hashes[i])
            dst->hashes[k++] = dst->hashes[i];
    dst->n_hashes = k;
    return MAST_OK;
}

/* A passage's first sentence starting in lower case is the tail of a cut
** sentence, unless the passage is lower case throughout (some corpora are). */
static int starts_mid_sentence(const char *sentence, const char *passage)
{
    if (!islower((unsigned char)sentence[0]))
        return 0;
    for (const char *p = passage; *p; p++)
        if (isupper((unsigned char)*p))
            return 1;
    return 0;
}

/* ---- scoring ---- */

static double jaccard(const cand *a, const cand *b)
{
    size_t i = 0, j = 0, both = 0;
    while (i < a->n_hashes && j < b->n_hashes) {
        if (a->hashes[i] == b->hashes[j]) {
            both++;
            i++;
            j++;
        } else if (a->hashes[i] < b->hashes[j]) {
            i++;
        } else {
            j++;
        }
    }
    size_t all = a->n_hashes + b->n_hashes - both;
    return all ? (double)both / (double)all : 0;
}

static void score_all(cand *list, size_t n, query *q, const unsigned char (*heading_hit)[MAX_QUERY_TERMS])
{
    double avg_len = 0;
    for (size_t i = 0; i < n; i++)
        avg_len += list[i].n_terms;
    avg_len = n ? avg_len / (double)n : 1;
    double idf_sum = 0;
    for (size_t t = 0; t < q->n; t++) {
        size_t df = 0;
        for (size_t i = 0; i < n; i++)
            df += list[i].tf[t] > 0;
        q->idf[t] = log(1.0 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
        idf_sum += q->idf[t];
    }
    double best = 0;
    for (size_t i = 0; i < n; i++) {
        cand *c = &list[i];
        double norm = BM25_K1 * (1 - BM25_B + BM25_B * (double)c->n_terms / avg_len);
        c->bm25 = 0;
        for (size_t t = 0; t < q->n; t++)
            if (c->tf[t])
                c->bm25 += q->idf[t] * c->tf[t] * (BM25_K1 + 1) / (c->tf[t] + norm);
        if (c->bm25 > best)
            best = c->bm25;
    }
    for (size_t i = 0; i < n; i++) {
        cand *c = &list[i];
        double covered = 0;
        int matched = 0, lo = 1 << 30, hi = -1;
        for (size_t t = 0; t < q->n; t++) {
            if (c->tf[t]) {
                covered += q->idf[t];
                matched++;
                lo = c->first_pos[t] < lo ? c->first_pos[t] : lo;
                hi = c->last_pos[t] > hi ? c->last_pos[t] : hi;
            } else if (heading_hit[c->passage][t]) {
                covered += 0.5 * q->idf[t];
            }
        }
        double coverage = idf_sum > 0 ? covered / idf_sum : 0;
        /* a window from the first to the last match (an upper bound of the
        ** shortest one; exact when each term appears once) */
        double proximity = matched >= 2 ? (double)matched / (double)(hi - lo + 1) : 0;
        c->score = (best > 0 ? c->bm25 / best : 0) + coverage + 0.5 * proximity +
                   RANK_PRIOR / (double)(c->passage + 1);
    }
}

/* Appends a sentence with its white space collapsed. */
static mast_status put_sentence(mast_buf *b, const cand *c)
{
    int space = 0;
    for (size_t j = 0; j < c->len; j++) {
        char ch = c->text[j];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' || ch == '\f' || ch == '\v') {
            space = 1;
            continue;
        }
        if (space)
            MAST_TRY(mast_buf_putc(b, ' '));
        space = 0;
        MAST_TRY(mast_buf_putc(b, ch));
    }
    return MAST_OK;
}

mast_status mast_extract_answer(mast_analyzer *a, const char *question,
                                const mast_result *passages, size_t n_passages,
                                size_t max_sentences, mast_extract *out)
{
    memset(out, 0, sizeof *out);
    query q = {0};
    mast_analyze(a, question, strlen(question), add_query_term, &q);
    char **prose = calloc(n_passages ? n_passages : 1, sizeof *prose);
    unsigned char (*heading_hit)[MAX_QUERY_TERMS] =
        calloc(n_passages ? n_passages : 1, sizeof *heading_hit);
    cand *list = NULL;
    size_t n = 0, cap = 0;
    sentence_scan *scan = calloc(1, sizeof *scan);   /* 4 KB of hashes: one for every sentence */
    mast_status st = prose && heading_hit && scan ? MAST_OK
                                                  : mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (scan)
        scan->q = &q;
    for (size_t p = 0; st == MAST_OK && p < n_passages; p++) {
        heading_scan h = {.q = &q};
        mast_analyze(a, passages[p].title, strlen(passages[p].title), scan_heading, &h);
        mast_analyze(a, passages[p].heading, strlen(passages[p].heading), scan_heading, &h);
        memcpy(heading_hit[p], h.hit, sizeof h.hit);
        if (!(prose[p] = prose_of(passages[p].text))) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        const char *text = prose[p];
        size_t len = strlen(text), pos = 0;
        int first = 1;
        while (st == MAST_OK && pos < len) {
            while (pos < len && strchr(" \t\r\n", text[pos]))
                pos++;
            if (pos >= len)
                break;
            size_t end = mast_sentence_end(text, len, pos);
            if (end <= pos)
                end = pos + 1;
            cand c = {.passage = p, .text = text + pos, .len = end - pos};
            scan->c = &c;
            scan->n_hashes = 0;
            mast_analyze(a, text + pos, end - pos, scan_term, scan);
            int hits = 0;
            for (size_t t = 0; t < q.n; t++)
                hits += c.tf[t] > 0;
            if (hits && !(first && starts_mid_sentence(text + pos, text)))
                st = add_candidate(&list, &n, &cap, &c, scan);
            first = 0;
            pos = end;
        }
    }
    mast_buf b = {0};
    size_t *per_passage = calloc(n_passages ? n_passages : 1, sizeof *per_passage);
    if (st == MAST_OK && !per_passage)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && n) {
        score_all(list, n, &q, (const unsigned char (*)[MAX_QUERY_TERMS])heading_hit);
        for (size_t k = 0; st == MAST_OK && k < max_sentences && k < MAST_EXTRACT_MAX; k++) {
            size_t best = n;
            double best_value = 0;
            for (size_t i = 0; i < n; i++) {
                if (list[i].picked || per_passage[list[i].passage] >= MAX_PER_PASSAGE)
                    continue;
                double sim = 0;
                for (size_t j = 0; j < n; j++)
                    if (list[j].picked) {
                        double s = jaccard(&list[i], &list[j]);
                        sim = s > sim ? s : sim;
                    }
                if (sim >= NEAR_DUPLICATE)
                    continue;   /* says nothing the answer does not say already */
                double value = MMR_LAMBDA * list[i].score - (1 - MMR_LAMBDA) * sim;
                if (best == n || value > best_value ||
                    (value == best_value && list[i].passage < list[best].passage)) {
                    best = i;
                    best_value = value;
                }
            }
            if (best == n)
                break;
            list[best].picked = 1;
            per_passage[list[best].passage]++;
            mast_buf_clear(&b);
            st = put_sentence(&b, &list[best]);
            if (st == MAST_OK && !(out->sentence[out->n_sentences] = strdup(mast_buf_cstr(&b))))
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            if (st == MAST_OK)
                out->passage[out->n_sentences++] = list[best].passage;
        }
    }
    out->n_candidates = n;
    for (size_t i = 0; i < n; i++)
        free(list[i].hashes);
    free(list);
    free(per_passage);
    for (size_t p = 0; prose && p < n_passages; p++)
        free(prose[p]);
    free(prose);
    free(heading_hit);
    free(scan);
    for (size_t t = 0; t < q.n; t++)
        free(q.terms[t]);
    mast_buf_free(&b);
    if (st != MAST_OK)
        mast_extract_free(out);
    return st;
}

void mast_extract_free(mast_extract *e)
{
    for (size_t i = 0; i < e->n_sentences; i++)
        free(e->sentence[i]);
    memset(e, 0, sizeof *e);
}
