/*
** data/textindex/bm25.h — an in-memory BM25 index over chunks.
**
** Scoring (Lucene's BM25 with its idf, k1 = 1.2, b = 0.75 by default):
**   score(q, d) = sum over distinct query terms t present in d of
**                 idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
**   idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
** where N, df and avgdl count live (not removed) chunks only and |d| is the
** number of terms the analyzer produced for the chunk.
**
** Adding and removing need exclusive access; searches are read-only and may
** run concurrently (each with its own analyzer). A removed chunk is never
** returned and no longer counts in N, df or avgdl.
*/
#ifndef MAST_DATA_TEXTINDEX_BM25_H
#define MAST_DATA_TEXTINDEX_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "data/textindex/analyzer.h"

typedef struct mast_hit {
    int64_t chunk_id;
    int64_t doc_id;
    double score;
} mast_hit;

/* The ranking order of hits everywhere: higher score first, then lower
** chunk id (so equal scores rank the same way every time). */
int mast_hit_before(const mast_hit *a, const mast_hit *b);

/* Moves the best min(k, n) hits to the front in rank order (the rest is left
** in any order) and returns how many; O(n log k). */
size_t mast_hits_top(mast_hit *hits, size_t n, size_t k);

typedef struct mast_bm25_params {
    double k1;   /* term-frequency saturation, default 1.2 */
    double b;    /* length normalization, default 0.75 */
} mast_bm25_params;

typedef struct mast_bm25 mast_bm25;

/* params NULL = the defaults. Free with mast_bm25_free. */
mast_status mast_bm25_create(mast_bm25 **out, const mast_bm25_params *params);
void mast_bm25_free(mast_bm25 *index);

/* Indexes a chunk's text (already combined with its title/heading by the
** caller). A chunk id already present is an error (MAST_ERR_EXISTS). */
mast_status mast_bm25_add(mast_bm25 *index, mast_analyzer *a, int64_t chunk_id, int64_t doc_id,
                          const char *text, size_t len);

/* Removes a chunk; returns 1 if it was present and live, else 0. */
int mast_bm25_remove(mast_bm25 *index, int64_t chunk_id);

/* Number of live chunks. */
size_t mast_bm25_count(const mast_bm25 *index);

/* The top k chunks for a query, best first (ties by ascending chunk id).
** Only chunks with a positive score are returned. The caller frees *hits. */
mast_status mast_bm25_search(const mast_bm25 *index, mast_analyzer *a, const char *query,
                             size_t len, size_t k, mast_hit **hits, size_t *n_hits);

#endif
