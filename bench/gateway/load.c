/*
** bench/gateway/load.c — an open-loop HTTP load generator at a fixed rate:
** request k is due at start + k / RATE, and its latency is measured from
** then (so a slow server is charged for the queueing it causes, no
** coordinated omission). Keep-alive connections, one epoll thread.
**   load PORT RATE SECONDS [CONNECTIONS] [stream]
** prints one JSON line: sent, ok, errors, achieved rate, latency mean/p50/p99/max (µs).
** With "stream" the requests ask for an SSE stream and the latency is the
** time to its first content event (the response read to its last chunk).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    bool busy, first;        /* first: the stream's first content came (its latency taken) */
    double due;              /* the request's due time */
    double ttfb;             /* a stream's time to its first content */
    char buf[65536];
    size_t n;
} conn;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Whether c->buf holds a whole response; its status in *status. */
static bool complete(conn *c, int *status)
{
    char *end = memmem(c->buf, c->n, "\r\n\r\n", 4);
    if (!end)
        return false;
    if (memmem(c->buf, (size_t)(end - c->buf), "hunked", 6)) {   /* a stream: up to its last chunk */
        char *last = memmem(end, c->n - (size_t)(end - c->buf), "\r\n0\r\n\r\n", 7);
        if (!last)
            return false;
        size_t used = (size_t)(last - c->buf) + 7;
        *status = atoi(c->buf + 9);
        memmove(c->buf, c->buf + used, c->n - used);
        c->n -= used;
        return true;
    }
    size_t head = (size_t)(end - c->buf) + 4, body = 0;
    for (char *p = c->buf; p < end; p++)
        if ((*p == 'C' || *p == 'c') && !strncasecmp(p, "content-length:", 15))
            body = strtoul(p + 15, NULL, 10);
    if (c->n < head + body)
        return false;
    *status = atoi(c->buf + 9);
    memmove(c->buf, c->buf + head + body, c->n - head - body);
    c->n -= head + body;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: load PORT RATE SECONDS [CONNECTIONS] [stream]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = argc > 4 ? atoi(argv[4]) : 64;
    double rate = atof(argv[2]), secs = atof(argv[3]);
    bool stream = argc > 5 && !strcmp(argv[5], "stream");
    const char *body = stream ? "{\"model\":\"bench\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                                "\"content\":\"Hello\"}]}"
                              : "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
    char req[4096];
    int rl = snprintf(req, sizeof req, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
    conn *cs = calloc((size_t)nconn, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = connect_to(port);
        if (cs[i].fd < 0) {
            perror("load: connect");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    size_t total = (size_t)(rate * secs);
    double *lat = calloc(total + 1, sizeof *lat);
    double *waiting = calloc(total + 1, sizeof *waiting);   /* due times with no idle connection yet */
    size_t n_wait = 0, w_head = 0, next = 0, done = 0, ok = 0, errors = 0, reconnects = 0;
    double t0 = now() + 0.05;
    struct epoll_event evs[256];
    while (done < total) {
        double t = now();
        while (next < total && t0 + (double)next / rate <= t)
            waiting[n_wait++] = t0 + (double)next++ / rate;
        for (int i = 0; i < nconn && w_head < n_wait; i++)
            if (!cs[i].busy) {
                cs[i].busy = true;
                cs[i].first = false;
                cs[i].due = waiting[w_head++];
                if (write(cs[i].fd, req, (size_t)rl) != rl) {
                    errors++;
                    done++;
                    cs[i].busy = false;
                }
            }
        double wait_ms = next < total ? (t0 + (double)next / rate - now()) * 1000 : 100;
        if (t > t0 + secs + 10)
            break;   /* what has not come back in 10 s is lost */
        int n = epoll_wait(ep, evs, 256, wait_ms > 0 ? (int)wait_ms : 0);
        for (int k = 0; k < n; k++) {
            conn *c = &cs[evs[k].data.u32];
            ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - c->n);
            if (r <= 0) {   /* closed: an idle one is normal (the server's keep-alive timeout) */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                if (c->busy) {
                    fprintf(stderr, "load: a connection closed with a request in flight\n");
                    errors++;
                    lat[done++] = now() - c->due;
                    c->busy = false;
                }
                c->n = 0;
                c->fd = connect_to(port);
                if (c->fd < 0) {
                    perror("load: reconnect");
                    return 1;
                }
                reconnects++;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - cs)};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                continue;
            }
            c->n += (size_t)r;
            int status;
            if (stream && c->busy && !c->first && memmem(c->buf, c->n, "\"content\":\"The", 14)) {
                c->first = true;   /* time to the first content */
                c->ttfb = now() - c->due;
            }
            while (c->busy && complete(c, &status)) {
                lat[done++] = stream ? c->ttfb : now() - c->due;
                if (status == 200)
                    ok++;
                else
                    errors++;
                c->busy = false;
            }
        }
    }
    double elapsed = now() - t0;
    qsort(lat, done, sizeof *lat, cmp);
    double sum = 0;
    for (size_t i = 0; i < done; i++)
        sum += lat[i];
    printf("{\"rate\": %.0f, \"sent\": %zu, \"ok\": %zu, \"errors\": %zu, \"lost\": %zu, \"reconnects\": %zu, \"achieved_rps\": %.0f, "
           "\"mean_us\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
           rate, next, ok, errors, total - done, reconnects, (double)done / elapsed, done ? sum / (double)done * 1e6 : 0,
           done ? lat[done / 2] * 1e6 : 0, done ? lat[(size_t)(done * 0.99)] * 1e6 : 0,
           done ? lat[done - 1] * 1e6 : 0);
    return 0;
}
