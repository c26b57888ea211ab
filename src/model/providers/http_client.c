/*
** model/providers/http_client.c — libcurl requests and the SSE parser (see
** http_client.h).
*/
#include "model/providers/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/status.h"

#define ERROR_BODY_MAX (64 << 10)

struct mast_http_client {
    CURLM *multi;
    CURL *easy;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

mast_status mast_http_client_new(mast_http_client **out)
{
    pthread_once(&curl_once, curl_init);
    mast_http_client *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init()) || !(c->easy = curl_easy_init())) {
        mast_http_client_free(c);
        *out = NULL;
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return MAST_OK;
}

void mast_http_client_free(mast_http_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct transfer {
    mast_http_call *call;
    CURL *easy;
    struct curl_slist *hdrs;
    double t0;
    bool got_body, aborted;
    /* on a loop */
    void (*done)(void *ctx);
    void *done_ctx;
    struct transfer *next;
} transfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        double v = strtod(p + 12, NULL);   /* seconds (an HTTP date is not followed) */
        if (v >= 0)
            t->call->retry_after = v;
    } else if (len > 15 && !strncasecmp(p, "retry-after-ms:", 15)) {
        double v = strtod(p + 15, NULL);
        if (v >= 0)
            t->call->retry_after = v / 1000;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t len = size * n;
    mast_http_call *call = t->call;
    if (!t->got_body) {
        t->got_body = true;
        call->t_first_byte = now() - t->t0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &call->status);
    }
    if (call->status == 0 || (call->status >= 200 && call->status < 300)) {
        if (call->on_data && call->on_data(call->ctx, p, len)) {
            t->aborted = true;
            return 0;   /* curl stops with CURLE_WRITE_ERROR */
        }
        return len;
    }
    if (call->error_body.len + len <= ERROR_BODY_MAX)
        mast_buf_append(&call->error_body, p, len);
    return len;
}

/* The call's options on t->easy (reset first). */
static void setup(transfer *t)
{
    mast_http_call *call = t->call;
    CURL *e = t->easy;
    curl_easy_reset(e);
    call->status = 0;
    call->retry_after = -1;
    call->fail = MAST_HTTP_OK;
    call->t_first_byte = call->t_total = 0;
    call->error[0] = 0;
    t->hdrs = NULL;
    for (const char *const *h = call->headers; h && *h; h++)
        t->hdrs = curl_slist_append(t->hdrs, *h);
    t->hdrs = curl_slist_append(t->hdrs, "Expect:");   /* no 100-continue round trip */
    t->t0 = now();
    t->got_body = t->aborted = false;
    curl_easy_setopt(e, CURLOPT_URL, call->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (call->connect_timeout > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(call->connect_timeout * 1000));
    if (call->body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    }
}

/* A deadline passed (or not): call->fail set when one did. */
static bool past_deadline(transfer *t, double at)
{
    mast_http_call *call = t->call;
    double el = at - t->t0;
    if (call->total_timeout > 0 && el > call->total_timeout)
        call->fail = MAST_HTTP_TIMEOUT_TOTAL;
    else if (!t->got_body && call->first_byte_timeout > 0 && el > call->first_byte_timeout)
        call->fail = MAST_HTTP_TIMEOUT_FIRST_BYTE;
    return call->fail != MAST_HTTP_OK;
}

/* How the transfer ended (curl's result, or a deadline already in fail). */
static void finish(transfer *t, CURLcode result)
{
    mast_http_call *call = t->call;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &call->status);
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    call->t_total = now() - t->t0;
    if (call->fail != MAST_HTTP_OK) {
        snprintf(call->error, sizeof call->error, "%s after %.0f ms",
                 call->fail == MAST_HTTP_TIMEOUT_TOTAL ? "no complete reply" : "no first byte",
                 call->t_total * 1000);
    } else if (t->aborted) {
        call->fail = MAST_HTTP_ABORTED;
        snprintf(call->error, sizeof call->error, "stopped by the receiver");
    } else if (result == CURLE_OPERATION_TIMEDOUT) {
        call->fail = MAST_HTTP_TIMEOUT_CONNECT;
        snprintf(call->error, sizeof call->error, "could not connect within %.0f ms",
                 call->connect_timeout * 1000);
    } else if (result != CURLE_OK && !t->got_body && call->status == 0) {
        call->fail = MAST_HTTP_CONNECT;
        snprintf(call->error, sizeof call->error, "%s", curl_easy_strerror(result));
    } else if (result != CURLE_OK) {
        call->fail = MAST_HTTP_BROKEN;
        snprintf(call->error, sizeof call->error, "the reply broke off: %s", curl_easy_strerror(result));
    }
}

mast_status mast_http_perform(mast_http_client *c, mast_http_call *call)
{
    transfer t = {.call = call, .easy = c->easy};
    setup(&t);
    curl_multi_add_handle(c->multi, c->easy);
    CURLcode result = CURLE_OK;
    for (;;) {
        int running = 0;
        curl_multi_perform(c->multi, &running);
        int left;
        CURLMsg *m;
        bool done = false;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE) {
                result = m->data.result;
                done = true;
            }
        if (done || !running || past_deadline(&t, now()))
            break;
        curl_multi_poll(c->multi, NULL, 0, 10, NULL);
    }
    curl_multi_remove_handle(c->multi, c->easy);
    finish(&t, result);
    return MAST_OK;
}

/* ---- a loop of many transfers ---- */

struct mast_http_loop {
    CURLM *multi;
    transfer *active;            /* in flight */
    transfer *spare;             /* ended: their easy handles for the next ones */
};

mast_status mast_http_loop_new(mast_http_loop **out)
{
    pthread_once(&curl_once, curl_init);
    mast_http_loop *l = calloc(1, sizeof *l);
    if (!l || !(l->multi = curl_multi_init())) {
        free(l);
        *out = NULL;
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    *out = l;
    return MAST_OK;
}

static void free_transfers(transfer *t, CURLM *multi)
{
    while (t) {
        transfer *next = t->next;
        if (multi)
            curl_multi_remove_handle(multi, t->easy);
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->hdrs);
        free(t);
        t = next;
    }
}

void mast_http_loop_free(mast_http_loop *l)
{
    if (!l)
        return;
    free_transfers(l->active, l->multi);
    free_transfers(l->spare, NULL);
    curl_multi_cleanup(l->multi);
    free(l);
}

mast_status mast_http_loop_add(mast_http_loop *l, mast_http_call *call, void (*done)(void *ctx),
                               void *ctx)
{
    transfer *t = l->spare;
    if (t) {
        l->spare = t->next;
    } else if (!(t = calloc(1, sizeof *t)) || !(t->easy = curl_easy_init())) {
        free(t);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    t->call = call;
    t->done = done;
    t->done_ctx = ctx;
    setup(t);
    if (curl_multi_add_handle(l->multi, t->easy) != CURLM_OK) {
        curl_slist_free_all(t->hdrs);
        t->hdrs = NULL;
        t->next = l->spare;
        l->spare = t;
        return mast_fail(MAST_ERR_IO, "cannot start the request");
    }
    t->next = l->active;
    l->active = t;
    return MAST_OK;
}

/* Takes t off the active list, ends it and tells its owner. */
static void end_transfer(mast_http_loop *l, transfer *t, CURLcode result)
{
    for (transfer **p = &l->active; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    curl_multi_remove_handle(l->multi, t->easy);
    finish(t, result);
    t->next = l->spare;
    l->spare = t;
    t->done(t->done_ctx);   /* may add transfers: t is spare already */
}

void mast_http_loop_run(mast_http_loop *l, int timeout_ms)
{
    curl_multi_poll(l->multi, NULL, 0, timeout_ms, NULL);   /* returns at once on a wakeup */
    int running;
    curl_multi_perform(l->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            transfer *t = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            end_transfer(l, t, m->data.result);
        }
    double at = now();
    for (transfer *t = l->active, *next; t; t = next) {
        next = t->next;
        if (past_deadline(t, at))
            end_transfer(l, t, CURLE_OK);
    }
}

void mast_http_loop_wakeup(mast_http_loop *l)
{
    curl_multi_wakeup(l->multi);
}

size_t mast_http_loop_active(const mast_http_loop *l)
{
    size_t n = 0;
    for (const transfer *t = l->active; t; t = t->next)
        n++;
    return n;
}

/* ---- SSE ---- */

static int end_line(mast_sse *s, mast_sse_fn fn, void *ctx)
{
    const char *l = mast_buf_cstr(&s->line);
    size_t n = s->line.len;
    int rc = 0;
    if (n == 0) {   /* a blank line dispatches the event */
        if (s->has_data)
            rc = fn(ctx, s->event[0] ? s->event : "message", mast_buf_cstr(&s->data), s->data.len);
        mast_buf_clear(&s->data);
        s->event[0] = 0;
        s->has_data = false;
    } else if (l[0] != ':') {
        const char *colon = memchr(l, ':', n);
        size_t fl = colon ? (size_t)(colon - l) : n;
        const char *val = colon ? colon + 1 : l + n;
        if (colon && *val == ' ')
            val++;
        size_t vl = (size_t)(l + n - val);
        if (fl == 4 && !memcmp(l, "data", 4)) {
            if (s->has_data)
                mast_buf_putc(&s->data, '\n');
            mast_buf_append(&s->data, val, vl);
            s->has_data = true;
        } else if (fl == 5 && !memcmp(l, "event", 5)) {
            size_t k = vl < sizeof s->event - 1 ? vl : sizeof s->event - 1;
            memcpy(s->event, val, k);
            s->event[k] = 0;
        }
    }
    mast_buf_clear(&s->line);
    return rc;
}

int mast_sse_feed(mast_sse *s, const char *bytes, size_t n, mast_sse_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char ch = bytes[i];
        if (ch == '\n' && s->cr) {   /* the \n of \r\n: the line already ended */
            s->cr = false;
            continue;
        }
        s->cr = ch == '\r';
        if (ch == '\r' || ch == '\n') {
            int rc = end_line(s, fn, ctx);
            if (rc)
                return rc;
        } else {
            mast_buf_putc(&s->line, ch);
        }
    }
    return 0;
}

void mast_sse_free(mast_sse *s)
{
    mast_buf_free(&s->line);
    mast_buf_free(&s->data);
}
