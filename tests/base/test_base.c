/* tests/base/test_base.c — the foundation: errors, memory, UTF-8, JSON,
** hashing, files, thread pool. */
#include <stdatomic.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/duration.h"
#include "base/progress.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/json_scan.h"
#include "base/mmap.h"
#include "base/pool.h"
#include "base/sha256.h"
#include "base/status.h"
#include "base/utf8.h"
#include "test.h"

static void test_fail_sets_thread_message_and_returns_code(void)
{
    mast_status st = mast_fail(MAST_ERR_FORMAT, "x.gguf: tensor '%s' is bad", "a");
    CHECK_EQ_INT(st, MAST_ERR_FORMAT);
    CHECK_EQ_STR(mast_errmsg(), "x.gguf: tensor 'a' is bad");
    mast_fail_prefix(st, "loading %s", "model");
    CHECK_EQ_STR(mast_errmsg(), "loading model: x.gguf: tensor 'a' is bad");
    CHECK_EQ_STR(mast_strerror(MAST_ERR_NOT_FOUND), "not found");
}

static void test_buf_grows_and_stays_terminated(void)
{
    mast_buf b = {0};
    CHECK_EQ_STR(mast_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        REQUIRE(mast_buf_printf(&b, "%d,", i) == MAST_OK);
    CHECK_EQ_INT(b.data[b.len], 0);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK(strstr(b.data, ",999,") != NULL);
    char *s = mast_buf_detach(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK(b.data == NULL);
    free(s);
}

static void test_arena_alignment_and_large_allocations(void)
{
    mast_arena a;
    mast_arena_init(&a, 128);
    char *p = mast_arena_alloc(&a, 3);
    char *q = mast_arena_alloc(&a, 1000);   /* larger than a block */
    char *s = mast_arena_strdup(&a, "hello");
    REQUIRE(p && q && s);
    CHECK_EQ_INT((uintptr_t)q % 16, 0);
    memset(q, 'x', 1000);
    CHECK_EQ_STR(s, "hello");
    mast_arena_free(&a);
    CHECK(a.head == NULL);
}

static void test_utf8_validation_rejects_overlong_and_surrogates(void)
{
    size_t bad;
    CHECK(mast_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, NULL));
    CHECK(!mast_utf8_valid("ab\xc0\xaf", 4, &bad));   /* overlong '/' */
    CHECK_EQ_INT(bad, 2);
    CHECK(!mast_utf8_valid("\xed\xa0\x80", 3, &bad));  /* surrogate U+D800 */
    CHECK(!mast_utf8_valid("\xe2\x82", 2, &bad));      /* truncated */
    CHECK(!mast_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
}

static void test_utf8_repair_replaces_each_bad_byte(void)
{
    char *out;
    size_t len, n;
    REQUIRE(mast_utf8_repair("a\xffz\xc3", 4, &out, &len, &n) == MAST_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out, "a\xef\xbf\xbdz\xef\xbf\xbd");
    CHECK(mast_utf8_valid(out, len, NULL));
    free(out);
}

static void test_nfc_composes_combining_marks(void)
{
    char *out;
    size_t len;
    REQUIRE(mast_utf8_nfc("cafe\xcc\x81", 6, &out, &len) == MAST_OK);   /* e + U+0301 */
    CHECK_EQ_STR(out, "caf\xc3\xa9");
    CHECK_EQ_INT(len, 5);
    free(out);
    /* ASCII is copied around the runs that need utf8proc, whatever their place:
    ** a mark after the first, the last or an inner ASCII letter, two in a row,
    ** Hangul jamo, a non-ASCII character alone, and plain ASCII */
    static const char *const cases[][2] = {
        {"e\xcc\x81 and cafe\xcc\x81, plus A\xcc\x8a\xcc\x81 ok", "\xc3\xa9 and caf\xc3\xa9, plus \xc7\xba ok"},
        {"x \xe1\x84\x80\xe1\x85\xa1 y", "x \xea\xb0\x80 y"},
        {"only \xe2\x82\xac here", "only \xe2\x82\xac here"},
        {"plain ASCII text", "plain ASCII text"},
        {"", ""},
        {"\xcc\x81start", "\xcc\x81start"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        REQUIRE(mast_utf8_nfc(cases[i][0], strlen(cases[i][0]), &out, &len) == MAST_OK);
        CHECK_EQ_STR(out, cases[i][1]);
        CHECK_EQ_INT(len, strlen(cases[i][1]));
        free(out);
    }
    /* invalid UTF-8 in a run is still an error */
    CHECK_EQ_INT(mast_utf8_nfc("ok \xff bad", 8, &out, &len), MAST_ERR_FORMAT);
}

static void test_utf8_truncate_never_cuts_a_sequence(void)
{
    const char *s = "a\xe2\x82\xac" "b";   /* a € b */
    CHECK_EQ_INT(mast_utf8_truncate(s, 5, 3), 1);
    CHECK_EQ_INT(mast_utf8_truncate(s, 5, 4), 4);
    CHECK_EQ_INT(mast_utf8_truncate(s, 5, 9), 5);
}

static void test_json_parse_error_names_line_and_column(void)
{
    json_t *v;
    mast_status st = mast_json_parse("{\n  \"a\": 1,\n  oops\n}", 20, "body", &v);
    CHECK_EQ_INT(st, MAST_ERR_FORMAT);
    /* jansson reports the column where the bad token ends */
    CHECK_EQ_STR(mast_errmsg(),
                 "body: invalid JSON at line 3, column 6: string or '}' expected near 'oops'");
    REQUIRE(mast_json_parse("{\"k\": 5, \"s\": \"x\"}", 18, "body", &v) == MAST_OK);
    CHECK_EQ_INT(mast_json_get_int(v, "k", 0), 5);
    CHECK_EQ_STR(mast_json_get_str(v, "s", NULL), "x");
    CHECK_EQ_STR(mast_json_get_str(v, "k", "dflt"), "dflt");
    json_decref(v);
}

static void test_hash_is_stable_and_length_prefixed(void)
{
    char a[33], b[33], c[33];
    mast_hash_hex("hello", 5, a);
    mast_hash_hex("hello", 5, b);
    CHECK_EQ_STR(a, b);
    CHECK_EQ_INT(strlen(a), 32);
    mast_hasher *h1 = mast_hasher_new(), *h2 = mast_hasher_new();
    mast_hasher_add(h1, "ab", 2);
    mast_hasher_add(h1, "c", 1);
    mast_hasher_add(h2, "a", 1);
    mast_hasher_add(h2, "bc", 2);
    mast_hasher_hex(h1, b);
    mast_hasher_hex(h2, c);
    CHECK(strcmp(b, c) != 0);
}

static void test_read_file_enforces_limit_and_names_path(void)
{
    char *dir = test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    REQUIRE(test_write_file(path, "0123456789") == 0);
    char *data;
    size_t len;
    REQUIRE(mast_read_file(path, 10, &data, &len) == MAST_OK);
    CHECK_EQ_INT(len, 10);
    CHECK_EQ_STR(data, "0123456789");
    free(data);
    CHECK_EQ_INT(mast_read_file(path, 9, &data, &len), MAST_ERR_LIMIT);
    CHECK(strstr(mast_errmsg(), "larger than the limit of 9 bytes") != NULL);
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ_INT(mast_read_file(path, 9, &data, &len), MAST_ERR_NOT_FOUND);
    CHECK(strstr(mast_errmsg(), "missing: No such file") != NULL);
    mast_mapped m;
    CHECK_EQ_INT(mast_mmap_file(path, &m), MAST_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "%s/f.txt", dir);
    REQUIRE(mast_mmap_file(path, &m) == MAST_OK);
    CHECK_EQ_INT(m.size, 10);
    CHECK(memcmp(m.data, "0123456789", 10) == 0);
    mast_munmap(&m);
    unlink(path);
    rmdir(dir);
    free(dir);
}

typedef struct sum_ctx {
    const int *values;
    long long partial[8];
    _Atomic int calls;
} sum_ctx;

static void sum_range(void *ctx, size_t begin, size_t end, int worker)
{
    sum_ctx *c = ctx;
    for (size_t i = begin; i < end; i++)
        c->partial[worker] += c->values[i];
    atomic_fetch_add(&c->calls, 1);
}

static void test_pool_for_covers_every_item_once(void)
{
    enum { N = 100003 };
    int *values = malloc(N * sizeof *values);
    for (int i = 0; i < N; i++)
        values[i] = i % 7;
    long long expected = 0;
    for (int i = 0; i < N; i++)
        expected += values[i];
    mast_pool *pool;
    REQUIRE(mast_pool_create(&pool, 4) == MAST_OK);
    for (int round = 0; round < 50; round++) {
        sum_ctx c = {.values = values};
        mast_pool_for(pool, N, sum_range, &c);
        long long total = 0;
        for (int w = 0; w < 8; w++)
            total += c.partial[w];
        CHECK_EQ_INT(total, expected);
        CHECK_EQ_INT(c.calls, 4);
    }
    mast_pool_free(pool);
    free(values);
}

/* Defect: text output cut UTF-8 characters in half. */
static void test_preview_cuts_on_character_and_word_boundaries(void)
{
    mast_buf b = {0};
    /* 日本語のテキスト: 8 characters of 3 bytes; 5 = 2 whole characters and "..." */
    const char *ja = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88";
    REQUIRE(mast_utf8_preview(ja, strlen(ja), 5, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), "\xe6\x97\xa5\xe6\x9c\xac...");
    CHECK(mast_utf8_valid(b.data, b.len, NULL));
    REQUIRE(mast_utf8_preview(ja, strlen(ja), 8, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), ja);   /* fits: unchanged */
    /* white space collapsed; cut at the last word that keeps most of the text */
    const char *en = "The  quick\n\nbrown fox jumps over";
    REQUIRE(mast_utf8_preview(en, strlen(en), 18, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), "The quick brown...");
    REQUIRE(mast_utf8_preview(en, strlen(en), 100, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), "The quick brown fox jumps over");
    /* one long word: cut inside it, on a character boundary */
    const char *word = "caf\xc3\xa9" "caf\xc3\xa9" "caf\xc3\xa9";
    REQUIRE(mast_utf8_preview(word, strlen(word), 7, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), "caf\xc3\xa9...");
    /* invalid bytes show as U+FFFD, and cutting a run of them stays in bounds (fuzzed) */
    const char bad[] = "\x97\x97\x97\x97\x97\x97";
    REQUIRE(mast_utf8_preview(bad, 6, 5, &b) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&b), "\xef\xbf\xbd\xef\xbf\xbd...");
    CHECK(mast_utf8_valid(b.data, b.len, NULL));
    /* an empty text previews as "" (a fresh buffer held stray bytes) */
    mast_buf fresh = {0};
    REQUIRE(mast_utf8_preview("", 0, 40, &fresh) == MAST_OK);
    CHECK_EQ_STR(mast_buf_cstr(&fresh), "");
    mast_buf_free(&fresh);
    mast_buf_free(&b);
}

/* Defect: the progress bar showed raw byte counts; it shows units, rate and ETA. */
static void test_progress_line_has_units_rate_and_eta(void)
{
    mast_progress p;
    mast_progress_begin_bytes(&p, "ingesting", 10200000);
    p.done = 4100000;
    char line[256];
    mast_progress_format(&p, 2.0, line, sizeof line);
    CHECK_EQ_STR(line, "ingesting [#########---------------]  40% 4.1 MB of 10.2 MB, 2.0 MB/s, ETA 3s");
    mast_progress_begin(&p, "evaluating", 0);
    p.done = 1500;
    mast_progress_format(&p, 3.0, line, sizeof line);
    CHECK_EQ_STR(line, "evaluating 1.5 k, 500/s");
    mast_progress_begin_bytes(&p, "x", 1000000000);
    p.done = 1000000;
    mast_progress_format(&p, 1.0, line, sizeof line);
    CHECK(strstr(line, "ETA 16m39s") != NULL);
    /* ingest counts files and PDF pages too */
    mast_progress_begin_bytes(&p, "ingesting", 10200000);
    p.done = 4100000;
    p.files = 12;
    p.pages = 544;
    mast_progress_format(&p, 2.0, line, sizeof line);
    CHECK_EQ_STR(line, "ingesting [#########---------------]  40% 4.1 MB of 10.2 MB, 2.0 MB/s, "
                       "12 files (6.0/s), 544 pages (272.0/s), ETA 3s");
}

/* Windows-1252 (and so Latin-1) decodes to the characters WHATWG's table gives. */
static void test_cp1252_decodes_to_utf8(void)
{
    char *out;
    size_t n;
    const char in[] = "Caf\xe9 \x93quoted\x94 \x80 \x85 \x81 \xff";
    REQUIRE(mast_cp1252_to_utf8(in, sizeof in - 1, &out, &n) == MAST_OK);
    CHECK_EQ_STR(out, "Caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac \xe2\x80\xa6 \xc2\x81 \xc3\xbf");
    CHECK_EQ_INT(n, strlen(out));
    CHECK(mast_utf8_valid(out, n, NULL));
    free(out);
    CHECK(mast_cp1252_label("ISO-8859-1", 10));
    CHECK(mast_cp1252_label("windows-1252", 12));
    CHECK(!mast_cp1252_label("utf-8", 5));
    CHECK(!mast_cp1252_label("koi8-r", 6));
}

/* UTF-16 in both byte orders, with a surrogate pair, decodes to the same
** UTF-8 (Python's codecs give the bytes); broken units become U+FFFD. */
static void test_utf16_decodes_both_byte_orders(void)
{
    /* "Caf\u00e9 \U0001F642" */
    const char le[] = "C\0a\0f\0\xe9\0 \0\x3d\xd8\x42\xde";
    const char be[] = "\0C\0a\0f\0\xe9\0 \xd8\x3d\xde\x42";
    const char *want = "Caf\xc3\xa9 \xf0\x9f\x99\x82";
    for (int big = 0; big < 2; big++) {
        char *out;
        size_t n, bad = 9;
        REQUIRE(mast_utf16_to_utf8(big ? be : le, 14, big, &out, &n, &bad) == MAST_OK);
        CHECK_EQ_STR(out, want);
        CHECK_EQ_INT(n, strlen(want));
        CHECK_EQ_INT(bad, 0);
        free(out);
    }
    /* a lone high surrogate, then an odd trailing byte */
    char *out;
    size_t n, bad;
    REQUIRE(mast_utf16_to_utf8("\x3d\xd8x\0y", 5, false, &out, &n, &bad) == MAST_OK);
    CHECK_EQ_STR(out, "\xef\xbf\xbdx\xef\xbf\xbd");
    CHECK_EQ_INT(bad, 2);
    free(out);
}

/* The scanner accepts what jansson accepts (jansson is the oracle), and
** finds the values where jansson does. */
static void test_json_scan_agrees_with_jansson(void)
{
    static const char *const texts[] = {
        "{}", " {\"a\": 1}\n", "{\"model\": \"gpt\", \"usage\": {\"prompt_tokens\": 3}}",
        "{\"a\": [1, -0.5e3, 0, -0, 1E+2, true, false, null, {\"b\": []}]}",
        "{\"s\": \"\\u00e9\\ud83d\\ude42\\n\\\"\\/\"}", "{\"s\": \"caf\xc3\xa9\"}",
        "{\"i\": 9223372036854775807}", "{\"i\": -9223372036854775808}",
        /* refused by both */
        "[]", "\"x\"", "{", "{\"a\"}", "{\"a\": 1,}", "{\"a\": 01}", "{\"a\": 1.}", "{\"a\": .5}",
        "{\"a\": +1}", "{\"a\": tru}", "{\"a\": \"\\x\"}", "{\"a\": \"\\u0000\"}",
        "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00\\ud800\"}", "{\"a\": \"\xed\xa0\x80\"}",
        "{\"a\": \"\xc3\"}", "{\"a\": \"tab\there\"}", "{\"i\": 9223372036854775808}",
        "{\"r\": 1e400}", "{\"a\": 1} x", "{\"a\": 1}{}", "{'a': 1}",
    };
    static const char *const keys[] = {"model", "usage", "a"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        mast_json_span sp[3];
        bool esc;
        bool scanned = mast_json_scan_object(texts[i], strlen(texts[i]), keys, 3, sp, &esc);
        json_t *j = json_loads(texts[i], 0, NULL);
        if (scanned != json_is_object(j))
            fprintf(stderr, "  disagreement on %s\n", texts[i]);
        CHECK_EQ_INT(scanned, json_is_object(j));
        for (int k = 0; scanned && k < 3; k++) {
            json_t *want = json_object_get(j, keys[k]);
            CHECK_EQ_INT(sp[k].count, want != NULL);
            if (sp[k].count) {
                json_t *got = json_loadb(texts[i] + sp[k].at, sp[k].len, JSON_DECODE_ANY, NULL);
                CHECK(json_equal(got, want));
                json_decref(got);
            }
        }
        json_decref(j);
    }
    /* a key written with escapes is reported, not matched; duplicates are counted */
    mast_json_span sp[1];
    bool esc;
    const char *dup = "{\"model\": \"a\", \"mod\\u0065l\": \"b\", \"model\": \"c\"}";
    CHECK(mast_json_scan_object(dup, strlen(dup), keys, 1, sp, &esc));
    CHECK(esc);
    CHECK_EQ_INT(sp[0].count, 2);
    /* nesting: jansson's limit of 2048 levels, the same here */
    mast_buf deep = {0};
    for (int d = 0; d < 2; d++) {
        mast_buf_clear(&deep);
        int levels = d ? 2049 : 2048;
        mast_buf_puts(&deep, "{\"a\": ");
        for (int k = 1; k < levels; k++)
            mast_buf_putc(&deep, '[');
        for (int k = 1; k < levels; k++)
            mast_buf_putc(&deep, ']');
        mast_buf_putc(&deep, '}');
        json_t *j = json_loadb(deep.data, deep.len, 0, NULL);
        CHECK_EQ_INT(mast_json_scan_object(deep.data, deep.len, keys, 0, sp, NULL), j != NULL);
        CHECK_EQ_INT(j != NULL, !d);
        json_decref(j);
    }
    mast_buf_free(&deep);
}

/* FIPS 180-2's examples, every length through a few blocks in pieces against the one-shot
** hash, and the SHA extensions against the portable code. */
static void test_sha256_vectors_pieces_and_extensions(void)
{
    char hex[65];
    mast_sha256_hex("abc", 3, hex);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mast_sha256_hex("", 0, hex);
    CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mast_sha256_hex(two, strlen(two), hex);
    CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    static unsigned char data[1000000];
    memset(data, 'a', sizeof data);   /* a million 'a' */
    mast_sha256_hex(data, sizeof data, hex);
    CHECK_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    bool fast = mast_sha256_accelerated();
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    for (size_t len = 0; len <= 300; len++) {
        char one[65], portable[65], pieces[65];
        mast_sha256_set_accelerated(true);
        mast_sha256_hex(data, len, one);
        mast_sha256_set_accelerated(false);
        mast_sha256_hex(data, len, portable);
        mast_sha256_set_accelerated(true);
        mast_sha256_ctx c;
        mast_sha256_init(&c);
        for (size_t at = 0, step = 1; at < len; at += step, step = step * 3 % 71 + 1)
            mast_sha256_update(&c, data + at, at + step <= len ? step : len - at);
        mast_sha256_final_hex(&c, pieces);
        CHECK_EQ_STR(one, portable);
        CHECK_EQ_STR(pieces, portable);
    }
    char a[65], b[65];
    mast_sha256_set_accelerated(false);
    mast_sha256_hex(data, sizeof data, a);
    mast_sha256_set_accelerated(true);
    mast_sha256_hex(data, sizeof data, b);
    CHECK_EQ_STR(a, b);
    CHECK(mast_sha256_accelerated() == fast);
    printf("  sha256: %s\n", fast ? "SHA extensions" : "portable only (no SHA extensions)");
}

static void test_durations_parse_with_units(void)
{
    double d = 0;
    CHECK(mast_parse_duration("30d", &d) == MAST_OK && d == 2592000);
    CHECK(mast_parse_duration("1h30m", &d) == MAST_OK && d == 5400);
    CHECK(mast_parse_duration("250ms", &d) == MAST_OK && fabs(d - 0.25) < 1e-12);
    CHECK(mast_parse_duration("1.5", &d) == MAST_OK && d == 1.5);   /* a bare number: seconds */
    CHECK(mast_parse_duration("-1m", &d) == MAST_OK && d == -60);
    CHECK_EQ_INT(mast_parse_duration("5 m", &d), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_duration("1m5", &d), MAST_ERR_INVALID);   /* a unit, then a bare number */
    CHECK_EQ_INT(mast_parse_duration("+5s", &d), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_duration("5w", &d), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "its units are ms, s, m, h and d") != NULL);
}

int main(void)
{
    RUN(test_fail_sets_thread_message_and_returns_code);
    RUN(test_buf_grows_and_stays_terminated);
    RUN(test_arena_alignment_and_large_allocations);
    RUN(test_utf8_validation_rejects_overlong_and_surrogates);
    RUN(test_preview_cuts_on_character_and_word_boundaries);
    RUN(test_progress_line_has_units_rate_and_eta);
    RUN(test_utf8_repair_replaces_each_bad_byte);
    RUN(test_nfc_composes_combining_marks);
    RUN(test_utf8_truncate_never_cuts_a_sequence);
    RUN(test_json_parse_error_names_line_and_column);
    RUN(test_json_scan_agrees_with_jansson);
    RUN(test_cp1252_decodes_to_utf8);
    RUN(test_utf16_decodes_both_byte_orders);
    RUN(test_hash_is_stable_and_length_prefixed);
    RUN(test_read_file_enforces_limit_and_names_path);
    RUN(test_pool_for_covers_every_item_once);
    RUN(test_sha256_vectors_pieces_and_extensions);
    RUN(test_durations_parse_with_units);
    return test_summary();
}
