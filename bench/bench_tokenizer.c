/*
** bench/bench_tokenizer.c — tokenizer throughput (MB/s of text, one thread)
** for each family, over the text of a shared IR corpus.
**
**   bench_tokenizer SHARED_DATA_DIR
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/mmap.h"
#include "model/tokenizer.h"

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "../shared/data";
    char path[512];
    snprintf(path, sizeof path, "%s/ir/cranfield/corpus.jsonl", data);
    char *raw;
    size_t raw_len;
    if (mast_read_file(path, 1 << 30, &raw, &raw_len) != MAST_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", mast_errmsg());
        return 1;
    }
    /* the documents' text fields, one per line */
    mast_buf text = {0};
    for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        const char *t = mast_json_get_str(o, "text", NULL);
        if (t) {
            mast_buf_puts(&text, t);
            mast_buf_putc(&text, '\n');
        }
        json_decref(o);
    }
    static const char *const vocabs[] = {"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"};
    printf("| tokenizer | family | MB | tokens | seconds | MB/s |\n|---|---|---:|---:|---:|---:|\n");
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", data, vocabs[v]);
        mast_gguf *g;
        mast_tokenizer *t;
        if (mast_gguf_open(&g, path) != MAST_OK || mast_tokenizer_load(&t, g) != MAST_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", mast_errmsg());
            return 1;
        }
        mast_gguf_close(g);
        /* tokenize line by line, as an ingest would chunk by chunk */
        size_t n_tokens = 0;
        int64_t t0 = mast_mono_us();
        const char *p = text.data;
        while (*p) {
            const char *nl = strchr(p, '\n');
            mast_tokens ids = {0};
            mast_tokenize(t, p, (size_t)(nl - p), false, false, &ids);
            n_tokens += ids.n;
            mast_tokens_free(&ids);
            p = nl + 1;
        }
        double secs = (double)(mast_mono_us() - t0) / 1e6;
        static const char *kinds[] = {"SPM", "BPE", "WordPiece"};
        printf("| %s | %s | %.2f | %zu | %.2f | %.1f |\n", vocabs[v],
               kinds[mast_tokenizer_kind(t)], text.len / 1e6, n_tokens, secs,
               text.len / 1e6 / secs);
        mast_tokenizer_free(t);
    }
    mast_buf_free(&text);
    free(raw);
    return 0;
}
