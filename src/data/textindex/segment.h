/*
** data/textindex/segment.h — immutable postings segments (inside textindex).
**
** A segment is one byte image, built in memory and written as a file (or
** kept in memory for a database without a path), read in place from a
** memory map. All integers are little-endian host order (the file is derived
** data: another machine rebuilds it from the store).
**
**   [postings][dictionary][strings][doc table][footer]
**
** postings   per term, 4-byte aligned: its skip table (one seg_skip per block
**            of SEG_BLOCK postings) and then the blocks. A block is the
**            document-number gaps (variable-byte, the first one from the
**            previous block's last document + 1) followed by one
**            variable-byte value per posting, tf_body << 1 | has_title, and
**            for postings with has_title, tf_title after it.
** dictionary seg_term per term, sorted by term bytes (memcmp, shorter first).
** doc table  chunk ids (ascending), document ids, body lengths, title lengths.
** footer     seg_footer; its checksum is XXH3-64 of every byte before it and
**            of the footer with the checksum field zero.
**
** Each skip entry bounds the block's BM25 contributions: the largest body and
** title frequencies and the smallest body and title lengths in it. Those are
** bounds for any title weight and any collection statistics, since the BM25
** term weight grows with tf and shrinks with the document length.
*/
#ifndef MAST_DATA_TEXTINDEX_SEGMENT_H
#define MAST_DATA_TEXTINDEX_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/mmap.h"
#include "mast.h"

#define SEG_BLOCK 128
#define SEG_END UINT32_MAX
#define SEG_VERSION 1

typedef struct seg_skip {
    uint32_t last_doc;   /* the block's last document number */
    uint32_t end;        /* byte offset of the block's end, from the first block */
    uint32_t max_tfb, max_tft, min_lb, min_lt;
} seg_skip;

typedef struct seg_term {
    uint32_t str_off, str_len, df, pad;
    uint64_t post_off;   /* the skip table, from the start of the file */
} seg_term;

typedef struct seg_footer {
    char magic[8];       /* "MASTTSG1" */
    uint32_t version, n_docs, n_terms, pad;
    uint64_t sum_lb, sum_lt;   /* total body and title lengths */
    uint64_t off_dict, off_strings, off_docs, checksum;
} seg_footer;

typedef struct mast_seg {
    const uint8_t *data;
    size_t size;
    mast_mapped map;     /* when read from a file */
    uint8_t *owned;      /* when built in memory */
    uint32_t n_docs, n_terms;
    uint64_t sum_lb, sum_lt;
    const seg_term *terms;
    const char *strings;
    size_t strings_len;
    const int64_t *chunk_ids, *doc_ids;
    const uint32_t *lb, *lt;
    uint64_t checksum;
    uint64_t total_postings;
} mast_seg;

/* Parses and validates a segment image (every offset and count against its
** size; verify: the checksum too). Takes ownership of `owned` (may be NULL)
** and of `map`. name appears in errors. */
mast_status seg_parse(mast_seg *s, const uint8_t *data, size_t size, uint8_t *owned,
                      const mast_mapped *map, int verify, const char *name);
void seg_free(mast_seg *s);

/* The dictionary index of a term, or -1. */
long seg_find_term(const mast_seg *s, const char *t, size_t n);

/* The local number of a chunk id, or -1. */
long seg_find_chunk(const mast_seg *s, int64_t chunk_id);

/* Iterates one term's postings. doc is the current document (SEG_END at the
** end). A damaged block ends the list and sets bad. */
typedef struct seg_cursor {
    const mast_seg *s;
    const seg_skip *skips;
    const uint8_t *base, *limit;
    uint32_t n_blocks, block, pos, n, last_n;
    uint32_t doc;
    int bad, loaded;
    uint64_t decoded;    /* postings decoded so far */
    uint32_t docs[SEG_BLOCK], tfb[SEG_BLOCK], tft[SEG_BLOCK];
} seg_cursor;

void seg_cursor_init(seg_cursor *c, const mast_seg *s, long term);
/* Decodes nothing yet: doc is 0 until the first seg_cursor_advance. */
void seg_cursor_init_lazy(seg_cursor *c, const mast_seg *s, long term);
/* The current posting's frequencies. */
static inline uint32_t seg_cursor_tfb(const seg_cursor *c) { return c->tfb[c->pos]; }
static inline uint32_t seg_cursor_tft(const seg_cursor *c) { return c->tft[c->pos]; }
uint32_t seg_cursor_next(seg_cursor *c);
/* Moves to the first posting with doc >= target; returns its doc. */
uint32_t seg_cursor_advance(seg_cursor *c, uint32_t target);
/* The skip entry of the block that would hold target (without decoding), or
** NULL when target is past the last posting. */
const seg_skip *seg_cursor_block_of(const seg_cursor *c, uint32_t target);

/* Writing a segment: the documents first, then the terms in dictionary order
** with their postings (docs ascending), then finish. */
typedef struct seg_writer {
    mast_buf out;
    uint32_t n_docs;
    const uint32_t *lb, *lt;
    seg_term *terms;
    size_t n_terms, cap_terms;
    mast_buf strings;
    mast_status st;
} seg_writer;

void seg_writer_begin(seg_writer *w, uint32_t n_docs, const uint32_t *lb, const uint32_t *lt);
void seg_writer_term(seg_writer *w, const char *t, size_t len, const uint32_t *docs,
                     const uint32_t *tfb, const uint32_t *tft, uint32_t n);
/* Appends the dictionary, doc table and footer; *image is malloc'ed. */
mast_status seg_writer_finish(seg_writer *w, const int64_t *chunk_ids, const int64_t *doc_ids,
                              uint8_t **image, size_t *size);
void seg_writer_abort(seg_writer *w);

/* Merges segments (in order; chunk ranges ascending) into one image, leaving
** out the documents whose bit is set in deleted[i] (NULL: none). */
mast_status seg_merge(const mast_seg *const *segs, const uint8_t *const *deleted, size_t n,
                      uint8_t **image, size_t *size);

/* Adds a segment image (taken over, unverified) to an index, as the newest
** segment: for the fuzz target, which searches hostile segments. */
struct mast_bm25;
mast_status bm25_adopt_segment(struct mast_bm25 *index, uint8_t *image, size_t size);

/* Variable-byte coding (7 bits per byte, high bit = more), exposed for tests. */
size_t seg_vbyte_put(uint8_t *p, uint32_t v);
/* Reads one value; returns bytes used, 0 if it runs past limit or is too long. */
size_t seg_vbyte_get(const uint8_t *p, const uint8_t *limit, uint32_t *v);

#endif
