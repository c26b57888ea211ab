/*
** data/ingest/pdf.c — PDFs, read by the mast-pdf program in a child process
** under CPU, memory and wall-clock limits (src/helpers/mast_pdf.c says what
** it writes). The parent never links a PDF parser: a PDF that loops,
** balloons or crashes the reader costs the child, and is reported as that
** file's error.
*/
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"

bool mast_is_pdf(const char *data, size_t len)
{
    size_t n = len < 1024 ? len : 1024;
    return n >= 5 && memmem(data, n, "%PDF-", 5) != NULL;
}

/* The helper's path: $MAST_PDF_HELPER, else mast-pdf beside this program,
** else mast-pdf on the PATH. */
static bool find_helper(char *out, size_t cap)
{
    const char *env = getenv("MAST_PDF_HELPER");
    if (env && *env) {
        int n = snprintf(out, cap, "%s", env);
        return n > 0 && (size_t)n < cap && access(out, X_OK) == 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            int len = snprintf(out, cap, "%s/mast-pdf", self);
            if (len > 0 && (size_t)len < cap && access(out, X_OK) == 0)
                return true;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int n_out = snprintf(out, cap, "%.*s/mast-pdf", (int)len, path);
        if (len && n_out > 0 && (size_t)n_out < cap && access(out, X_OK) == 0)
            return true;
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

/* Runs the helper on data; *out gets its standard output. Errors name the
** limit that stopped it. */
static mast_status run_helper(const char *data, size_t len, const mast_pdf_limits *lim,
                              mast_buf *out)
{
    char helper[PATH_MAX];
    if (!find_helper(helper, sizeof helper))
        return mast_fail(MAST_ERR_UNSUPPORTED, "reading PDFs needs the mast-pdf program "
                         "(built beside mast when libmupdf-dev is installed; or set "
                         "MAST_PDF_HELPER)");
    int in = memfd_create("mast-pdf-input", MFD_CLOEXEC);
    if (in < 0)
        return mast_fail(MAST_ERR_IO, "cannot make the PDF reader's input: %s",
                         strerror(errno));
    for (size_t done = 0; done < len;) {
        ssize_t w = write(in, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(in);
            return mast_fail(MAST_ERR_IO, "cannot hand the PDF to its reader: %s",
                             strerror(errno));
        }
        done += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        close(in);
        return mast_fail(MAST_ERR_IO, "pipe: %s", strerror(errno));
    }
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    char *const argv[] = {helper, NULL};
    pid_t pid = fork();
    if (pid == 0) {   /* the child: only async-signal-safe calls until exec */
        dup2(in, 0);
        dup2(pipefd[1], 1);
        if (devnull >= 0)
            dup2(devnull, 2);
        struct rlimit cpu = {(rlim_t)lim->cpu_seconds, (rlim_t)lim->cpu_seconds + 1};
        struct rlimit mem = {(rlim_t)lim->memory_bytes, (rlim_t)lim->memory_bytes};
        setrlimit(RLIMIT_CPU, &cpu);
        setrlimit(RLIMIT_AS, &mem);
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        execv(helper, argv);
        _exit(127);
    }
    close(in);
    close(pipefd[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(pipefd[0]);
        return mast_fail(MAST_ERR_IO, "cannot start the PDF reader: %s", strerror(errno));
    }
    /* its output, until it ends, the clock runs out or it writes too much */
    int64_t deadline = mast_mono_us() + (int64_t)lim->wall_seconds * 1000000;
    size_t max_out = len * 8 + ((size_t)64 << 20);
    int killed = 0;   /* 1: too slow, 2: too much output */
    mast_status st = MAST_OK;
    for (;;) {
        int64_t left_us = deadline - mast_mono_us();
        if (left_us <= 0) {
            killed = 1;
            break;
        }
        struct pollfd p = {pipefd[0], POLLIN, 0};
        int r = poll(&p, 1, (int)(left_us / 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue;
        if (mast_buf_reserve(out, 64 << 10) != MAST_OK) {
            st = MAST_ERR_NOMEM;
            break;
        }
        ssize_t n = read(pipefd[0], out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > max_out) {
            killed = 2;
            break;
        }
    }
    if (killed || st != MAST_OK)
        kill(pid, SIGKILL);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (st != MAST_OK)
        return st;
    if (killed == 1)
        return mast_fail(MAST_ERR_LIMIT, "the PDF reader took more than %d s (the wall-clock "
                         "limit; --pdf-timeout) and was stopped", lim->wall_seconds);
    if (killed == 2)
        return mast_fail(MAST_ERR_LIMIT, "the PDF reader wrote more than %zu MB of text and "
                         "was stopped", max_out >> 20);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU || sig == SIGKILL)
            return mast_fail(MAST_ERR_LIMIT, "the PDF reader used more than %d s of CPU "
                             "(the limit; --pdf-timeout) and was stopped", lim->cpu_seconds);
        return mast_fail(MAST_ERR_FORMAT, "the PDF reader crashed on it (signal %d: %s)",
                         sig, strsignal(sig));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && out->len == 0)
        return mast_fail(MAST_ERR_UNSUPPORTED, "cannot run the PDF reader %s", helper);
    return MAST_OK;
}

/* A line of the helper's output as a JSON object, or NULL. */
static json_t *parse_line(const char *s, size_t n)
{
    json_error_t err;
    json_t *j = json_loadb(s, n, 0, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Adds a block of the helper's text (NFC-normalized into the doc's arena). */
static mast_status add_text(mast_doc *doc, mast_block_kind kind, const char *text, int page,
                            const char *heading)
{
    char *nfc;
    size_t n;
    MAST_TRY(mast_utf8_nfc(text, strlen(text), &nfc, &n));
    char *copy = mast_arena_strndup(&doc->arena, nfc, n);
    free(nfc);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    MAST_TRY(mast_doc_add_block(doc, kind, copy, n, heading));
    mast_doc_set_page(doc, page);
    return MAST_OK;
}

static const mast_pdf_limits defaults = {MAST_PDF_SECONDS, MAST_PDF_SECONDS * 2, MAST_PDF_MEMORY};

mast_status mast_load_pdf(mast_doc *doc, const char *what, const char *data, size_t len,
                          const mast_pdf_limits *limits, const char *fallback_title)
{
    const mast_pdf_limits *lim = limits ? limits : &defaults;
    mast_buf out = {0};
    mast_status st = run_helper(data, len, lim, &out);
    if (st == MAST_OK)
        st = mast_pdf_read_output(doc, what, out.data ? out.data : "", out.len, lim,
                                  fallback_title);
    mast_buf_free(&out);
    return st;
}

mast_status mast_pdf_read_output(mast_doc *doc, const char *what, const char *out, size_t len,
                                 const mast_pdf_limits *limits, const char *fallback_title)
{
    const mast_pdf_limits *lim = limits ? limits : &defaults;
    mast_status st = MAST_OK;
    mast_headings h = {0};
    const char *first_h1 = NULL;
    json_t *end = NULL;
    for (size_t pos = 0; st == MAST_OK && pos < len;) {
        const char *nl = memchr(out + pos, '\n', len - pos);
        size_t line_end = nl ? (size_t)(nl - out) : len;
        json_t *j = parse_line(out + pos, line_end - pos);
        pos = line_end + 1;
        if (!j) {
            st = mast_fail(MAST_ERR_FORMAT, "the PDF reader's output is damaged");
            break;
        }
        const char *err = json_string_value(json_object_get(j, "error"));
        const char *kind = json_string_value(json_object_get(j, "k"));
        const char *text = json_string_value(json_object_get(j, "t"));
        json_int_t page = json_integer_value(json_object_get(j, "p"));
        if (err) {
            st = strcmp(err, "out of memory") == 0
                     ? mast_fail(MAST_ERR_LIMIT, "the PDF reader needed more than %zu MB "
                                 "(the memory limit; --pdf-memory)", lim->memory_bytes >> 20)
                     : mast_fail(MAST_ERR_FORMAT, "not a readable PDF: %s", err);
        } else if (json_is_true(json_object_get(j, "end"))) {
            end = json_incref(j);
        } else if (kind && text && page > 0 && page < INT_MAX) {
            if (kind[0] == 'h') {
                int level = (int)json_integer_value(json_object_get(j, "l"));
                st = mast_headings_set(doc, &h, level, text, strlen(text));
                if (st == MAST_OK && level == 1 && !first_h1)
                    first_h1 = h.levels[0];
            } else {
                st = add_text(doc, kind[0] == 'c' ? MAST_BLOCK_CODE : MAST_BLOCK_PARA, text,
                              (int)page, h.path);
            }
        }
        json_decref(j);
    }
    if (st == MAST_OK && !end)
        st = mast_fail(MAST_ERR_FORMAT, "the PDF reader stopped before the end of it");
    if (st == MAST_OK) {
        json_int_t pages = json_integer_value(json_object_get(end, "pages"));
        doc->pages = pages > 0 && pages < INT_MAX ? (int)pages : 0;
        const char *title = json_string_value(json_object_get(end, "title"));
        const char *author = json_string_value(json_object_get(end, "author"));
        doc->title = mast_arena_strdup(&doc->arena, title && *title ? title
                                                  : first_h1 ? first_h1
                                                  : fallback_title ? fallback_title : "");
        if (author && *author)
            doc->author = mast_arena_strdup(&doc->arena, author);
        size_t no_text = json_array_size(json_object_get(end, "no_text"));
        if (no_text && doc->pages)
            mast_warn("%s: %zu of %d pages have no text layer (scanned?) and were not read",
                      what, no_text, doc->pages);
        if (!doc->title)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    json_decref(end);
    return st;
}
