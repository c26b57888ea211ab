/*
** bench/gateway/stub.c — the fast upstream of the gateway benchmark: an
** HTTP/1.1 server on 127.0.0.1 (keep-alive, one epoll thread) answering
** every POST with the same ~1 KB chat.completion, as LiteLLM's and
** Bifrost's overhead benchmarks use a fixed-response stub; a request with
** "stream":true gets the same text as an SSE stream of 12 chunks (chunked
** transfer encoding), written at once.
**   stub [PORT]     prints "port N" once listening
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 65536

typedef struct conn {
    char in[65536];
    size_t n;
} conn;

static conn *conns[MAX_CONN];
static char reply[4096], stream_reply[16384];
static size_t reply_len, stream_len;

static void make_reply(void)
{
    char body[2048];
    int n = snprintf(body, sizeof body,
                     "{\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion\",\"created\":1700000000,"
                     "\"model\":\"stub\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                     "\"content\":\"%s\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
                     "{\"prompt_tokens\":12,\"completion_tokens\":150,\"total_tokens\":162}}",
                     "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the "
                     "lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps "
                     "over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown "
                     "fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The "
                     "quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy "
                     "dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over "
                     "the lazy dog. The quick brown fox jumps over the lazy dog.");
    reply_len = (size_t)snprintf(reply, sizeof reply,
                                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                                 "\r\n%s", n, body);
    size_t k = (size_t)snprintf(stream_reply, sizeof stream_reply,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 12; i++) {
        char ev[1024];
        int e = i == 0 ? snprintf(ev, sizeof ev, "data: {\"id\":\"chatcmpl-stub\",\"object\":"
                                  "\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"stub\","
                                  "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                                  "\"finish_reason\":null}]}\n\n")
                : i < 11 ? snprintf(ev, sizeof ev, "data: {\"id\":\"chatcmpl-stub\",\"object\":"
                                    "\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"stub\","
                                    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The quick brown fox "
                                    "jumps over the lazy dog. \"},\"finish_reason\":null}]}\n\n")
                : snprintf(ev, sizeof ev, "data: {\"id\":\"chatcmpl-stub\",\"object\":"
                           "\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"stub\","
                           "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
                           "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":100,"
                           "\"total_tokens\":112}}\n\ndata: [DONE]\n\n");
        k += (size_t)snprintf(stream_reply + k, sizeof stream_reply - k, "%x\r\n%s\r\n", e, ev);
    }
    k += (size_t)snprintf(stream_reply + k, sizeof stream_reply - k, "0\r\n\r\n");
    stream_len = k;
}

/* Answers every complete request in c's buffer; -1 to close. */
static int serve(int fd, conn *c)
{
    for (;;) {
        char *end = memmem(c->in, c->n, "\r\n\r\n", 4);
        if (!end)
            return c->n == sizeof c->in ? -1 : 0;
        size_t head = (size_t)(end - c->in) + 4, body = 0;
        for (char *p = c->in; p < end; p++)
            if ((*p == 'C' || *p == 'c') && !strncasecmp(p, "content-length:", 15))
                body = strtoul(p + 15, NULL, 10);
        if (c->n < head + body)
            return 0;
        bool stream = memmem(c->in + head, body, "\"stream\":true", 13) != NULL;
        const char *out = stream ? stream_reply : reply;
        size_t out_len = stream ? stream_len : reply_len, off = 0;
        while (off < out_len) {
            ssize_t w = write(fd, out + off, out_len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            off += (size_t)w;
        }
        memmove(c->in, c->in + head + body, c->n - head - body);
        c->n -= head + body;
    }
}

int main(int argc, char **argv)
{
    make_reply();
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? (uint16_t)atoi(argv[1]) : 0)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
        perror("stub");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c = accept(ls, NULL, NULL);
                if (c < 0 || c >= MAX_CONN) {
                    if (c >= 0)
                        close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[c] = calloc(1, sizeof **conns);
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            conn *c = conns[fd];
            ssize_t r = read(fd, c->in + c->n, sizeof c->in - c->n);
            if (r <= 0 || (c->n += (size_t)r, serve(fd, c) < 0)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                free(c);
                conns[fd] = NULL;
            }
        }
    }
}
