/*
** deploy/rag.c — retrieval-augmented answers (see rag.h).
**
** Extractive scoring of a sentence: the number of distinct question terms it
** contains (after the same analysis as the index: folding, stop words,
** stemming), divided by sqrt(1 + its term count) so that long sentences do
** not win by size alone, plus a small bonus for higher-ranked passages. The
** best MAST_ASK_MAX_SENTENCES sentences (at most two from one passage) are
** printed in score order, each followed by its passage's [n]. Only prose is
** a candidate: code fences and table rows are skipped.
*/
#include "deploy/rag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/chunk.h"

#define MAX_QUERY_TERMS 64

typedef struct terms {
    char *items[MAX_QUERY_TERMS];
    size_t n;
    size_t total;             /* all terms seen, distinct or not */
    size_t hits;              /* terms matching the query set (distinct) */
    const struct terms *query;
    unsigned char matched[MAX_QUERY_TERMS];
} terms;

static void add_query_term(void *ctx, const char *t, size_t n)
{
    terms *q = ctx;
    for (size_t i = 0; i < q->n; i++)
        if (strlen(q->items[i]) == n && memcmp(q->items[i], t, n) == 0)
            return;
    if (q->n < MAX_QUERY_TERMS && (q->items[q->n] = strndup(t, n)) != NULL)
        q->n++;
}

static void match_term(void *ctx, const char *t, size_t n)
{
    terms *s = ctx;
    s->total++;
    for (size_t i = 0; i < s->query->n; i++) {
        if (!s->matched[i] && strlen(s->query->items[i]) == n &&
            memcmp(s->query->items[i], t, n) == 0) {
            s->matched[i] = 1;
            s->hits++;
        }
    }
}

typedef struct sentence {
    size_t source;            /* index into sources */
    const char *text;
    size_t len;
    double score;
} sentence;

static int cmp_sentence(const void *a, const void *b)
{
    const sentence *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    return x->text < y->text ? -1 : x->text > y->text;
}

/* Copies the prose of a passage: lines inside code fences, fence lines and
** table rows are dropped, since they make poor answer sentences. */
static char *prose_of(const char *text)
{
    mast_buf b = {0};
    int in_fence = 0;
    const char *line = text;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *p = line;
        while (p < line + n && (*p == ' ' || *p == '\t'))
            p++;
        int fence = (line + n - p >= 3) && (strncmp(p, "```", 3) == 0 || strncmp(p, "~~~", 3) == 0);
        if (fence)
            in_fence = !in_fence;
        else if (!in_fence && *p != '|' && mast_buf_append(&b, line, n) == MAST_OK)
            mast_buf_putc(&b, '\n');
        line = nl ? nl + 1 : line + n;
    }
    return mast_buf_detach(&b);
}

static mast_status collect_sentences(mast_analyzer *a, const terms *q, const mast_answer *ans,
                                     char **prose, sentence **out, size_t *n_out)
{
    sentence *list = NULL;
    size_t n = 0, cap = 0;
    for (size_t s = 0; s < ans->n_sources; s++) {
        const char *text = prose[s];
        size_t len = strlen(text), pos = 0;
        while (pos < len) {
            while (pos < len && strchr(" \t\r\n", text[pos]))
                pos++;
            if (pos >= len)
                break;
            size_t end = mast_sentence_end(text, len, pos);
            terms st = {.query = q};
            mast_analyze(a, text + pos, end - pos, match_term, &st);
            if (st.hits) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 32;
                    sentence *p = realloc(list, cap * sizeof *p);
                    if (!p) {
                        free(list);
                        return mast_fail(MAST_ERR_NOMEM, "out of memory");
                    }
                    list = p;
                }
                double score = (double)st.hits / sqrt(1.0 + (double)st.total) +
                               0.01 / (double)(s + 1);
                list[n++] = (sentence){s, text + pos, end - pos, score};
            }
            pos = end > pos ? end : pos + 1;
        }
    }
    if (n > 1)
        qsort(list, n, sizeof *list, cmp_sentence);
    *out = list;
    *n_out = n;
    return MAST_OK;
}

static mast_status compose(const sentence *list, size_t n, mast_buf *b)
{
    size_t used = 0;
    size_t per_source[MAST_MAX_K] = {0};
    for (size_t i = 0; i < n && used < MAST_ASK_MAX_SENTENCES; i++) {
        if (list[i].source < MAST_MAX_K && per_source[list[i].source] >= 2)
            continue;
        if (list[i].source < MAST_MAX_K)
            per_source[list[i].source]++;
        if (used)
            MAST_TRY(mast_buf_putc(b, ' '));
        /* flatten line breaks inside the sentence */
        for (size_t j = 0; j < list[i].len; j++) {
            char c = list[i].text[j];
            MAST_TRY(mast_buf_putc(b, c == '\n' || c == '\r' || c == '\t' ? ' ' : c));
        }
        MAST_TRY(mast_buf_printf(b, " [%zu]", list[i].source + 1));
        used++;
    }
    return MAST_OK;
}

#define PASSAGE_CHARS 1500   /* each passage in a generator's prompt, at most */

typedef struct answer_sink {
    mast_buf text;
    mast_gen_text_fn stream;
    void *ctx;
} answer_sink;

static int keep_answer(void *ctx, const char *text, size_t len)
{
    answer_sink *a = ctx;
    if (mast_buf_append(&a->text, text, len) != MAST_OK)
        return 1;
    return a->stream ? a->stream(a->ctx, text, len) : 0;
}

/* The generator's answer from the numbered passages. */
static mast_status generate_answer(mast_generator *gen, const mast_gen_params *params,
                                   const char *question, mast_answer *out, mast_gen_text_fn stream,
                                   void *stream_ctx, mast_trace *trace)
{
    mast_trace_span_begin(trace, "rag.generate");
    mast_trace_attr_str(trace, "model", mast_generator_describe(gen));
    mast_buf user = {0};
    mast_status st = mast_buf_puts(&user, "Passages:\n");
    for (size_t i = 0; st == MAST_OK && i < out->n_sources; i++) {
        const mast_result *s = &out->sources[i];
        size_t len = strlen(s->text);
        if (len > PASSAGE_CHARS)   /* cut at a UTF-8 boundary */
            for (len = PASSAGE_CHARS; len > 0 && ((unsigned char)s->text[len] & 0xC0) == 0x80; len--) {
            }
        st = mast_buf_printf(&user, "[%zu] %s%s%s\n%.*s\n\n", i + 1, s->title,
                             *s->heading ? " > " : "", s->heading, (int)len, s->text);
    }
    if (st == MAST_OK)
        st = mast_buf_printf(&user, "Question: %s", question);
    mast_chat_message msgs[2] = {
        {"system", "Answer the question using only the numbered passages. Cite the passages you "
                   "use as [n]. If the passages do not contain the answer, say so."},
        {"user", mast_buf_cstr(&user)},
    };
    mast_gen_params p = params ? *params : MAST_GEN_PARAMS_DEFAULT;
    if (!params) {
        p.max_tokens = 512;
        p.sampler.temperature = 0;
    }
    answer_sink sink = {{0}, stream, stream_ctx};
    mast_gen_result res = {0};
    if (st == MAST_OK) {
        mast_gen_request req = {msgs, 2, NULL, p};
        st = mast_generate(gen, &req, keep_answer, &sink, &res);
    }
    mast_trace_attr_int(trace, "prompt_tokens", res.prompt_tokens);
    mast_trace_attr_int(trace, "completion_tokens", res.completion_tokens);
    if (res.finish_reason)
        mast_trace_attr_str(trace, "finish_reason", res.finish_reason);
    mast_trace_span_end(trace, st);
    mast_gen_result_free(&res);
    mast_buf_free(&user);
    if (st != MAST_OK) {
        mast_buf_free(&sink.text);
        return st;
    }
    out->extractive = 0;
    out->note = "generated by the model from the top passages";
    out->answer = mast_buf_detach(&sink.text);
    return out->answer ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

mast_status mast_ask(mast_retriever *r, mast_store *store, const char *collection,
                     const char *question, size_t k, mast_trace *trace, mast_answer *out)
{
    return mast_ask_with(r, store, collection, question, k, NULL, NULL, NULL, NULL, trace, out);
}

mast_status mast_ask_with(mast_retriever *r, mast_store *store, const char *collection,
                          const char *question, size_t k, mast_generator *gen,
                          const mast_gen_params *params, mast_gen_text_fn stream, void *stream_ctx,
                          mast_trace *trace, mast_answer *out)
{
    memset(out, 0, sizeof *out);
    if (!question || !*question)
        return mast_fail(MAST_ERR_INVALID, "the question is empty");
    MAST_TRY(mast_search(r, store, collection, question, k, trace, &out->sources,
                         &out->n_sources));
    if (gen) {
        mast_status st = generate_answer(gen, params, question, out, stream, stream_ctx, trace);
        if (st != MAST_OK)
            mast_answer_free(out);
        return st;
    }
    mast_trace_span_begin(trace, "rag.extract");
    out->extractive = 1;
    out->note = "no model is configured: this is an extractive answer from the top passages";
    mast_analyzer *a = NULL;
    terms q = {0};
    sentence *list = NULL;
    size_t n = 0;
    mast_buf b = {0};
    char **prose = calloc(out->n_sources ? out->n_sources : 1, sizeof *prose);
    mast_status st = prose ? mast_analyzer_open(&a, NULL) : mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == MAST_OK && i < out->n_sources; i++)
        if (!(prose[i] = prose_of(out->sources[i].text)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK) {
        mast_analyze(a, question, strlen(question), add_query_term, &q);
        st = collect_sentences(a, &q, out, prose, &list, &n);
    }
    if (st == MAST_OK)
        st = compose(list, n, &b);
    if (st == MAST_OK && b.len == 0)
        st = mast_buf_printf(&b, "No passage in collection '%s' matches the question.",
                             collection);
    mast_trace_attr_int(trace, "n_sources", (int64_t)out->n_sources);
    mast_trace_attr_int(trace, "n_candidate_sentences", (int64_t)n);
    mast_trace_span_end(trace, st);
    free(list);
    for (size_t i = 0; prose && i < out->n_sources; i++)
        free(prose[i]);
    free(prose);
    for (size_t i = 0; i < q.n; i++)
        free(q.items[i]);
    mast_analyzer_free(a);
    if (st != MAST_OK) {
        mast_buf_free(&b);
        mast_answer_free(out);
        return st;
    }
    out->answer = mast_buf_detach(&b);
    return MAST_OK;
}

void mast_answer_free(mast_answer *answer)
{
    if (!answer)
        return;
    free(answer->answer);
    mast_results_free(answer->sources, answer->n_sources);
    memset(answer, 0, sizeof *answer);
}
