/*
** tests/model/test_grammar.c — GBNF grammars, JSON Schema compilation and
** the matcher (model/grammar.h).
*/
#include <jansson.h>

#include "base/status.h"
#include "model/gguf.h"
#include "model/grammar.h"
#include "model/tokenizer.h"
#include "test.h"

/* Whether text matches g completely (accepted byte by byte and can end). */
static int matches(const char *gbnf, const char *text)
{
    mast_grammar *g;
    if (mast_grammar_parse(gbnf, strlen(gbnf), &g) != MAST_OK) {
        fprintf(stderr, "  grammar: %s\n", mast_errmsg());
        return -1;
    }
    mast_grammar_matcher *m;
    int ok = 0;
    if (mast_grammar_matcher_new(g, NULL, &m) == MAST_OK) {
        ok = mast_grammar_matcher_accept(m, text, strlen(text)) == MAST_OK &&
             mast_grammar_matcher_can_end(m);
        mast_grammar_matcher_free(m);
    }
    mast_grammar_free(g);
    return ok;
}

static int schema_matches(const char *schema_text, const char *text)
{
    json_t *schema = json_loads(schema_text, 0, NULL);
    mast_buf b = {0};
    int r = -1;
    if (schema && mast_schema_to_gbnf(schema, &b) == MAST_OK)
        r = matches(b.data, text);
    else
        fprintf(stderr, "  schema: %s\n", mast_errmsg());
    mast_buf_free(&b);
    json_decref(schema);
    return r;
}

static void test_gbnf_basics(void)
{
    const char *arith = "root ::= expr\n"
                        "expr ::= term ((\"+\" | \"-\") term)*\n"
                        "term ::= factor ((\"*\" | \"/\") factor)*\n"
                        "factor ::= [0-9]+ | \"(\" expr \")\"\n";
    CHECK_EQ_INT(matches(arith, "1+2*(3-4)"), 1);
    CHECK_EQ_INT(matches(arith, "12"), 1);
    CHECK_EQ_INT(matches(arith, "1+"), 0);
    CHECK_EQ_INT(matches(arith, "(1"), 0);
    CHECK_EQ_INT(matches(arith, "1++2"), 0);
    CHECK_EQ_INT(matches("root ::= \"a\"? \"b\"{2,3}", "bb"), 1);
    CHECK_EQ_INT(matches("root ::= \"a\"? \"b\"{2,3}", "abbb"), 1);
    CHECK_EQ_INT(matches("root ::= \"a\"? \"b\"{2,3}", "abbbb"), 0);
    CHECK_EQ_INT(matches("root ::= \"a\"? \"b\"{2,3}", "aab"), 0);
    CHECK_EQ_INT(matches("root ::= \"-\"? [1-9]", "--1"), 0);
    CHECK_EQ_INT(matches("root ::= \"-\"? [1-9]", "-1"), 1);
}

static void test_gbnf_unicode(void)
{
    /* classes over code points match whole UTF-8 characters */
    CHECK_EQ_INT(matches("root ::= [^a]+", "héllo日本"), 1);
    CHECK_EQ_INT(matches("root ::= [α-ω]+", "λόγος"), 0);   /* ό is outside α-ω */
    CHECK_EQ_INT(matches("root ::= [α-ω]+", "λογος"), 1);
    CHECK_EQ_INT(matches("root ::= .", "\xe6\x97"), 0);     /* half a character */
    CHECK_EQ_INT(matches("root ::= \"日本\"", "日本"), 1);
}

static void test_gbnf_errors(void)
{
    mast_grammar *g = NULL;
    const char *bad[] = {"root ::= foo", "expr ::= \"a\"", "root ::= root \"a\"", "root ::= (\"a\"",
                         "root ::= \"a", "root ::= [a", "root ::= *", "root ::= \"a\"{3,2}"};
    const char *want[] = {"rule 'foo' is used but not defined", "no 'root' rule", "left-recursive",
                          "without its closing )", "without its closing quote",
                          "without its closing ]", "nothing before it", "n below m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(mast_grammar_parse(bad[i], strlen(bad[i]), &g) == MAST_ERR_FORMAT);
        if (!strstr(mast_errmsg(), want[i]))
            fprintf(stderr, "  '%s': %s\n", bad[i], mast_errmsg());
        CHECK(strstr(mast_errmsg(), want[i]) != NULL);
    }
}

/* A grammar ambiguous in a combinatorial number of ways is followed within
** a bounded cost or refused with a clear error: never a worker held for
** minutes (the fuzzer found such a grammar). */
static void test_ambiguity_is_bounded(void)
{
    /* each "a" doubles the ways the text may go on ("b" or "c" owed per level):
    ** 2^n distinct parse stacks after n bytes */
    mast_buf g = {0};
    mast_buf_puts(&g, "root ::= x\nx ::= \"a\" x \"b\" | \"a\" x \"c\" | \"\"");
    mast_grammar *gr;
    REQUIRE(mast_grammar_parse(g.data, g.len, &gr) == MAST_OK);
    mast_grammar_matcher *m;
    REQUIRE(mast_grammar_matcher_new(gr, NULL, &m) == MAST_OK);
    mast_status st = MAST_OK;
    for (int i = 0; i < 400 && st == MAST_OK; i++)
        st = mast_grammar_matcher_accept(m, "a", 1);
    CHECK_EQ_INT(st, MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "too ambiguous to follow") != NULL);
    CHECK(!mast_grammar_matcher_allows(m, "a", 1));   /* past the budget: refused, never guessed */
    mast_grammar_matcher_free(m);
    mast_grammar_free(gr);
    mast_buf_free(&g);
}

static void test_schema(void)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
                    "\"age\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},"
                    "\"maxItems\":3}},\"required\":[\"name\",\"age\",\"tags\"],\"additionalProperties\":false}";
    CHECK_EQ_INT(schema_matches(s, "{\"name\":\"x\",\"age\":-12,\"tags\":[\"a\",\"b\"]}"), 1);
    CHECK_EQ_INT(schema_matches(s, "{\"name\":\"x\",\"age\":--12,\"tags\":[]}"), 0);
    CHECK_EQ_INT(schema_matches(s, "{\"name\":\"x\",\"age\":1,\"tags\":[\"a\",\"a\",\"a\",\"a\"]}"), 0);
    CHECK_EQ_INT(schema_matches(s, "{\"name\":\"x\",\"age\":1,\"tags\":[\"a\"\"a\"]}"), 0);
    CHECK_EQ_INT(schema_matches(s, "{\"name\":\"123456789\",\"age\":1,\"tags\":[]}"), 0);
    CHECK_EQ_INT(schema_matches(s, "{\"age\":1,\"tags\":[]}"), 0);
    const char *opt = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"null\"},"
                      "\"c\":{\"const\":3}},\"required\":[\"b\"]}";
    CHECK_EQ_INT(schema_matches(opt, "{\"b\":null}"), 1);
    CHECK_EQ_INT(schema_matches(opt, "{\"a\":true,\"b\":null,\"c\":3}"), 1);
    CHECK_EQ_INT(schema_matches(opt, "{\"b\":null,\"c\":3}"), 1);
    CHECK_EQ_INT(schema_matches(opt, "{\"a\":true}"), 0);
    CHECK_EQ_INT(schema_matches(opt, "{,\"b\":null}"), 0);
    const char *refs = "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\","
                       "\"minimum\":0},\"next\":{\"anyOf\":[{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},"
                       "\"required\":[\"v\",\"next\"]}},\"$ref\":\"#/$defs/node\"}";
    CHECK_EQ_INT(schema_matches(refs, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"), 1);
    CHECK_EQ_INT(schema_matches(refs, "{\"v\":-1,\"next\":null}"), 0);
}

/* Repetition is right recursion whose calls replace their caller's frame:
** a string or array far longer than the matcher's stack depth (256) is
** followed to its end (a 300-character tool argument once failed here). */
static void test_long_repetitions(void)
{
    mast_buf text = {0};
    mast_buf_puts(&text, "{\"city\":\"");
    for (int i = 0; i < 5000; i++)
        mast_buf_puts(&text, i % 3 ? "ab" : "\xe7\xbe\xa1 ");
    mast_buf_puts(&text, "\",\"n\":[");
    for (int i = 0; i < 2000; i++)
        mast_buf_puts(&text, i ? ",1" : "1");
    mast_buf_puts(&text, "]}");
    const char *schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                         "\"n\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},"
                         "\"required\":[\"city\",\"n\"]}";
    CHECK_EQ_INT(schema_matches(schema, text.data), 1);
    CHECK_EQ_INT(matches("root ::= (\"a\" | \"b\")+ \"!\"", "abababababababababababababababababababababababababab"
                         "abababababababababababababababababababababababababababababababababababababababab"
                         "abababababababababababababababababababababababababababababababababababababababab"
                         "abababababababababababababababababababababababababababababababababababababababab!"), 1);
    mast_buf_free(&text);
}

static void test_schema_refusals(void)
{
    const char *bad[] = {"{\"type\":\"string\",\"pattern\":\"^a\"}", "{\"type\":\"integer\",\"maximum\":5}",
                         "{\"not\":{}}", "{\"$ref\":\"http://x/y\"}"};
    const char *want[] = {"'pattern'", "'maximum'", "'not'", "a $ref other than"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *s = json_loads(bad[i], 0, NULL);
        mast_buf b = {0};
        CHECK(mast_schema_to_gbnf(s, &b) == MAST_ERR_UNSUPPORTED);
        CHECK(strstr(mast_errmsg(), want[i]) != NULL);
        mast_buf_free(&b);
        json_decref(s);
    }
}

/* The vocabulary's allowed list (a walk in byte order sharing prefixes)
** holds exactly the tokens that token-by-token checks allow, at every position
** of a valid output, for an SPM and a byte-level BPE vocabulary. */
static void test_mask_equals_token_checks(void)
{
    const char *vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-deepseek-llm.gguf"};
    const char *schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":6},"
                         "\"n\":{\"type\":\"integer\"},\"t\":{\"type\":\"array\",\"items\":{\"enum\":[\"é\",\"b c\"]}}},"
                         "\"required\":[\"name\",\"n\",\"t\"],\"additionalProperties\":false}";
    const char *text = "{\"name\":\"日本 x\",\"n\":-40,\"t\":[\"é\",\"b c\"]}";
    json_t *js = json_loads(schema, 0, NULL);
    mast_buf gbnf = {0};
    REQUIRE(mast_schema_to_gbnf(js, &gbnf) == MAST_OK);
    mast_grammar *g;
    REQUIRE(mast_grammar_parse(gbnf.data, gbnf.len, &g) == MAST_OK);
    for (size_t v = 0; v < 2; v++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", test_shared_data(), vocabs[v]);
        mast_gguf *f;
        mast_tokenizer *tok;
        REQUIRE(mast_gguf_open(&f, path) == MAST_OK);
        REQUIRE(mast_tokenizer_load(&tok, f) == MAST_OK);
        int n = (int)mast_tokenizer_n_vocab(tok);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        uint8_t *listed = malloc((size_t)n);
        mast_grammar_matcher *m;
        REQUIRE(mast_grammar_matcher_new(g, tok, &m) == MAST_OK);
        mast_pool *pool;
        REQUIRE(mast_pool_create(&pool, 3) == MAST_OK);
        size_t differ = 0, allowed_total = 0;
        for (size_t at = 0; at <= strlen(text); at++) {
            /* alone, and split over three threads, every other position */
            size_t k = mast_grammar_matcher_allowed(m, n, at % 2 ? pool : NULL, ids);
            memset(listed, 0, (size_t)n);
            for (size_t i = 0; i < k; i++) {
                CHECK(i == 0 || ids[i] > ids[i - 1]);   /* ascending */
                listed[ids[i]] = 1;
            }
            for (int id = 0; id < n; id++) {
                size_t len;
                const char *piece = mast_tokenizer_piece(tok, id, &len);
                bool want = mast_tokenizer_is_eog(tok, id) ? mast_grammar_matcher_can_end(m)
                          : len && mast_grammar_matcher_allows(m, piece, len);
                differ += want != listed[id];
                allowed_total += want;
            }
            if (at < strlen(text))
                REQUIRE(mast_grammar_matcher_accept(m, text + at, 1) == MAST_OK);
        }
        CHECK_EQ_INT(differ, 0);
        CHECK(allowed_total > 1000);   /* inside the strings most tokens may come */
        CHECK(mast_grammar_matcher_complete(m));
        mast_grammar_matcher_free(m);
        mast_pool_free(pool);
        free(ids);
        free(listed);
        mast_tokenizer_free(tok);
        mast_gguf_close(f);
    }
    mast_grammar_free(g);
    mast_buf_free(&gbnf);
    json_decref(js);
}

int main(void)
{
    RUN(test_gbnf_basics);
    RUN(test_gbnf_unicode);
    RUN(test_gbnf_errors);
    RUN(test_ambiguity_is_bounded);
    RUN(test_schema);
    RUN(test_long_repetitions);
    RUN(test_schema_refusals);
    RUN(test_mask_equals_token_checks);
    return test_summary();
}
