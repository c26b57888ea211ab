/*
** deploy/rag.h — the question-answering pipeline.
**
** ask = retrieve the top k passages, then answer from them with numbered
** [n] citations. With a generator, it writes the answer from the numbered
** passages (a system message asks it to use only them and cite them as
** [n]); without one the answer is extractive (deploy/extract.h): the best
** whole sentences of the top MAST_ASK_CANDIDATES passages, each cited, and
** the answer says so. The sources are the top k passages and then any deeper
** passage the extractive answer cites.
*/
#ifndef MAST_DEPLOY_RAG_H
#define MAST_DEPLOY_RAG_H

#include "data/retrieve.h"
#include "model/generate.h"

#define MAST_ASK_DEFAULT_K 5
#define MAST_ASK_MAX_SENTENCES 3
#define MAST_ASK_CANDIDATES 20   /* passages an extractive answer picks sentences from */

typedef struct mast_answer {
    char *answer;              /* owned; cites sources as [n] */
    mast_result *sources;      /* numbered by rank: [n] is sources[n-1] */
    size_t n_sources;
    int extractive;            /* 1: no generator was used */
    const char *note;          /* static text explaining how it was answered */
} mast_answer;

/* Answers `question` from collection `collection`. Free with
** mast_answer_free. */
mast_status mast_ask(mast_retriever *r, mast_store *store, const char *collection,
                     const char *question, size_t k, mast_trace *trace, mast_answer *out);
/* mast_ask with a generator (NULL: extractive). params NULL: greedy, 512
** tokens at most. stream (may be NULL) receives the answer as it is
** generated. Passages are cut to fit the generator's context. With expand
** (mast_search_opts.expand) a generator reads each passage's context (its
** neighbours or section) instead of the passage alone. */
mast_status mast_ask_with(mast_retriever *r, mast_store *store, const char *collection,
                          const char *question, size_t k, int expand, mast_generator *gen,
                          const mast_gen_params *params, mast_gen_text_fn stream, void *stream_ctx,
                          mast_trace *trace, mast_answer *out);
void mast_answer_free(mast_answer *answer);

#endif
