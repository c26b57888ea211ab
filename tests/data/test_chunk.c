/* tests/data/test_chunk.c — structure-aware chunking. */
#include "base/utf8.h"
#include "data/chunk.h"
#include "data/ingest/doc.h"
#include "test.h"

#include <time.h>

static size_t count_words(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n'))
            w++;
    return w;
}

static mast_chunk_opts words(int budget, int overlap)
{
    return (mast_chunk_opts){budget, overlap, count_words, NULL};
}

static void test_estimate_counts_four_thirds_per_word_and_cjk_chars(void)
{
    CHECK_EQ_INT(mast_estimate_tokens(NULL, "one two three", 13), 4);
    CHECK_EQ_INT(mast_estimate_tokens(NULL, "", 0), 0);
    /* 日本語 = three CJK characters = three words -> 4 tokens */
    CHECK_EQ_INT(mast_estimate_tokens(NULL, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9), 4);
}

static void test_sentence_end_skips_abbreviations_and_initials(void)
{
    const char *t = "Dr. Smith met J. Doe at 3.5 p.m. today. Then they left! Ok?";
    size_t len = strlen(t);
    size_t e1 = mast_sentence_end(t, len, 0);
    CHECK_EQ_INT(e1, strlen("Dr. Smith met J. Doe at 3.5 p.m. today."));
    size_t e2 = mast_sentence_end(t, len, e1 + 1);
    CHECK_EQ_INT(e2, strlen("Dr. Smith met J. Doe at 3.5 p.m. today. Then they left!"));
    CHECK_EQ_INT(mast_sentence_end(t, len, e2 + 1), len);
}

static void test_small_paragraphs_pack_into_one_chunk(void)
{
    mast_block b[] = {{MAST_BLOCK_PARA, "one two", 7, NULL, 0}, {MAST_BLOCK_PARA, "three", 5, NULL, 0}};
    mast_chunk_opts o = words(10, 0);
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(b, 2, &o, &c, &n) == MAST_OK);
    REQUIRE(n == 1);
    CHECK_EQ_STR(c[0].text, "one two\n\nthree");
    CHECK_EQ_INT(c[0].n_tokens, 3);
    CHECK_EQ_STR(c[0].heading, "");
    mast_chunks_free(c, n);
}

static void test_budget_is_respected_by_splitting_sentences_then_words(void)
{
    /* one paragraph of 3 sentences of 4 words, then a 30-word run-on */
    char text[1024] = "a b c d. e f g h. i j k l. ";
    for (int i = 0; i < 30; i++)
        strcat(text, "w ");
    mast_block b = {MAST_BLOCK_PARA, text, strlen(text), NULL, 0};
    mast_chunk_opts o = words(6, 0);
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &c, &n) == MAST_OK);
    size_t total_words = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(c[i].n_tokens <= 6);
        CHECK((int)count_words(NULL, c[i].text, strlen(c[i].text)) == c[i].n_tokens);
        total_words += (size_t)c[i].n_tokens;
    }
    CHECK_EQ_INT(total_words, 42);   /* nothing lost, nothing repeated */
    CHECK_EQ_STR(c[0].text, "a b c d.");
    CHECK_EQ_STR(c[1].text, "e f g h.");
    mast_chunks_free(c, n);
}

static void test_chunks_never_cross_headings_and_carry_the_path(void)
{
    const char *md = "# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n### Debian\n\napt.\n\n## Use\n\nGo.\n";
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_markdown(&doc, md, strlen(md), "fallback") == MAST_OK);
    CHECK_EQ_STR(doc.title, "Guide");
    mast_chunk_opts o = words(100, 0);
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(doc.blocks, doc.n_blocks, &o, &c, &n) == MAST_OK);
    REQUIRE(n == 4);
    CHECK_EQ_STR(c[0].heading, "Guide");
    CHECK_EQ_STR(c[0].text, "Intro text.");
    CHECK_EQ_STR(c[1].heading, "Guide > Install");
    CHECK_EQ_STR(c[2].heading, "Guide > Install > Debian");
    CHECK_EQ_STR(c[3].heading, "Guide > Use");
    CHECK_EQ_STR(c[3].text, "Go.");
    mast_chunks_free(c, n);
    mast_doc_free(&doc);
}

static void test_code_fences_are_never_split(void)
{
    char md[4096] = "Text before.\n\n```c\n";
    for (int i = 0; i < 40; i++)
        strcat(md, "x = x + 1;\n\n");   /* blank lines inside the fence too */
    strcat(md, "```\n\n# Not a heading inside\n\nAfter.\n");
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_markdown(&doc, md, strlen(md), "t") == MAST_OK);
    mast_chunk_opts o = words(20, 0);   /* the fence alone is 160 words */
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(doc.blocks, doc.n_blocks, &o, &c, &n) == MAST_OK);
    int fences = 0;
    for (size_t i = 0; i < n; i++) {
        const char *open = strstr(c[i].text, "```c");
        if (open) {
            fences++;
            CHECK(strstr(open + 4, "```") != NULL);   /* closed in the same chunk */
            CHECK_EQ_INT(count_words(NULL, open, strlen(open)), 202);   /* 40 x 5 + 2 fences */
        }
    }
    CHECK_EQ_INT(fences, 1);
    mast_chunks_free(c, n);
    mast_doc_free(&doc);
}

static void test_unclosed_fence_runs_to_end_and_tildes_work(void)
{
    const char *md = "~~~\ncode # not heading\n~~~\n\npara\n\n```\nopen forever\n";
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_markdown(&doc, md, strlen(md), "t") == MAST_OK);
    REQUIRE(doc.n_blocks == 3);
    CHECK_EQ_INT(doc.blocks[0].kind, MAST_BLOCK_CODE);
    CHECK_EQ_INT(doc.blocks[1].kind, MAST_BLOCK_PARA);
    CHECK_EQ_INT(doc.blocks[2].kind, MAST_BLOCK_CODE);
    CHECK(strncmp(doc.blocks[2].text, "```\nopen forever", 16) == 0);
    mast_doc_free(&doc);
}

static void test_setext_headings_and_front_matter(void)
{
    const char *md = "---\ntitle: x\n---\nTitle\n=====\n\nBody.\n\nSub\n---\n\nMore.\n";
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_markdown(&doc, md, strlen(md), "t") == MAST_OK);
    CHECK_EQ_STR(doc.title, "Title");
    REQUIRE(doc.n_blocks == 2);
    CHECK_EQ_STR(doc.blocks[0].heading, "Title");
    CHECK_EQ_STR(doc.blocks[1].heading, "Title > Sub");
    mast_doc_free(&doc);
}

static void test_multibyte_characters_are_never_cut(void)
{
    /* one giant "word" of 2000 euro signs: must be split by bytes */
    size_t n_chars = 2000;
    char *text = malloc(n_chars * 3 + 1);
    for (size_t i = 0; i < n_chars; i++)
        memcpy(text + 3 * i, "\xe2\x82\xac", 3);
    text[n_chars * 3] = '\0';
    mast_block b = {MAST_BLOCK_PARA, text, n_chars * 3, NULL, 0};
    mast_chunk_opts o = {.chunk_tokens = 16};   /* estimate counts it as one word */
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &c, &n) == MAST_OK);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(mast_utf8_valid(c[i].text, strlen(c[i].text), NULL));
        bytes += strlen(c[i].text);
    }
    CHECK_EQ_INT(bytes, n_chars * 3);
    mast_chunks_free(c, n);

    /* CJK text: each character is a word, so word splitting applies */
    for (size_t i = 0; i < n_chars; i++)
        memcpy(text + 3 * i, "\xe6\x97\xa5", 3);
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &c, &n) == MAST_OK);
    CHECK(n > 1);
    for (size_t i = 0; i < n; i++)
        CHECK(mast_utf8_valid(c[i].text, strlen(c[i].text), NULL));
    mast_chunks_free(c, n);
    free(text);
}

static void test_empty_and_whitespace_input_give_no_chunks(void)
{
    mast_block b[] = {{MAST_BLOCK_PARA, "", 0, NULL, 0}, {MAST_BLOCK_PARA, " \n\t \n", 5, NULL, 0}};
    mast_chunk *c;
    size_t n = 99;
    REQUIRE(mast_chunk_blocks(b, 2, NULL, &c, &n) == MAST_OK);
    CHECK_EQ_INT(n, 0);
    mast_chunks_free(c, n);
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_text(&doc, "\n\n   \n", 6, "t") == MAST_OK);
    CHECK_EQ_INT(doc.n_blocks, 0);
    mast_doc_free(&doc);
}

static void test_overlap_repeats_trailing_sentences(void)
{
    const char *t = "s1 a. s2 b. s3 c. s4 d. s5 e.";
    mast_block b = {MAST_BLOCK_PARA, t, strlen(t), NULL, 0};
    mast_chunk_opts o = words(4, 2);
    mast_chunk *c;
    size_t n;
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &c, &n) == MAST_OK);
    REQUIRE(n == 4);
    CHECK_EQ_STR(c[0].text, "s1 a. s2 b.");
    CHECK_EQ_STR(c[1].text, "s2 b. s3 c.");
    CHECK_EQ_STR(c[2].text, "s3 c. s4 d.");
    CHECK_EQ_STR(c[3].text, "s4 d. s5 e.");
    mast_chunks_free(c, n);
}

static void test_text_loader_splits_paragraphs_on_blank_lines(void)
{
    const char *t = "first line\nsame para\n\n  \nsecond\r\n\r\nthird";
    mast_doc doc;
    mast_doc_init(&doc);
    REQUIRE(mast_load_text(&doc, t, strlen(t), "name") == MAST_OK);
    CHECK_EQ_STR(doc.title, "name");
    REQUIRE(doc.n_blocks == 3);
    CHECK_EQ_INT(doc.blocks[0].len, 20);
    CHECK(strncmp(doc.blocks[0].text, "first line\nsame para", 20) == 0);
    CHECK(strncmp(doc.blocks[2].text, "third", 5) == 0);
    mast_doc_free(&doc);
}

/* Defect: sentences were re-joined with an invented space ("です。 日本語。"). */
static void test_chunk_text_is_a_slice_of_its_source(void)
{
    /* three CJK sentences of 4 estimated tokens each; a budget of 10 packs two */
    const char *cjk = "\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
                      "\xe3\x80\x82\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82";
    mast_block b = {MAST_BLOCK_PARA, cjk, strlen(cjk), NULL, 0};
    mast_chunk_opts o = {10, 0, NULL, NULL};
    mast_chunk *ch;
    size_t n;
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &ch, &n) == MAST_OK);
    REQUIRE(n == 2);
    CHECK_EQ_STR(ch[0].text, "\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x82");
    mast_chunks_free(ch, n);
    /* the source's own spacing and line breaks between sentences are kept */
    const char *latin = "One two.  Three four.\nFive six seven.";
    b = (mast_block){MAST_BLOCK_PARA, latin, strlen(latin), NULL, 0};
    o = words(5, 0);
    REQUIRE(mast_chunk_blocks(&b, 1, &o, &ch, &n) == MAST_OK);
    REQUIRE(n == 2);
    CHECK_EQ_STR(ch[0].text, "One two.  Three four.");
    CHECK_EQ_STR(ch[1].text, "Five six seven.");
    mast_chunks_free(ch, n);
}

static double chunk_seconds(const char *text, size_t len, size_t *n_out, size_t *max_len)
{
    mast_block b = {MAST_BLOCK_PARA, text, len, NULL, 0};
    mast_chunk *ch;
    size_t n = 0;
    clock_t t0 = clock();
    mast_status st = mast_chunk_blocks(&b, 1, NULL, &ch, &n);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    *max_len = 0;
    for (size_t i = 0; st == MAST_OK && i < n; i++)
        if (strlen(ch[i].text) > *max_len)
            *max_len = strlen(ch[i].text);
    if (st == MAST_OK)
        mast_chunks_free(ch, n);
    *n_out = st == MAST_OK ? n : 0;
    return s;
}

/* Defect: a line without sentence breaks re-counted its remainder for every
** piece (1, 2, 4 MB took 1, 3.5, 14 s). Chunking is linear: an unbroken line
** costs about what a text of sentences of the same size costs. */
static void test_chunking_is_linear_on_unbroken_lines(void)
{
    size_t len = 4u << 20;
    char *broken = malloc(len + 1), *words_only = malloc(len + 1), *one_word = malloc(len + 1);
    REQUIRE(broken && words_only && one_word);
    for (size_t i = 0; i < len; i++) {
        static const char pattern[] = "alpha beta gamma delta. ";
        broken[i] = pattern[i % (sizeof pattern - 1)];
        words_only[i] = broken[i] == '.' ? 'x' : broken[i];
        one_word[i] = (char)('a' + i % 26);
    }
    broken[len] = words_only[len] = one_word[len] = '\0';
    size_t n_broken, n_words, n_one, max_broken, max_words, max_one;
    double t_broken = chunk_seconds(broken, len, &n_broken, &max_broken);
    double t_words = chunk_seconds(words_only, len, &n_words, &max_words);
    double t_one = chunk_seconds(one_word, len, &n_one, &max_one);
    fprintf(stderr, "  4 MB: sentences %.3f s, one line of words %.3f s, one word %.3f s "
            "(%zu, %zu, %zu chunks, longest %zu, %zu, %zu bytes)\n", t_broken, t_words, t_one,
            n_broken, n_words, n_one, max_broken, max_words, max_one);
    CHECK(n_broken > 1000 && n_words > 1000 && n_one > 1000);
    /* a generous bound on the ratio: quadratic work is hundreds of times slower */
    CHECK(t_words < 10 * t_broken + 0.05);
    CHECK(t_one < 10 * t_broken + 0.05);
    /* every piece within the budget's byte bound (256 tokens x 16 bytes) */
    CHECK(max_words <= 256 * 16 && max_one <= 256 * 16);
    free(broken);
    free(words_only);
    free(one_word);
}

/* A chunk's pages are the first and last of its blocks' (0 when unpaged). */
static void test_chunks_carry_their_pages(void)
{
    mast_block b[] = {{MAST_BLOCK_PARA, "alpha beta", 10, "H", 3},
                      {MAST_BLOCK_PARA, "gamma delta", 11, "H", 4},
                      {MAST_BLOCK_PARA, "epsilon", 7, "Other", 4},
                      {MAST_BLOCK_PARA, "unpaged", 7, "Last", 0}};
    mast_chunk *chunks;
    size_t n;
    REQUIRE(mast_chunk_blocks(b, 4, NULL, &chunks, &n) == MAST_OK);
    REQUIRE(n == 3);
    CHECK_EQ_INT(chunks[0].page_start, 3);
    CHECK_EQ_INT(chunks[0].page_end, 4);
    CHECK_EQ_INT(chunks[1].page_start, 4);
    CHECK_EQ_INT(chunks[1].page_end, 4);
    CHECK_EQ_INT(chunks[2].page_start, 0);
    CHECK_EQ_INT(chunks[2].page_end, 0);
    mast_chunks_free(chunks, n);
}

int main(void)
{
    RUN(test_chunks_carry_their_pages);
    RUN(test_estimate_counts_four_thirds_per_word_and_cjk_chars);
    RUN(test_sentence_end_skips_abbreviations_and_initials);
    RUN(test_small_paragraphs_pack_into_one_chunk);
    RUN(test_budget_is_respected_by_splitting_sentences_then_words);
    RUN(test_chunks_never_cross_headings_and_carry_the_path);
    RUN(test_code_fences_are_never_split);
    RUN(test_unclosed_fence_runs_to_end_and_tildes_work);
    RUN(test_setext_headings_and_front_matter);
    RUN(test_multibyte_characters_are_never_cut);
    RUN(test_empty_and_whitespace_input_give_no_chunks);
    RUN(test_overlap_repeats_trailing_sentences);
    RUN(test_text_loader_splits_paragraphs_on_blank_lines);
    RUN(test_chunk_text_is_a_slice_of_its_source);
    RUN(test_chunking_is_linear_on_unbroken_lines);
    return test_summary();
}
