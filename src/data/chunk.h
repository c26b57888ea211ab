/*
** data/chunk.h — structure-aware chunking.
**
** Input is a document as a list of blocks (paragraphs and code blocks, each
** with its heading path), output a list of chunks of at most
** `chunk_tokens` tokens each. Units are packed greedily: a paragraph that
** fits is one unit; a longer one is split into sentences, a sentence that is
** still too long into runs of words (and a word into byte runs at UTF-8
** boundaries). Chunks never cross a heading change, never cut a UTF-8
** sequence, and never split a code block (a code block larger than the
** budget becomes one oversized chunk). With overlap, a new chunk starts with
** the trailing units of the previous one (up to `overlap_tokens`).
**
** Tokens are counted by a pluggable function; mast_estimate_tokens is the
** default (about 4/3 tokens per word, each CJK character a word).
*/
#ifndef MAST_DATA_CHUNK_H
#define MAST_DATA_CHUNK_H

#include <stddef.h>

#include "mast.h"

#define MAST_DEFAULT_CHUNK_TOKENS 256

typedef enum { MAST_BLOCK_PARA, MAST_BLOCK_CODE } mast_block_kind;

typedef struct mast_block {
    mast_block_kind kind;
    const char *text;      /* valid UTF-8, not necessarily NUL-terminated */
    size_t len;
    const char *heading;   /* heading path ("A > B"), NULL or "" for none */
    int page;              /* the page it is on (1-based), 0 = not paged */
} mast_block;

typedef size_t (*mast_token_count_fn)(void *ctx, const char *text, size_t len);

typedef struct mast_chunk_opts {
    int chunk_tokens;              /* budget per chunk; <= 0 means the default */
    int overlap_tokens;            /* 0 = no overlap */
    mast_token_count_fn count;     /* NULL = mast_estimate_tokens */
    void *count_ctx;
} mast_chunk_opts;

typedef struct mast_chunk {
    char *text;        /* owned, NUL-terminated */
    char *heading;     /* owned, "" for none */
    int n_tokens;
    int page_start, page_end;   /* the pages of its blocks, 0 = not paged */
} mast_chunk;

/* Chunks the blocks. The caller frees *out with mast_chunks_free. Blocks that
** are empty or whitespace-only produce nothing. */
mast_status mast_chunk_blocks(const mast_block *blocks, size_t n_blocks,
                              const mast_chunk_opts *opts, mast_chunk **out, size_t *n_out);
void mast_chunks_free(mast_chunk *chunks, size_t n);

/* Default token counter: ceil(4/3 * words), a word being a run of
** non-space characters or a single CJK character. */
size_t mast_estimate_tokens(void *ctx, const char *text, size_t len);

/* Returns the end offset (exclusive, trailing spaces excluded) of the
** sentence that starts at `pos`; the next sentence starts after the spaces.
** A sentence ends after . ! ? (and their CJK forms), with optional closing
** quotes or brackets, before white space — except after common
** abbreviations and single-letter initials. */
size_t mast_sentence_end(const char *text, size_t len, size_t pos);

#endif
