/*
** data/textindex/bm25_impl.h — the BM25 index's inside, shared by its three
** files: bm25.c (adding, deleting, merging), bm25_search.c (ranking with
** block-max MaxScore) and bm25_file.c (the manifest and segment files).
** Internal to src/data/textindex.
*/
#ifndef MAST_DATA_TEXTINDEX_BM25_IMPL_H
#define MAST_DATA_TEXTINDEX_BM25_IMPL_H

#include <stdint.h>

#include "data/textindex/bm25.h"
#include "data/textindex/segment.h"

#define MAX_SEGMENTS 8
#define MAX_QUERY_TERMS 1024
/* Scoring a segment whole (term at a time into an accumulator for all its
** chunks) beats pruning when the segment is small or the query's postings
** outnumber its chunks (long queries of common words): measured on the
** shared collections, LISA (6,004 chunks, 11,568 postings per query): 8.3k
** against 5.2k queries/s for the top 10; SciFact (5,194, 4,424) and NPL
** (11,426, 4,151) are faster pruned (18.1k against 16.3k; 18.3k against
** 14.8k), as is every size of bench/bm25/bench_prune.c from 20,000 chunks
** (1.5x; 2.3x at 200,000, 2.4x at 500,000). */
#define SMALL_SEGMENT 4096
#define WHOLE_POSTINGS_PER_CHUNK 1.5

typedef struct plist {   /* pending postings of one term */
    uint32_t *docs, *tfb, *tft;
    uint32_t n, cap;
} plist;

typedef struct pending {
    /* terms */
    char *strings;
    size_t strings_len, strings_cap;
    uint32_t *term_off, *term_len;
    plist *post;
    size_t n_terms, cap_terms;
    uint32_t *table;      /* term id + 1, 0 = empty */
    size_t table_cap;
    /* chunks */
    int64_t *chunk_ids, *doc_ids;
    uint32_t *lb, *lt;
    uint8_t *deleted;
    size_t n, cap;
} pending;

typedef struct segment {
    mast_seg seg;
    uint8_t *deleted;     /* bitmap, NULL when none */
    uint32_t n_deleted;
    uint64_t gen;         /* its file is path-<gen>; 0 = not saved yet */
} segment;

struct mast_bm25 {
    mast_bm25_params params;
    segment *segs;
    size_t n_segs, cap_segs;
    pending p;
    int64_t max_chunk;
    uint64_t next_gen;
};

static inline void set_deleted(segment *s, uint32_t i)
{
    s->deleted[i >> 3] |= (uint8_t)(1u << (i & 7));
    s->n_deleted++;
}

static inline int deleted_at(const segment *s, uint32_t i)
{
    return s->deleted && (s->deleted[i >> 3] >> (i & 7) & 1);
}

/* Appends a segment image (owned from then on) with its deletion bitmap
** (NULL: none) at position `at`, replacing the segments from `at` on when
** merging (see bm25.c). */
mast_status mast_bm25_push_segment(mast_bm25 *x, uint8_t *image, size_t size, uint8_t *deleted,
                                   uint32_t n_deleted, size_t at);

#endif
