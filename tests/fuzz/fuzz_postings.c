/*
** tests/fuzz/fuzz_postings.c — libFuzzer target: arbitrary bytes as a BM25
** postings segment, parsed without the checksum (so that mutations reach the
** structural checks). A segment that parses has every term's postings read
** (next, and advance to scattered targets), is merged with itself, and is
** searched pruned and exhaustively with queries made of its own terms.
** Built only with clang (-DMAST_FUZZ=ON); see tests/fuzz/run.sh.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/textindex/bm25.h"
#include "data/textindex/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);   /* malloc'ed: 8-byte aligned, as a map is */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    mast_seg s;
    if (seg_parse(&s, copy, size, copy, NULL, 0, "fuzz") != MAST_OK)
        return 0;
    seg_cursor c;
    for (uint32_t t = 0; t < s.n_terms && t < 64; t++) {
        seg_cursor_init(&c, &s, (long)t);
        while (c.doc != SEG_END)
            seg_cursor_next(&c);
        seg_cursor_init_lazy(&c, &s, (long)t);
        for (uint32_t target = 0; target < s.n_docs; target = target * 2 + 3) {
            seg_cursor_block_of(&c, target);
            if (seg_cursor_advance(&c, target) == SEG_END)
                break;
        }
    }
    const mast_seg *one[1] = {&s};
    uint8_t *merged;
    size_t merged_size;
    if (seg_merge(one, NULL, 1, &merged, &merged_size) == MAST_OK) {
        mast_seg m;   /* a merge writes a valid segment, whatever it read */
        if (seg_parse(&m, merged, merged_size, merged, NULL, 1, "merged") != MAST_OK)
            abort();
        seg_free(&m);
    }
    /* search: the segment inside an index, queried with its own terms */
    mast_bm25 *x;
    mast_analyzer *a;
    if (mast_bm25_create(&x, NULL) == MAST_OK && mast_analyzer_open(&a, "none") == MAST_OK) {
        char query[256];
        size_t n = 0;
        for (uint32_t t = 0; t < s.n_terms && t < 6; t++) {
            const seg_term *e = &s.terms[t];
            if (e->str_len < 40 && n + e->str_len + 2 < sizeof query) {
                memcpy(query + n, s.strings + e->str_off, e->str_len);
                n += e->str_len;
                query[n++] = ' ';
            }
        }
        uint8_t *img = malloc(size ? size : 1);
        if (img) {
            memcpy(img, data, size);
            if (bm25_adopt_segment(x, img, size) == MAST_OK) {
                for (int strategy = MAST_BM25_EXHAUSTIVE; strategy <= MAST_BM25_PRUNED; strategy++) {
                    mast_bm25_query q = {.k = 5, .strategy = (mast_bm25_strategy)strategy};
                    mast_hit *h;
                    size_t nh;
                    if (mast_bm25_search_with(x, a, query, n, &q, &h, &nh, NULL) == MAST_OK)
                        free(h);
                }
                mast_bm25_remove(x, s.n_docs ? s.chunk_ids[0] : 0);
                mast_bm25_maintain(x, 1);
            }
        }
        mast_analyzer_free(a);
    }
    mast_bm25_free(x);
    seg_free(&s);
    return 0;
}
