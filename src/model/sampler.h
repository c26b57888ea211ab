/*
** model/sampler.h — choosing the next token from logits.
**
** The chain, in llama.cpp's default order:
**   1. penalties over the last `penalty_last_n` tokens of the history:
**      repetition (a seen token's logit l becomes l / r if l > 0, else l * r),
**      frequency (l -= f * count) and presence (l -= p if count > 0);
**   2. temperature <= 0: the argmax (lowest id on a tie) — greedy; else
**   3. top-k (the k largest logits; 0 = off), top-p (the smallest set of the
**      most likely tokens whose probabilities reach p; 1 = off), min-p (tokens
**      whose probability is at least min_p times the largest; 0 = off), each
**      on what the previous kept, then
**   4. softmax(logit / temperature) over the kept tokens and a draw from a
**      generator seeded with `seed` (the same seed, logits and history give
**      the same token).
*/
#ifndef MAST_MODEL_SAMPLER_H
#define MAST_MODEL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "mast.h"

typedef struct mast_sampler_params {
    float temperature;         /* 0 = greedy */
    int top_k;                 /* 0 = off */
    float top_p;               /* 1 = off */
    float min_p;               /* 0 = off */
    float repeat_penalty;      /* 1 = off */
    float frequency_penalty;   /* 0 = off */
    float presence_penalty;    /* 0 = off */
    int penalty_last_n;        /* tokens of history the penalties look at */
    uint64_t seed;
} mast_sampler_params;

/* llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
** no penalties (repeat 1.0) over the last 64 tokens, seed 0 */
#define MAST_SAMPLER_DEFAULT \
    ((mast_sampler_params){0.8f, 40, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 64, 0})

typedef struct mast_sampler mast_sampler;

/* MAST_ERR_INVALID names a parameter out of range. */
mast_status mast_sampler_new(const mast_sampler_params *p, mast_sampler **out);
void mast_sampler_free(mast_sampler *s);

/* Picks a token from logits[0..n_vocab) (modified in place by the
** penalties) given the tokens so far. */
int32_t mast_sampler_sample(mast_sampler *s, float *logits, int n_vocab, const int32_t *history,
                            size_t n_history);

/* The candidates steps 1-3 keep, best first, with their probabilities after
** the temperature (for tests and for callers that show alternatives).
** Returns how many; ids and probs must hold n_vocab. */
size_t mast_sampler_candidates(mast_sampler *s, float *logits, int n_vocab, const int32_t *history,
                               size_t n_history, int32_t *ids, float *probs);

#endif
