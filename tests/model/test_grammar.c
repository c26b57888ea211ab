/*
** tests/model/test_grammar.c — GBNF grammars, JSON Schema compilation and
** the matcher (model/grammar.h).
*/
#include <jansson.h>

#include "base/status.h"
#include "model/grammar.h"
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

int main(void)
{
    RUN(test_gbnf_basics);
    RUN(test_gbnf_unicode);
    RUN(test_gbnf_errors);
    RUN(test_schema);
    RUN(test_schema_refusals);
    return test_summary();
}
