/* tests/data/test_fuzz.c — untrusted bytes never crash the parsers.
**
** A deterministic fuzzer (fixed seed, so a failure reproduces): random and
** mutated inputs built from Markdown/JSON fragments go through the loaders,
** the chunker, the analyzer and JSON Lines ingest; every chunk must be valid
** UTF-8 within budget (or a code block). Run under ASan + UBSan in CI, this
** catches out-of-bounds reads and undefined behaviour on hostile input. */
#include <unistd.h>

#include "base/utf8.h"
#include "data/ingest/doc.h"
#include "data/ingest/ingest.h"
#include "data/textindex/analyzer.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static const char *const fragments[] = {
    "# ", "## ", "###### ", "####### ", "```", "~~~", "```c\n", "\n", "\n\n", "   ", "\t",
    "---\n", "===\n", "...", ". ", "! ", "? ", "Dr. ", "J. ", "e.g. ", "\xe2\x82\xac",
    "\xe6\x97\xa5", "\xcc\x81", "\xff", "\xc3", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "'s ",
    "don't ", "word ", "{\"_id\": \"x\", \"text\": \"", "\"}", "\\u0000", "|a|b|\n", "\r\n",
    "\0",
};

static size_t random_input(char *buf, size_t cap)
{
    size_t len = 0, parts = next() % 200;
    for (size_t i = 0; i < parts && len < cap - 8; i++) {
        if (next() % 4 == 0) {
            buf[len++] = (char)(next() & 0xFF);
        } else {
            size_t k = next() % (sizeof fragments / sizeof *fragments);
            size_t n = k == sizeof fragments / sizeof *fragments - 1 ? 1 : strlen(fragments[k]);
            if (len + n >= cap)
                break;
            memcpy(buf + len, fragments[k], n);
            len += n;
        }
    }
    return len;
}

static void count_term(void *ctx, const char *t, size_t n)
{
    (void)t;
    *(size_t *)ctx += n;
}

static void test_loaders_chunker_and_analyzer_survive_random_input(void)
{
    static char buf[8192];
    mast_analyzer *a;
    REQUIRE(mast_analyzer_open(&a, NULL) == MAST_OK);
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = random_input(buf, sizeof buf);
        /* the analyzer takes raw bytes as they come */
        size_t bytes = 0;
        mast_analyze(a, buf, len, count_term, &bytes);
        /* loaders take repaired, normalized text, as ingest gives them */
        char *fixed, *text;
        size_t fixed_len, text_len;
        REQUIRE(mast_utf8_repair(buf, len, &fixed, &fixed_len, NULL) == MAST_OK);
        REQUIRE(mast_utf8_nfc(fixed, fixed_len, &text, &text_len) == MAST_OK);
        for (int kind = 0; kind < 2; kind++) {
            mast_doc doc;
            mast_doc_init(&doc);
            mast_status st = kind ? mast_load_markdown(&doc, text, text_len, "t")
                                  : mast_load_text(&doc, text, text_len, "t");
            REQUIRE(st == MAST_OK);
            mast_chunk_opts o = {.chunk_tokens = 16 + (int)(next() % 64),
                                 .overlap_tokens = (int)(next() % 8)};
            mast_chunk *c;
            size_t n;
            REQUIRE(mast_chunk_blocks(doc.blocks, doc.n_blocks, &o, &c, &n) == MAST_OK);
            for (size_t i = 0; i < n; i++) {
                CHECK(mast_utf8_valid(c[i].text, strlen(c[i].text), NULL));
                CHECK(c[i].n_tokens <= o.chunk_tokens || strstr(c[i].text, "```") ||
                      strstr(c[i].text, "~~~"));
            }
            mast_chunks_free(c, n);
            mast_doc_free(&doc);
        }
        free(fixed);
        free(text);
        if (test_current_failed) {
            fprintf(stderr, "  failing iteration %d\n", iter);
            break;
        }
    }
    mast_analyzer_free(a);
}

static void test_jsonl_ingest_survives_random_lines(void)
{
    char *dir = test_tmpdir(), *dbdir = test_tmpdir();
    char path[512], db[512];
    snprintf(path, sizeof path, "%s/fuzz.jsonl", dir);
    snprintf(db, sizeof db, "%s/m.db", dbdir);
    mast_store *store;
    REQUIRE(mast_store_open(&store, db) == MAST_OK);
    static char buf[8192];
    for (int round = 0; round < 40; round++) {
        FILE *f = fopen(path, "wb");
        REQUIRE(f);
        for (int line = 0; line < 20; line++) {
            size_t len = random_input(buf, sizeof buf);
            for (size_t i = 0; i < len; i++)
                if (buf[i] == '\n' || buf[i] == '\0')
                    buf[i] = ' ';
            fwrite(buf, 1, len, f);
            fputc('\n', f);
        }
        fprintf(f, "{\"_id\": \"ok%d\", \"text\": \"a valid line\"}\n", round);
        fclose(f);
        const char *paths[] = {path};
        mast_ingest_stats s;
        REQUIRE(mast_ingest(store, "fuzz", paths, 1, NULL, NULL, &s) == MAST_OK);
        CHECK(s.docs_ingested >= 1);   /* the valid line always gets in */
    }
    mast_store_close(store);
    unlink(path);
    free(dir);
    free(dbdir);
}

int main(void)
{
    RUN(test_loaders_chunker_and_analyzer_survive_random_input);
    RUN(test_jsonl_ingest_survives_random_lines);
    return test_summary();
}
