/*
** data/ingest/email.c — e-mail: one message (RFC 5322 with MIME, a .eml)
** and mailboxes (mbox: messages after "From " lines).
**
** Headers are unfolded and their encoded words (RFC 2047, B and Q, in UTF-8
** or Latin-1/Windows-1252) decoded; Subject is the title, From the author,
** To, Cc, Date and Message-ID go to the metadata. The body is the text part
** (text/plain preferred to text/html in multipart/alternative, HTML through
** the HTML loader otherwise), its transfer encoding (base64,
** quoted-printable) and charset undone. Every other part with a file name,
** or that is not text, is an attachment, handed to the caller to be read as
** a document of its own. Nesting is bounded (16 levels of multipart).
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"

/* ---- headers ---- */

/* The value of header `name` in head[0..len) (unfolded, malloc'ed), or NULL. */
static char *header(const char *head, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(head + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - head) : len;
        if (end - pos > n && head[pos + n] == ':' && strncasecmp(head + pos, name, n) == 0) {
            mast_buf v = {0};
            size_t i = pos + n + 1;
            for (;;) {
                while (i < end && (head[i] == ' ' || head[i] == '\t'))
                    i++;
                size_t e = end;
                while (e > i && (head[e - 1] == '\r' || head[e - 1] == ' '))
                    e--;
                if (v.len && e > i)
                    mast_buf_putc(&v, ' ');
                mast_buf_append(&v, head + i, e - i);
                /* a continuation line starts with white space */
                if (end + 1 >= len || (head[end + 1] != ' ' && head[end + 1] != '\t'))
                    break;
                i = end + 1;
                nl = memchr(head + i, '\n', len - i);
                end = nl ? (size_t)(nl - head) : len;
            }
            return v.data ? mast_buf_detach(&v) : strdup("");
        }
        pos = end + 1;
    }
    return NULL;
}

/* A parameter of a structured header value (boundary="x", charset=utf-8). */
static char *param(const char *value, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = value; p && *p; p++) {
        if ((p == value || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t') &&
            strncasecmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t k;
            if (*v == '"') {
                v++;
                const char *q = strchr(v, '"');
                k = q ? (size_t)(q - v) : strlen(v);
            } else {
                k = strcspn(v, "; \t");
            }
            char *out = malloc(k + 1);
            if (out) {
                memcpy(out, v, k);
                out[k] = '\0';
            }
            return out;
        }
    }
    return NULL;
}

/* ---- decoding ---- */

static int hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void base64(const char *s, size_t len, mast_buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else
            continue;   /* line breaks, padding, junk */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            mast_buf_putc(out, (char)((acc >> bits) & 0xFF));
        }
    }
}

/* Quoted-printable; in a header's Q words (`header`) "_" is a space. */
static void quoted_printable(const char *s, size_t len, int in_header, mast_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=' && i + 1 < len &&
            (s[i + 1] == '\n' || (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n'))) {
            i += s[i + 1] == '\r' ? 2 : 1;   /* a soft line break */
        } else if (s[i] == '=' && i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            mast_buf_putc(out, (char)(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            mast_buf_putc(out, in_header && s[i] == '_' ? ' ' : s[i]);
        }
    }
}

/* Bytes in `charset` appended as UTF-8: UTF-8 and ASCII repaired,
** Latin-1/Windows-1252 converted, anything else repaired as UTF-8. */
static void to_utf8(const char *s, size_t len, const char *charset, mast_buf *out)
{
    char *conv = NULL;
    size_t n = 0, bad;
    if (charset && mast_cp1252_label(charset, strlen(charset)) &&
        !mast_utf8_valid(s, len, NULL))
        mast_cp1252_to_utf8(s, len, &conv, &n);
    else
        mast_utf8_repair(s, len, &conv, &n, &bad);
    if (conv)
        mast_buf_append(out, conv, n);
    free(conv);
}

/* A header value with its encoded words (=?charset?B|Q?text?=) decoded. */
static char *decode_words(const char *v)
{
    mast_buf out = {0}, raw = {0};
    const char *p = v;
    int after_word = 0;
    while (*p) {
        const char *w = strstr(p, "=?");
        const char *q1 = w ? strchr(w + 2, '?') : NULL;
        const char *q2 = q1 && q1[1] && q1[2] == '?' ? q1 + 2 : NULL;
        const char *end = q2 ? strstr(q2 + 1, "?=") : NULL;
        if (!end) {
            to_utf8(p, strlen(p), "utf-8", &out);
            break;
        }
        /* white space between two encoded words is not text */
        size_t gap = (size_t)(w - p);
        int blank = strspn(p, " \t") == gap;
        if (!(after_word && blank))
            to_utf8(p, gap, "utf-8", &out);
        char charset[64];
        snprintf(charset, sizeof charset, "%.*s", (int)(q1 - w - 2 < 63 ? q1 - w - 2 : 63), w + 2);
        char *star = strchr(charset, '*');   /* RFC 2231 language */
        if (star)
            *star = '\0';
        mast_buf_clear(&raw);
        if (toupper((unsigned char)q1[1]) == 'B')
            base64(q2 + 1, (size_t)(end - q2 - 1), &raw);
        else
            quoted_printable(q2 + 1, (size_t)(end - q2 - 1), 1, &raw);
        to_utf8(raw.data ? raw.data : "", raw.len, charset, &out);
        p = end + 2;
        after_word = 1;
    }
    mast_buf_free(&raw);
    return out.data ? mast_buf_detach(&out) : strdup("");
}

/* ---- MIME ---- */

typedef struct mail {
    mast_doc *doc;
    mast_buf plain, html;
    mast_email_attachment_fn attach;
    void *ctx;
    mast_status st;
    int n_attachments;
} mail;

/* A part's body with its Content-Transfer-Encoding undone, into raw. */
static void transfer_decode(const char *head, size_t head_len, const char *body, size_t len,
                            mast_buf *raw)
{
    char *cte = header(head, head_len, "Content-Transfer-Encoding");
    if (cte && !strncasecmp(cte, "base64", 6))
        base64(body, len, raw);
    else if (cte && !strncasecmp(cte, "quoted-printable", 16))
        quoted_printable(body, len, 0, raw);
    else
        mast_buf_append(raw, body, len);
    free(cte);
}

/* The text of a part: decoded, and from its charset to UTF-8, into out. */
static void decode_body(const char *head, size_t head_len, const char *body, size_t len,
                        mast_buf *out)
{
    char *ct = header(head, head_len, "Content-Type");
    char *charset = ct ? param(ct, "charset") : NULL;
    mast_buf raw = {0};
    transfer_decode(head, head_len, body, len, &raw);
    to_utf8(raw.data ? raw.data : "", raw.len, charset ? charset : "utf-8", out);
    mast_buf_free(&raw);
    free(ct);
    free(charset);
}

/* Splits a part at its first blank line into head and body. */
static void split(const char *s, size_t len, size_t *head_len, const char **body, size_t *body_len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' && (i + 1 < len && (s[i + 1] == '\n' ||
                                             (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n')))) {
            *head_len = i + 1;
            size_t b = i + 1 + (s[i + 1] == '\r' ? 2 : 1);
            *body = s + b;
            *body_len = len - b;
            return;
        }
    *head_len = len;
    *body = s + len;
    *body_len = 0;
}

static void part(mail *m, const char *s, size_t len, int depth, int alternative);

static void multipart(mail *m, const char *body, size_t len, const char *boundary, int depth,
                      int alternative)
{
    size_t bl = strlen(boundary);
    const char *start = NULL;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) : len;
        if (end - pos >= bl + 2 && body[pos] == '-' && body[pos + 1] == '-' &&
            memcmp(body + pos + 2, boundary, bl) == 0) {
            if (start) {
                size_t plen = (size_t)(body + pos - start);
                part(m, start, plen, depth + 1, alternative);
            }
            int closing = end - pos >= bl + 4 && body[pos + 2 + bl] == '-' &&
                          body[pos + 3 + bl] == '-';
            if (closing)
                return;
            start = nl ? nl + 1 : body + len;
        }
        pos = end + 1;
    }
    if (start)   /* no closing boundary: the rest */
        part(m, start, (size_t)(body + len - start), depth + 1, alternative);
}

static void part(mail *m, const char *s, size_t len, int depth, int alternative)
{
    if (depth > 16 || m->st != MAST_OK)
        return;
    size_t head_len, body_len;
    const char *body;
    split(s, len, &head_len, &body, &body_len);
    char *ct = header(s, head_len, "Content-Type");
    char *cd = header(s, head_len, "Content-Disposition");
    char *name = cd ? param(cd, "filename") : NULL;
    if (!name && ct)
        name = param(ct, "name");
    const char *type = ct ? ct : "text/plain";
    if (!strncasecmp(type, "multipart/", 10)) {
        char *boundary = param(type, "boundary");
        if (boundary && *boundary)
            multipart(m, body, body_len, boundary, depth,
                      !strncasecmp(type + 10, "alternative", 11));
        free(boundary);
    } else if (!strncasecmp(type, "message/rfc822", 14) && !name) {
        part(m, body, body_len, depth + 1, 0);   /* a forwarded message: its text too */
    } else if (!name && !(cd && !strncasecmp(cd, "attachment", 10)) &&
               !strncasecmp(type, "text/plain", 10)) {
        if (m->plain.len)
            mast_buf_puts(&m->plain, "\n\n");
        decode_body(s, head_len, body, body_len, &m->plain);
    } else if (!name && !(cd && !strncasecmp(cd, "attachment", 10)) &&
               !strncasecmp(type, "text/html", 9)) {
        /* in an alternative, only when there is no plain text */
        if (!alternative || !m->plain.len)
            decode_body(s, head_len, body, body_len, &m->html);
    } else if (m->attach) {
        mast_buf raw = {0};
        transfer_decode(s, head_len, body, body_len, &raw);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "part-%d", m->n_attachments + 1);
        char *decoded = name ? decode_words(name) : NULL;
        /* a name is a file name, never a path */
        const char *base = decoded ? strrchr(decoded, '/') : NULL;
        base = base ? base + 1 : decoded;
        m->st = m->attach(m->ctx, base && *base ? base : fallback, raw.data ? raw.data : "",
                          raw.len);
        m->n_attachments++;
        free(decoded);
        mast_buf_free(&raw);
    }
    free(ct);
    free(cd);
    free(name);
}

bool mast_looks_like_email(const char *text, size_t len)
{
    size_t n = len < 4096 ? len : 4096, i = 0;
    if (n >= 5 && memcmp(text, "From ", 5) == 0) {   /* an mbox's first line */
        const char *nl = memchr(text, '\n', n);
        i = nl ? (size_t)(nl - text) + 1 : n;
    }
    /* a header line first, and From: among the headers */
    size_t k = i;
    while (k < n && (isalnum((unsigned char)text[k]) || text[k] == '-'))
        k++;
    if (k == i || k >= n || text[k] != ':')
        return false;
    size_t head_len = n - i;
    for (size_t j = i; j + 1 < n; j++)
        if (text[j] == '\n' && (text[j + 1] == '\n' || text[j + 1] == '\r')) {
            head_len = j + 1 - i;
            break;
        }
    char *from = header(text + i, head_len, "From");
    char *date = header(text + i, head_len, "Date");
    char *subject = header(text + i, head_len, "Subject");
    char *id = header(text + i, head_len, "Message-ID");
    bool yes = from && (date || subject || id);
    free(from);
    free(date);
    free(subject);
    free(id);
    return yes;
}

mast_status mast_load_email(mast_doc *doc, const char *text, size_t len,
                            const char *fallback_title, mast_email_attachment_fn attach,
                            void *ctx)
{
    size_t head_len, body_len;
    const char *body;
    split(text, len, &head_len, &body, &body_len);
    mail m = {.doc = doc, .attach = attach, .ctx = ctx, .st = MAST_OK};
    part(&m, text, len, 0, 0);
    static const char *const fields[] = {"Subject", "From", "To", "Cc", "Date", "Message-ID"};
    char *values[6];
    for (int i = 0; i < 6; i++) {
        char *raw = header(text, head_len, fields[i]);
        values[i] = raw ? decode_words(raw) : NULL;
        free(raw);
    }
    mast_status st = m.st;
    if (st == MAST_OK) {
        doc->title = mast_arena_strdup(&doc->arena, values[0] && *values[0] ? values[0]
                                                    : fallback_title ? fallback_title : "");
        doc->author = values[1] ? mast_arena_strdup(&doc->arena, values[1]) : NULL;
        doc->to = values[2] ? mast_arena_strdup(&doc->arena, values[2]) : NULL;
        doc->cc = values[3] ? mast_arena_strdup(&doc->arena, values[3]) : NULL;
        doc->date = values[4] ? mast_arena_strdup(&doc->arena, values[4]) : NULL;
        doc->message_id = values[5] ? mast_arena_strdup(&doc->arena, values[5]) : NULL;
        if (!doc->title)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    /* the text: plain, else the HTML's main content */
    char *nfc = NULL;
    size_t n = 0;
    if (st == MAST_OK && m.plain.len) {
        st = mast_utf8_nfc(m.plain.data, m.plain.len, &nfc, &n);
        char *copy = st == MAST_OK ? mast_arena_strndup(&doc->arena, nfc, n) : NULL;
        if (st == MAST_OK)
            st = copy ? mast_load_text(doc, copy, n, doc->title)
                      : mast_fail(MAST_ERR_NOMEM, "out of memory");
    } else if (st == MAST_OK && m.html.len) {
        st = mast_utf8_nfc(m.html.data, m.html.len, &nfc, &n);
        if (st == MAST_OK) {
            const char *title = doc->title;
            mast_doc page;
            mast_doc_init(&page);
            st = mast_load_html(&page, nfc, n, "");
            if (st == MAST_OK)
                st = mast_doc_append(doc, &page);
            mast_doc_free(&page);
            doc->title = title;
        }
    }
    free(nfc);
    for (int i = 0; i < 6; i++)
        free(values[i]);
    mast_buf_free(&m.plain);
    mast_buf_free(&m.html);
    return st;
}

size_t mast_mbox_next(const char *text, size_t len, size_t pos)
{
    /* a message starts at "From " at the start of the text or after a blank line */
    for (size_t i = pos; i + 5 <= len; i++) {
        if ((i == 0 || (text[i - 1] == '\n' && i >= 2 && text[i - 2] == '\n') ||
             (i >= 3 && text[i - 1] == '\n' && text[i - 2] == '\r' && text[i - 3] == '\n')) &&
            memcmp(text + i, "From ", 5) == 0 && i > pos)
            return i;
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - text);
    }
    return len;
}

mast_status mast_mbox_unquote(const char *text, size_t len, mast_buf *out)
{
    mast_buf_clear(out);
    MAST_TRY(mast_buf_reserve(out, len + 1));
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) + 1 : len, q = i;
        while (q < end && text[q] == '>')
            q++;
        if (q > i && end - q >= 5 && memcmp(text + q, "From ", 5) == 0)
            i++;   /* one '>' fewer */
        MAST_TRY(mast_buf_append(out, text + i, end - i));
        i = end;
    }
    return MAST_OK;
}
