/*
** model/providers/http_client.h — HTTP requests to model providers
** (libcurl), and the server-sent-events parser their streams need.
**
** A client is one libcurl multi + easy handle pair, used by one thread at
** a time: connections stay open between requests (keep-alive, HTTP/2 where
** the server offers it over TLS). Three deadlines are enforced, checked at
** least every 10 ms while waiting: connect, first byte of the body, total.
** Body bytes of a 2xx reply go to on_data as they arrive; the body of
** another status is kept (up to 64 KiB) for the error's classification.
*/
#ifndef MAST_MODEL_PROVIDERS_HTTP_CLIENT_H
#define MAST_MODEL_PROVIDERS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "mast.h"

typedef struct mast_http_client mast_http_client;

mast_status mast_http_client_new(mast_http_client **out);
void mast_http_client_free(mast_http_client *c);

typedef enum mast_http_fail {
    MAST_HTTP_OK,                 /* a reply arrived (any status) */
    MAST_HTTP_CONNECT,            /* could not connect (refused, DNS, TLS) */
    MAST_HTTP_TIMEOUT_CONNECT,
    MAST_HTTP_TIMEOUT_FIRST_BYTE,
    MAST_HTTP_TIMEOUT_TOTAL,
    MAST_HTTP_BROKEN,             /* the connection broke mid-reply */
    MAST_HTTP_ABORTED,            /* on_data asked to stop */
} mast_http_fail;

typedef struct mast_http_call {
    /* the request */
    const char *url;
    const char *const *headers;   /* "Name: value", NULL-terminated */
    const char *body;
    size_t body_len;
    double connect_timeout, first_byte_timeout, total_timeout;   /* seconds; 0 = none */
    int (*on_data)(void *ctx, const char *data, size_t n);       /* non-zero aborts */
    void *ctx;
    /* the result */
    long status;
    double retry_after;           /* seconds from Retry-After (or retry-after-ms); -1: none */
    mast_http_fail fail;
    double t_first_byte;          /* seconds from the start to the first body byte */
    double t_total;
    mast_buf error_body;          /* the body of a non-2xx reply (freed by the caller) */
    char error[256];              /* what went wrong, for a message */
} mast_http_call;

/* Performs call (POST when it has a body, else GET). MAST_OK whenever
** call->fail says what happened; MAST_ERR_NOMEM otherwise. */
mast_status mast_http_perform(mast_http_client *c, mast_http_call *call);

/* ---- many requests at once, on one thread ----
** A loop drives any number of calls through one libcurl multi handle, so
** a thread waits on all of their sockets at once; connections are reused
** across the calls, deadlines are enforced as for mast_http_perform. All
** but wakeup are for the loop's own thread. */
typedef struct mast_http_loop mast_http_loop;

mast_status mast_http_loop_new(mast_http_loop **out);
void mast_http_loop_free(mast_http_loop *l);
/* Starts call (which must live until done); done(ctx) is called from
** mast_http_loop_run once it has ended (call's results set). */
mast_status mast_http_loop_add(mast_http_loop *l, mast_http_call *call, void (*done)(void *ctx),
                               void *ctx);
/* Waits up to timeout_ms for I/O or a wakeup, then advances every call,
** enforces deadlines and calls done for each that ended. */
void mast_http_loop_run(mast_http_loop *l, int timeout_ms);
/* Any thread: makes a waiting mast_http_loop_run return now. */
void mast_http_loop_wakeup(mast_http_loop *l);
/* Calls in flight. */
size_t mast_http_loop_active(const mast_http_loop *l);

/* ---- server-sent events ---- */

typedef struct mast_sse {
    mast_buf line;                /* the line being read */
    mast_buf data;                /* the event's data lines, joined by \n */
    char event[64];               /* its event field */
    bool cr;                      /* the last byte was \r */
    bool has_data;
} mast_sse;

/* Called once per event (the blank line that ends it); non-zero stops. */
typedef int (*mast_sse_fn)(void *ctx, const char *event, const char *data, size_t len);

/* Feeds bytes cut anywhere (inside a line, between \r and \n); events are
** passed to fn as they complete. Returns fn's non-zero, else 0. */
int mast_sse_feed(mast_sse *s, const char *bytes, size_t n, mast_sse_fn fn, void *ctx);
void mast_sse_free(mast_sse *s);

#endif
