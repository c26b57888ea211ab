/*
** tests/test.h — the tiny test harness every unit test uses.
**
** A test file defines `static void test_xxx(void)` functions and lists them in
** main() with RUN(test_xxx). CHECK records a failure and carries on; REQUIRE
** stops the current test. main() ends with `return test_summary();`, which
** prints "N passed, N failed" (one test = one behaviour) and returns non-zero
** on any failure.
*/
#ifndef MAST_TEST_H
#define MAST_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_n_passed, test_n_failed, test_current_failed;
static jmp_buf test_abort;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    test_current_failed = 1; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
    test_current_failed = 1; longjmp(test_abort, 1); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long va_ = (long long)(a), vb_ = (long long)(b); \
    if (va_ != vb_) { fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", \
    __FILE__, __LINE__, #a, #b, va_, vb_); test_current_failed = 1; } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *sa_ = (a), *sb_ = (b); \
    if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) { fprintf(stderr, \
    "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); test_current_failed = 1; } } while (0)
#define CHECK_NEAR(a, b, tol) do { double da_ = (a), db_ = (b); \
    if (!(fabs(da_ - db_) <= (tol))) { fprintf(stderr, "  %s:%d: %s ~= %s failed: %.9g != %.9g\n", \
    __FILE__, __LINE__, #a, #b, da_, db_); test_current_failed = 1; } } while (0)

/* setjmp lives in this function, not in main, so main's locals are safe. */
static inline void test_run(void (*fn)(void), const char *name)
{
    test_current_failed = 0;
    if (setjmp(test_abort) == 0)
        fn();
    if (test_current_failed) {
        test_n_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        test_n_passed++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

#define RUN(fn) test_run(fn, #fn)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_n_passed, test_n_failed);
    return test_n_failed ? 1 : 0;
}

/* A fresh temporary directory for one test; the caller frees the string. */
static inline char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/mast-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

static inline const char *test_shared_data(void)
{
    const char *p = getenv("MAST_SHARED_DATA");
    return p ? p : "../shared/data";
}

static inline int test_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(content);
    int ok = fwrite(content, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

#endif
