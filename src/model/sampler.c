/*
** model/sampler.c — penalties, greedy, top-k / top-p / min-p, temperature
** and a seeded draw (see sampler.h).
*/
#include "model/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct mast_sampler {
    mast_sampler_params p;
    uint64_t state[4];        /* xoshiro256** */
    int32_t *ids;             /* scratch, n_vocab each */
    float *probs;
    int *counts;
    cand *cands;
    int cap;
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(mast_sampler *s)
{
    uint64_t *st = s->state, r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return r;
}

mast_status mast_sampler_new(const mast_sampler_params *p, mast_sampler **out)
{
    *out = NULL;
    if (!(p->temperature >= 0) || p->temperature > 100)
        return mast_fail(MAST_ERR_INVALID, "temperature must be within 0..100 (got %g)", (double)p->temperature);
    if (p->top_k < 0)
        return mast_fail(MAST_ERR_INVALID, "top-k must be 0 (off) or more (got %d)", p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return mast_fail(MAST_ERR_INVALID, "top-p must be within (0, 1] (got %g)", (double)p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return mast_fail(MAST_ERR_INVALID, "min-p must be within 0..1 (got %g)", (double)p->min_p);
    if (!(p->repeat_penalty > 0) || !isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty) ||
        p->penalty_last_n < 0)
        return mast_fail(MAST_ERR_INVALID, "penalties: repeat must be > 0, the others finite");
    mast_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    s->p = *p;
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++)
        s->state[i] = splitmix(&x);
    *out = s;
    return MAST_OK;
}

void mast_sampler_free(mast_sampler *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->probs);
    free(s->counts);
    free(s->cands);
    free(s);
}

static int reserve(mast_sampler *s, int n)
{
    if (n <= s->cap)
        return 1;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    float *probs = malloc((size_t)n * sizeof *probs);
    int *counts = calloc((size_t)n, sizeof *counts);
    cand *cands = malloc((size_t)n * sizeof *cands);
    if (!ids || !probs || !counts || !cands) {
        free(ids);
        free(probs);
        free(counts);
        free(cands);
        return 0;
    }
    free(s->ids);
    free(s->probs);
    free(s->counts);
    free(s->cands);
    s->ids = ids;
    s->probs = probs;
    s->counts = counts;
    s->cands = cands;
    s->cap = n;
    return 1;
}

static void penalize(mast_sampler *s, float *logits, int n, const int32_t *hist, size_t n_hist)
{
    const mast_sampler_params *p = &s->p;
    if (p->repeat_penalty == 1.0f && p->frequency_penalty == 0 && p->presence_penalty == 0)
        return;
    size_t from = n_hist > (size_t)p->penalty_last_n ? n_hist - (size_t)p->penalty_last_n : 0;
    for (size_t i = from; i < n_hist; i++)
        if (hist[i] >= 0 && hist[i] < n)
            s->counts[hist[i]]++;
    for (size_t i = from; i < n_hist; i++) {
        int32_t t = hist[i];
        if (t < 0 || t >= n || s->counts[t] == 0)
            continue;
        float l = logits[t];
        l = l > 0 ? l / p->repeat_penalty : l * p->repeat_penalty;
        l -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
        logits[t] = l;
        s->counts[t] = 0;   /* each distinct token once; also resets the counts */
    }
}

/* best first; ties by lower id */
static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->logit > y->logit ? -1 : x->logit < y->logit ? 1 : (x->id > y->id) - (x->id < y->id);
}

static void sift(cand *h, int n, int i)   /* min-heap by cmp_cand's order: worst at the root */
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cmp_cand(&h[l], &h[w]) > 0)
            w = l;
        if (r < n && cmp_cand(&h[r], &h[w]) > 0)
            w = r;
        if (w == i)
            return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* The k best of c[0..n) to the front, sorted best first. */
static void top_sorted(cand *c, int n, int k)
{
    if (k < n) {
        for (int i = k / 2; i-- > 0;)
            sift(c, k, i);
        for (int i = k; i < n; i++)
            if (cmp_cand(&c[i], &c[0]) < 0) {
                c[0] = c[i];
                sift(c, k, 0);
            }
    }
    qsort(c, (size_t)(k < n ? k : n), sizeof *c, cmp_cand);
}

static size_t candidates(mast_sampler *s, const float *logits, int n, int32_t *ids, float *probs)
{
    const mast_sampler_params *p = &s->p;
    cand *c = s->cands;
    for (int i = 0; i < n; i++)
        c[i] = (cand){logits[i], i};
    int kept = n;
    if (p->top_k > 0 && p->top_k < kept)
        kept = p->top_k;
    top_sorted(c, n, kept);
    /* probabilities over the kept tokens at temperature 1 for top-p and
    ** min-p (as llama.cpp's chain computes them), at the temperature for the draw */
    double max = c[0].logit, sum = 0;
    for (int i = 0; i < kept; i++)
        sum += exp((double)c[i].logit - max);
    if (p->top_p < 1) {
        double cum = 0;
        int i = 0;
        while (i < kept) {
            cum += exp((double)c[i].logit - max) / sum;
            i++;
            if (cum >= p->top_p)
                break;
        }
        kept = i;
    }
    if (p->min_p > 0) {   /* p_i / p_max = exp(l_i - l_max) */
        int i = 1;
        while (i < kept && exp((double)c[i].logit - max) >= p->min_p)
            i++;
        kept = i;
    }
    double t = p->temperature > 0 ? p->temperature : 1.0;
    sum = 0;
    for (int i = 0; i < kept; i++)
        sum += exp(((double)c[i].logit - max) / t);
    for (int i = 0; i < kept; i++) {
        ids[i] = c[i].id;
        probs[i] = (float)(exp(((double)c[i].logit - max) / t) / sum);
    }
    return (size_t)kept;
}

size_t mast_sampler_candidates(mast_sampler *s, float *logits, int n_vocab, const int32_t *history,
                               size_t n_history, int32_t *ids, float *probs)
{
    if (n_vocab <= 0 || !reserve(s, n_vocab))
        return 0;
    penalize(s, logits, n_vocab, history, n_history);
    return candidates(s, logits, n_vocab, ids, probs);
}

int32_t mast_sampler_sample(mast_sampler *s, float *logits, int n_vocab, const int32_t *history,
                            size_t n_history)
{
    if (n_vocab <= 0 || !reserve(s, n_vocab))
        return 0;
    penalize(s, logits, n_vocab, history, n_history);
    if (s->p.temperature <= 0) {
        int best = 0;
        for (int i = 1; i < n_vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    size_t kept = candidates(s, logits, n_vocab, s->ids, s->probs);
    double u = (double)(next_u64(s) >> 11) / 9007199254740992.0, cum = 0;
    for (size_t i = 0; i < kept; i++) {
        cum += s->probs[i];
        if (u < cum)
            return s->ids[i];
    }
    return s->ids[kept - 1];
}
