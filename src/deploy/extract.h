/*
** deploy/extract.h — the extractive answer of `ask` without a model: the
** candidate passages' best sentences, whole, each cited by its passage.
*/
#ifndef MAST_DEPLOY_EXTRACT_H
#define MAST_DEPLOY_EXTRACT_H

#include "data/textindex/analyzer.h"
#include "mast.h"

#define MAST_EXTRACT_MAX 8   /* sentences at most */

typedef struct mast_extract {
    char *sentence[MAST_EXTRACT_MAX];  /* malloc'ed, white space collapsed, best first */
    size_t passage[MAST_EXTRACT_MAX];  /* the index of each sentence's passage */
    size_t n_sentences;
    size_t n_candidates;               /* sentences that matched a question term */
} mast_extract;

/* Picks up to max_sentences (<= MAST_EXTRACT_MAX) sentences of the passages,
** analyzed with `a` (the collection's analyzer). Free with mast_extract_free. */
mast_status mast_extract_answer(mast_analyzer *a, const char *question,
                                const mast_result *passages, size_t n_passages,
                                size_t max_sentences, mast_extract *out);
void mast_extract_free(mast_extract *e);

#endif
