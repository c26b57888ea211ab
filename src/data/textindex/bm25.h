/*
** data/textindex/bm25.h — the BM25 index: compressed postings segments with
** block-max scores, a live-documents bitmap per segment, merges, and a file
** form (a manifest plus one file per segment) opened by memory map.
**
** Scoring (Lucene's BM25 with its idf, k1 = 1.2, b = 0.75 by default), with a
** chunk's title (document title and heading path) weighted w against its body
** as in BM25F (w = 1 scores the chunk as one text):
**   tf~(t,d)  = tf_body(t,d) + w * tf_title(t,d)
**   |d|~      = |body(d)| + w * |title(d)|,  avgdl~ = mean of |d|~
**   score(q,d) = sum over distinct query terms t present in d of
**                idf(t) * qw(t) * tf~ * (k1 + 1) / (tf~ + k1 * (1 - b + b * |d|~ / avgdl~))
**   idf(t)    = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
**   qw(t)     = qtf * (k3 + 1) / (k3 + qtf), k3 = 1, qtf = the times t occurs in
**               the query (1 -> 1, 2 -> 4/3, 3 -> 3/2: Robertson's query-term
**               component with Xapian's k3; Lucene adds a repeated term in
**               full, which lost MEDLINE 0.016 nDCG@10 while k3 = 1 gained
**               LISA 0.045 and CACM 0.031, see docs/benchmarks.md)
** As in Lucene, N, df and the lengths count every chunk in the segments,
** deleted ones included, until a merge rewrites their segment (merges drop
** deleted chunks; a segment with over a fifth deleted is rewritten at the
** next mast_bm25_maintain). A deleted chunk is never returned.
**
** Search is exact top-k by block-max MaxScore: terms whose summed bounds
** cannot lift a chunk above the k-th score are only probed for the chunks
** the other terms find, and whole blocks of postings whose bounds are too
** low are skipped undecoded. The result equals exhaustive scoring exactly
** (same chunks, same scores, same order); MAST_BM25_EXHAUSTIVE runs that
** reference.
**
** Chunks are added in ascending chunk id. Added chunks become searchable at
** mast_bm25_flush, which turns them into a segment. Adding, removing,
** flushing, merging and saving need exclusive access; searches are read-only
** and may run concurrently (each with its own analyzer).
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

/* Indexes a chunk: its title part (document title, heading path) and its
** body, analyzed separately. chunk_id must be above every id added before
** (MAST_ERR_INVALID otherwise). */
mast_status mast_bm25_add(mast_bm25 *index, mast_analyzer *a, int64_t chunk_id, int64_t doc_id,
                          const char *title, size_t title_len, const char *body, size_t body_len);

/* Turns the chunks added since the last flush into a segment. */
mast_status mast_bm25_flush(mast_bm25 *index);

/* Removes a chunk; returns 1 if it was present and live, else 0. */
int mast_bm25_remove(mast_bm25 *index, int64_t chunk_id);

/* Live chunks (added, not removed). */
size_t mast_bm25_count(const mast_bm25 *index);

/* The largest chunk id ever added (INT64_MIN when none): chunks above it are new. */
int64_t mast_bm25_max_chunk(const mast_bm25 *index);

/* Calls fn for every live chunk id, ascending; fn returns non-zero to stop. */
void mast_bm25_each_live(const mast_bm25 *index, int (*fn)(void *ctx, int64_t chunk_id), void *ctx);

/* The default title weight: measured on the shared collections with titles,
** w = 2 raised nDCG@10 on all four (CACM +0.016, LISA +0.027, cranfield
** +0.005, SciFact +0.006) and changed nothing on the others; w = 1 is
** plain BM25 over the chunk as one text. */
#define MAST_BM25_TITLE_WEIGHT 2.0

typedef enum mast_bm25_strategy {
    MAST_BM25_AUTO,          /* pruned, but small segments scored whole (faster there) */
    MAST_BM25_EXHAUSTIVE,    /* score every posting (the reference for pruning) */
    MAST_BM25_PRUNED,        /* block-max MaxScore on every segment */
} mast_bm25_strategy;

typedef struct mast_bm25_query {
    size_t k;
    double title_weight;     /* w above; 0 means MAST_BM25_TITLE_WEIGHT */
    mast_bm25_strategy strategy;
    /* NULL, or keeps only the chunks of documents it returns non-zero for */
    int (*allow)(void *ctx, int64_t doc_id);
    void *allow_ctx;
} mast_bm25_query;

typedef struct mast_bm25_stats {
    uint64_t postings;       /* in the lists of the query's terms */
    uint64_t decoded;        /* of those, decoded (the rest skipped by block) */
    uint64_t scored;         /* (term, chunk) pairs scored */
} mast_bm25_stats;

/* The top k chunks for a query, best first (ties by ascending chunk id).
** Only chunks with a positive score are returned. The caller frees *hits.
** stats may be NULL. MAST_ERR_INVALID when chunks were added since the last
** flush; MAST_ERR_FORMAT when a postings block of a segment is damaged. */
mast_status mast_bm25_search_with(const mast_bm25 *index, mast_analyzer *a, const char *query,
                                  size_t len, const mast_bm25_query *q, mast_hit **hits,
                                  size_t *n_hits, mast_bm25_stats *stats);

/* mast_bm25_search_with: top k, title weight 1, pruned, no filter. */
mast_status mast_bm25_search(const mast_bm25 *index, mast_analyzer *a, const char *query,
                             size_t len, size_t k, mast_hit **hits, size_t *n_hits);

/* Merges: segments with over a fifth deleted are rewritten, and past 8
** segments the two newest are merged with each older neighbour no larger
** than the run so far (so a chunk is rewritten O(log n) times). all:
** everything into one segment without deleted chunks (`mast index optimize`). */
mast_status mast_bm25_maintain(mast_bm25 *index, int all);

/* Writes the index as files: `path` (the manifest: segments, deleted chunks,
** data version, tag) and `path-<n>` per segment, each atomically (the
** manifest last), then removes segment files the manifest no longer names.
** tag: up to 63 bytes the caller wants back (the analyzer's language). */
mast_status mast_bm25_save(mast_bm25 *index, const char *path, uint64_t data_version,
                           const char *tag);

/* Opens saved files (segments memory-mapped, checksums verified).
** MAST_ERR_NOT_FOUND when there is no manifest; MAST_ERR_FORMAT naming the
** file when anything is damaged or missing. tag: 64 bytes, may be NULL. */
mast_status mast_bm25_open(const char *path, const mast_bm25_params *params, mast_bm25 **out,
                           uint64_t *data_version, char *tag);

/* Removes the manifest and its segment files (missing ones are fine). */
void mast_bm25_remove_files(const char *path);

typedef struct mast_bm25_info {
    size_t segments, chunks, deleted, terms_max;
    uint64_t postings, bytes;
} mast_bm25_info;

void mast_bm25_get_info(const mast_bm25 *index, mast_bm25_info *info);

#endif
