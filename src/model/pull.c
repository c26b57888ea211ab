/*
** model/pull.c — the models folder and `mast pull` (see pull.h): a download
** with HTTP range resume, a SHA-256 and GGUF check, and an atomic rename.
*/
#include "model/pull.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mmap.h"
#include "base/progress.h"
#include "base/sha256.h"
#include "base/status.h"
#include "model/gguf.h"

#define DEFAULT_RETRIES 5

/* ---- the folder ---- */

mast_status mast_models_dir(mast_buf *out)
{
    out->len = 0;
    const char *env = getenv("MAST_MODELS"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (env && *env)
        return mast_buf_puts(out, env);
    if (xdg && *xdg == '/')
        return mast_buf_printf(out, "%s/mast/models", xdg);
    if (home && *home)
        return mast_buf_printf(out, "%s/.local/share/mast/models", home);
    return mast_fail(MAST_ERR_NOT_FOUND, "no models folder: set MAST_MODELS (or HOME)");
}

bool mast_model_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n > 128 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return false;
    return true;
}

static mast_status folder(const char *dir, mast_buf *out)
{
    out->len = 0;
    return dir ? mast_buf_puts(out, dir) : mast_models_dir(out);
}

mast_status mast_models_find_file(const char *dir, const char *name, mast_buf *path)
{
    if (!mast_model_name_ok(name))
        return mast_fail(MAST_ERR_INVALID, "'%s' is not a model name (letters, digits, '.', '_' "
                         "and '-')", name);
    MAST_TRY(folder(dir, path));
    char where[4096];
    snprintf(where, sizeof where, "%s", mast_buf_cstr(path));
    MAST_TRY(mast_buf_printf(path, "/%s.gguf", name));
    struct stat sb;
    if (stat(mast_buf_cstr(path), &sb) != 0 || !S_ISREG(sb.st_mode))
        return mast_fail(MAST_ERR_NOT_FOUND, "no model '%s' in %s (mast models list shows them)", name, where);
    return MAST_OK;
}

/* The URL's last path segment without ".gguf", made a model name. */
static mast_status name_from_url(const char *url, char out[129])
{
    const char *end = url + strcspn(url, "?#");
    const char *start = end;
    while (start > url && start[-1] != '/')
        start--;
    size_t n = (size_t)(end - start);
    if (n > 5 && !strncasecmp(end - 5, ".gguf", 5))
        n -= 5;
    if (n > 128)
        n = 128;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)start[i];
        out[k++] = isalnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '-';
    }
    out[k] = '\0';
    while (out[0] == '.')
        memmove(out, out + 1, strlen(out));
    if (!mast_model_name_ok(out))
        return mast_fail(MAST_ERR_INVALID, "%s: cannot name the model from the URL; give --name NAME", url);
    return MAST_OK;
}

/* ---- one transfer ---- */

typedef struct xfer {
    FILE *f;
    uint64_t have;               /* the part's bytes when the request began */
    uint64_t got;                /* body bytes written by it */
    long status;
    bool decided;                /* its first body byte: a 200 starts over, a 206 appends */
    bool bad_range;
    bool write_error;
    uint64_t total;              /* the whole file's size, once known (0: unknown) */
    uint64_t range_start;
    bool has_range;
    char etag[256], last_modified[128];
    mast_progress *progress;
    bool progress_started;
    mast_sha256_ctx *hash;       /* the part's bytes so far, hashed as they come */
} xfer;

static void header_value(const char *line, size_t n, char *out, size_t cap)
{
    const char *colon = memchr(line, ':', n);
    size_t i = colon ? (size_t)(colon - line) + 1 : n;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t e = n;
    while (e > i && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' '))
        e--;
    snprintf(out, cap, "%.*s", (int)(e - i), line + i);
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    xfer *x = arg;
    size_t n = size * nitems;
    char v[512];
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {   /* a response begins (again, after a redirect) */
        const char *sp = memchr(line, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->etag[0] = x->last_modified[0] = '\0';
        x->has_range = false;
        x->total = 0;
    } else if (n > 14 && !strncasecmp(line, "content-range:", 14)) {
        header_value(line, n, v, sizeof v);
        unsigned long long a, b, t;
        if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
            x->has_range = true;
            x->range_start = a;
            x->total = t;
        } else if (sscanf(v, "bytes */%llu", &t) == 1) {
            x->total = t;
        }
    } else if (n > 15 && !strncasecmp(line, "content-length:", 15) && x->status == 200) {
        header_value(line, n, v, sizeof v);
        x->total = strtoull(v, NULL, 10);
    } else if (n > 5 && !strncasecmp(line, "etag:", 5)) {
        header_value(line, n, x->etag, sizeof x->etag);
    } else if (n > 14 && !strncasecmp(line, "last-modified:", 14)) {
        header_value(line, n, x->last_modified, sizeof x->last_modified);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    xfer *x = arg;
    size_t n = size * nmemb;
    if (!x->decided) {
        x->decided = true;
        if (x->status == 206) {
            if (!x->has_range || x->range_start != x->have) {
                x->bad_range = true;
                return 0;
            }
        } else {   /* the whole file: the server ignored the range, or it changed since */
            if (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) != 0 || fseek(x->f, 0, SEEK_SET) != 0) {
                x->write_error = true;
                return 0;
            }
            x->have = 0;
            mast_sha256_init(x->hash);
        }
    }
    if (fwrite(data, 1, n, x->f) != n) {
        x->write_error = true;
        return 0;
    }
    x->got += n;
    mast_sha256_update(x->hash, data, n);
    if (x->progress) {
        if (!x->progress_started && x->total) {
            mast_progress_begin_bytes(x->progress, "pull", x->total);
            x->progress_started = true;
        }
        if (x->progress_started)
            mast_progress_update(x->progress, x->have + x->got);
    }
    return n;
}

/* The part's meta file: the URL it comes from and the server's validator. */
static void write_meta(const char *path, const char *url, const xfer *x)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "url", url, "etag", x->etag, "last_modified",
                          x->last_modified);
    if (o && json_dump_file(o, path, JSON_COMPACT) != 0)
        mast_warn("%s: cannot write (the download cannot resume): %s", path, strerror(errno));
    json_decref(o);
}

/* The validator an earlier run saw for url, or "" when none (or another URL:
** *same_url false, the part is not this URL's). */
static void read_meta(const char *path, const char *url, bool *same_url, char *validator, size_t cap)
{
    json_t *o = json_load_file(path, 0, NULL);
    const char *u = json_string_value(json_object_get(o, "url"));
    const char *etag = json_string_value(json_object_get(o, "etag"));
    const char *lm = json_string_value(json_object_get(o, "last_modified"));
    *same_url = u && !strcmp(u, url);
    snprintf(validator, cap, "%s", etag && *etag ? etag : lm ? lm : "");
    json_decref(o);
}

typedef enum { XFER_DONE, XFER_RETRY, XFER_RESTART, XFER_FAIL } xfer_outcome;

static xfer_outcome transfer(const char *url, FILE *f, uint64_t have, const char *validator,
                             mast_progress *progress, mast_sha256_ctx *hash, xfer *x, mast_status *st)
{
    memset(x, 0, sizeof *x);
    x->f = f;
    x->have = have;
    x->progress = progress;
    x->hash = hash;
    CURL *c = curl_easy_init();
    if (!c) {
        *st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        return XFER_FAIL;
    }
    char ua[64], err[CURL_ERROR_SIZE] = "";
    snprintf(ua, sizeof ua, "mast/%s", mast_version());
    /* The range is our own header, not CURLOPT_RESUME_FROM: curl refuses a 200 to a resume,
    ** and a 200 is how a server says the file changed (If-Range) or that it has no ranges;
    ** on_body then starts the part over. */
    struct curl_slist *hdrs = NULL;
    char range[64], ifr[400];
    if (have) {
        snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)have);
        hdrs = curl_slist_append(hdrs, range);
    }
    if (have && validator[0]) {
        snprintf(ifr, sizeof ifr, "If-Range: %s", validator);
        hdrs = curl_slist_append(hdrs, ifr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled transfer is a dropped one */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (fflush(f) != 0)
        x->write_error = true;
    if (x->write_error) {
        *st = mast_fail(MAST_ERR_IO, "%s: cannot write the download: %s", url, strerror(errno));
        return XFER_FAIL;
    }
    if (x->bad_range) {
        *st = mast_fail(MAST_ERR_FORMAT, "%s: the server answered a range request with another range", url);
        return XFER_RESTART;
    }
    if (rc == CURLE_OK && (code == 200 || code == 206 || code == 0))
        return XFER_DONE;
    if (rc == CURLE_OK && !x->got && have && x->total == have)
        return XFER_DONE;
    if (rc == CURLE_HTTP_RETURNED_ERROR && code == 416) {   /* the part is whole, or longer than the file */
        if (have && x->total == have)
            return XFER_DONE;
        *st = mast_fail(MAST_ERR_FORMAT, "%s: the server refused to resume at byte %llu", url,
                        (unsigned long long)have);
        return XFER_RESTART;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        *st = mast_fail(MAST_ERR_IO, "%s: the server answered HTTP %ld", url, code);
        return code >= 500 || code == 429 || code == 408 ? XFER_RETRY : XFER_FAIL;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
        *st = mast_fail(MAST_ERR_INVALID, "%s: %s (mast pull takes http:// and https:// URLs)", url,
                        err[0] ? err : curl_easy_strerror(rc));
        return XFER_FAIL;
    }
    *st = mast_fail(MAST_ERR_IO, "%s: %s", url, err[0] ? err : curl_easy_strerror(rc));
    return rc == CURLE_COULDNT_RESOLVE_HOST ? XFER_FAIL : XFER_RETRY;
}

/* ---- checks ---- */

/* Hashes the file's first `bytes` (a part an earlier run left) into c, from the start. */
static mast_status hash_prefix(FILE *f, uint64_t bytes, mast_sha256_ctx *c, const char *path)
{
    mast_sha256_init(c);
    static unsigned char buf[1 << 20];
    for (uint64_t at = 0; at < bytes;) {
        size_t want = bytes - at < sizeof buf ? (size_t)(bytes - at) : sizeof buf;
        ssize_t got = pread(fileno(f), buf, want, (off_t)at);
        if (got <= 0)
            return mast_fail(MAST_ERR_IO, "%s: %s", path, got < 0 ? strerror(errno) : "shorter than it was");
        mast_sha256_update(c, buf, (size_t)got);
        at += (uint64_t)got;
    }
    return MAST_OK;
}

static mast_status check_gguf(const char *path, const char *url)
{
    mast_gguf *g;
    mast_status st = mast_gguf_open(&g, path);
    if (st != MAST_OK) {   /* the reader's message names the hidden part: keep only its reason */
        char why[512];
        const char *m = mast_errmsg(), *colon = strstr(m, ": ");
        snprintf(why, sizeof why, "%s", colon && !strncmp(m, path, strlen(path)) ? colon + 2 : m);
        return mast_fail(MAST_ERR_FORMAT, "%s: not a valid GGUF model (%s)", url, why);
    }
    mast_gguf_str arch = {"", 0};
    if (mast_gguf_get_str(g, "general.architecture", &arch) != MAST_OK)
        st = mast_fail(MAST_ERR_FORMAT, "%s: not a GGUF model: it names no general.architecture", url);
    mast_gguf_close(g);
    return st;
}

static double now_s(void)
{
    return (double)mast_mono_us() / 1e6;
}

/* ---- the pull ---- */

mast_status mast_pull(const mast_pull_opts *o, mast_pull_result *r)
{
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    if (!o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)))
        return mast_fail(MAST_ERR_INVALID, "'%s' is not an http:// or https:// URL", o->url ? o->url : "");
    if (o->sha256 && (strlen(o->sha256) != 64 || strspn(o->sha256, "0123456789abcdefABCDEF") != 64))
        return mast_fail(MAST_ERR_INVALID, "--sha256 wants 64 hex digits (got '%s')", o->sha256);
    if (o->name) {
        if (!mast_model_name_ok(o->name))
            return mast_fail(MAST_ERR_INVALID, "'%s' is not a model name (1 to 128 letters, digits, "
                             "'.', '_' and '-', not starting with '.')", o->name);
        snprintf(r->name, sizeof r->name, "%s", o->name);
    } else {
        MAST_TRY(name_from_url(o->url, r->name));
    }
    mast_buf dir = {0}, part = {0}, meta = {0}, side = {0}, tmp = {0};
    mast_status st = folder(o->dir, &dir);
    if (st == MAST_OK)
        st = mast_mkdirs(mast_buf_cstr(&dir));
    if (st == MAST_OK)
        st = mast_buf_printf(&r->path, "%s/%s.gguf", mast_buf_cstr(&dir), r->name);
    if (st == MAST_OK)
        st = mast_buf_printf(&part, "%s/.%s.gguf.part", mast_buf_cstr(&dir), r->name);
    if (st == MAST_OK)
        st = mast_buf_printf(&meta, "%s.json", mast_buf_cstr(&part));
    if (st == MAST_OK)
        st = mast_buf_printf(&side, "%s/%s.json", mast_buf_cstr(&dir), r->name);
    if (st == MAST_OK)
        st = mast_buf_printf(&tmp, "%s.tmp", mast_buf_cstr(&side));
    struct stat sb;
    if (st == MAST_OK && !o->force && stat(mast_buf_cstr(&r->path), &sb) == 0)
        st = mast_fail(MAST_ERR_EXISTS, "a model named '%s' is already in %s (mast models rm %s, "
                       "or --force to replace it)", r->name, mast_buf_cstr(&dir), r->name);
    /* the part: this URL's from an earlier run (resumed), else a new one */
    FILE *f = NULL;
    char validator[256] = "";
    if (st == MAST_OK) {
        bool same = false;
        read_meta(mast_buf_cstr(&meta), o->url, &same, validator, sizeof validator);
        int fd = open(mast_buf_cstr(&part), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&part), strerror(errno));
        else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            st = mast_fail(MAST_ERR_EXISTS, "another mast pull is downloading '%s' into %s",
                           r->name, mast_buf_cstr(&dir));
        } else if (!same && ftruncate(fd, 0) != 0) {
            close(fd);
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&part), strerror(errno));
        } else if (!(f = fdopen(fd, "r+b"))) {
            close(fd);
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&part), strerror(errno));
        }
        if (f && fseek(f, 0, SEEK_END) == 0)
            r->resumed_from = (uint64_t)ftell(f);
        if (!same)
            validator[0] = '\0';
    }
    mast_progress progress;
    mast_sha256_ctx hash;
    mast_sha256_init(&hash);
    int retries = o->retries < 0 ? DEFAULT_RETRIES : o->retries;
    bool done = false;
    for (int failures = 0; st == MAST_OK && !done;) {
        uint64_t have = (uint64_t)ftell(f);
        xfer x;
        r->attempts++;
        if (r->attempts > 1)
            mast_info("pull %s: resuming at byte %llu (attempt %d)", r->name, (unsigned long long)have,
                      r->attempts);
        if (hash.len != have && (st = hash_prefix(f, have, &hash, mast_buf_cstr(&part))) != MAST_OK)
            break;
        mast_status why = MAST_OK;
        xfer_outcome out = transfer(o->url, f, have, validator, o->progress ? &progress : NULL, &hash,
                                    &x, &why);
        if (x.progress_started)
            mast_progress_end(&progress);
        if (x.etag[0] || x.last_modified[0] || out == XFER_DONE || x.got) {
            write_meta(mast_buf_cstr(&meta), o->url, &x);
            snprintf(validator, sizeof validator, "%s", x.etag[0] ? x.etag : x.last_modified);
        }
        fseek(f, 0, SEEK_END);
        if (out == XFER_DONE) {
            done = true;
            continue;
        }
        if (out == XFER_RESTART) {   /* start over from byte 0 */
            if (ftruncate(fileno(f), 0) != 0 || fseek(f, 0, SEEK_SET) != 0)
                out = XFER_FAIL, why = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&part), strerror(errno));
            validator[0] = '\0';
        }
        /* consecutive failures; one that moved the download on counts as the first */
        failures = x.got && out == XFER_RETRY ? 1 : failures + 1;
        if (out == XFER_FAIL || failures > retries) {
            st = why;
            if (out != XFER_FAIL && ftell(f) > 0) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", mast_errmsg());
                st = mast_fail(st, "%s (%d attempts); the %llu bytes that came are kept: run the "
                               "same command again to resume", msg, r->attempts,
                               (unsigned long long)ftell(f));
            }
            continue;
        }
        double wait = 0.25 * (double)(1 << (failures < 5 ? failures : 5));
        mast_warn("pull %s: %s; retrying in %.1f s", r->name, mast_errmsg(), wait);
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    if (f) {
        r->bytes = (uint64_t)ftell(f);
        if (st == MAST_OK && hash.len != r->bytes)   /* a restart the hash missed: from the file */
            st = hash_prefix(f, r->bytes, &hash, mast_buf_cstr(&part));
        if (st == MAST_OK)
            mast_sha256_final_hex(&hash, r->sha256);
        if (fclose(f) != 0 && st == MAST_OK)
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&part), strerror(errno));
    }
    bool discard = false;   /* a bad file goes; a network failure keeps what came for the next run */
    if (st == MAST_OK && o->sha256 && strcasecmp(o->sha256, r->sha256)) {
        st = mast_fail(MAST_ERR_FORMAT, "%s: checksum mismatch: expected SHA-256 %s, the download "
                       "(%llu bytes) has %s; it was removed", o->url, o->sha256,
                       (unsigned long long)r->bytes, r->sha256);
        discard = true;
    }
    if (st == MAST_OK && (st = check_gguf(mast_buf_cstr(&part), o->url)) != MAST_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mast_errmsg());
        st = mast_fail(st, "%s; the download was removed", msg);
        discard = true;
    }
    if (st == MAST_OK) {   /* where it came from, then the model itself, atomically */
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *info = json_pack("{s:s, s:s, s:I, s:s}", "url", o->url, "sha256", r->sha256,
                                 "bytes", (json_int_t)r->bytes, "pulled_at", when);
        if (!info || json_dump_file(info, mast_buf_cstr(&tmp), JSON_INDENT(2)) != 0 ||
            rename(mast_buf_cstr(&tmp), mast_buf_cstr(&side)) != 0)
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&side), strerror(errno));
        json_decref(info);
        if (st == MAST_OK && rename(mast_buf_cstr(&part), mast_buf_cstr(&r->path)) != 0)
            st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&r->path), strerror(errno));
        if (st == MAST_OK)
            unlink(mast_buf_cstr(&meta));
    }
    if (discard || (st != MAST_OK && !r->bytes && stat(mast_buf_cstr(&part), &sb) == 0 && !sb.st_size)) {
        unlink(mast_buf_cstr(&part));   /* a bad file, or nothing came: no part is left behind */
        unlink(mast_buf_cstr(&meta));
    }
    r->seconds = now_s() - t0;
    mast_buf_free(&dir);
    mast_buf_free(&part);
    mast_buf_free(&meta);
    mast_buf_free(&side);
    mast_buf_free(&tmp);
    return st;
}
