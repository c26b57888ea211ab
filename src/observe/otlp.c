/*
** observe/otlp.c — OTLP/HTTP trace export (see otlp.h).
**
** Protobuf by hand: a message is its fields as (tag, value) pairs, a tag
** the field number << 3 | the wire type (0 varint, 1 fixed64, 2 length-
** delimited); a nested message is written to its own buffer and then as a
** length-delimited field of its parent.
*/
#include "observe/otlp.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "observe/trace.h"

/* ---- protobuf ---- */

static void pb_varint(mast_buf *b, uint64_t v)
{
    unsigned char t[10];
    int n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    mast_buf_append(b, t, (size_t)n);
}

static void pb_tag(mast_buf *b, int field, int wire)
{
    pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void pb_bytes(mast_buf *b, int field, const void *data, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    mast_buf_append(b, data, n);
}

static void pb_string(mast_buf *b, int field, const char *s)
{
    if (s && *s)
        pb_bytes(b, field, s, strlen(s));
}

static void pb_message(mast_buf *b, int field, const mast_buf *m)
{
    pb_bytes(b, field, m->data ? m->data : "", m->len);
}

static void pb_fixed64(mast_buf *b, int field, uint64_t v)
{
    unsigned char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    pb_tag(b, field, 1);
    mast_buf_append(b, t, 8);
}

/* AnyValue { string_value = 1; bool_value = 2; int_value = 3; double_value = 4; } */
static void pb_any(mast_buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        pb_bytes(b, 1, json_string_value(v), json_string_length(v));
    } else if (json_is_boolean(v)) {
        pb_tag(b, 2, 0);
        pb_varint(b, json_is_true(v));
    } else if (json_is_integer(v)) {
        pb_tag(b, 3, 0);
        pb_varint(b, (uint64_t)json_integer_value(v));   /* int64: two's complement */
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        pb_fixed64(b, 4, bits);
    } else {   /* arrays and objects as their JSON text */
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            pb_bytes(b, 1, text, strlen(text));
        free(text);
    }
}

/* KeyValue { string key = 1; AnyValue value = 2; }, as field `field` of the parent */
static void pb_attributes(mast_buf *b, int field, const json_t *attrs)
{
    const char *k;
    const json_t *v;
    mast_buf kv = {0}, any = {0};
    json_object_foreach((json_t *)attrs, k, v) {
        kv.len = any.len = 0;
        pb_string(&kv, 1, k);
        pb_any(&any, v);
        pb_message(&kv, 2, &any);
        pb_message(b, field, &kv);
    }
    mast_buf_free(&kv);
    mast_buf_free(&any);
}

static int hex_bytes(const char *hex, unsigned char *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* ---- the spans of a record ---- */

typedef struct span_out {
    char trace_id[33], span_id[17], parent[17];
    char name[200];
    int kind;                    /* 1 internal, 2 server */
    uint64_t start_ns, end_ns;
    int code;                    /* 0 unset, 2 error */
    const char *message;
    const json_t *attrs;
} span_out;

/* The OTLP view of a record's span i. */
static void describe(const json_t *rec, const json_t *s, span_out *o)
{
    memset(o, 0, sizeof *o);
    const char *rid = mast_json_get_str(rec, "id", "");
    const char *tid = mast_json_get_str(rec, "trace_id", rid);
    snprintf(o->trace_id, sizeof o->trace_id, "%s", tid);
    int sid = (int)json_integer_value(json_object_get(s, "span_id"));
    mast_span_hex_id(rid, sid, o->span_id);
    const json_t *parent = json_object_get(s, "parent_id");
    if (json_is_integer(parent))
        mast_span_hex_id(rid, (int)json_integer_value(parent), o->parent);
    else
        snprintf(o->parent, sizeof o->parent, "%s", mast_json_get_str(rec, "parent_span_id", ""));
    o->attrs = json_object_get(s, "attributes");
    const char *name = mast_json_get_str(s, "name", "span");
    bool root = !json_is_integer(parent);
    o->kind = root ? 2 : 1;
    const char *op = mast_json_get_str(o->attrs, "gen_ai.operation.name", NULL);
    const char *model = mast_json_get_str(o->attrs, "gen_ai.request.model", NULL);
    const char *method = mast_json_get_str(o->attrs, "http.request.method", NULL);
    const char *path = mast_json_get_str(o->attrs, "url.path", NULL);
    if (root && op && model)   /* the GenAI conventions' span name */
        snprintf(o->name, sizeof o->name, "%s %s", op, model);
    else if (root && method && path)
        snprintf(o->name, sizeof o->name, "%s %s", method, path);
    else
        snprintf(o->name, sizeof o->name, "%s", name);
    int64_t start = json_integer_value(json_object_get(s, "start_us"));
    int64_t dur = json_integer_value(json_object_get(s, "duration_us"));
    o->start_ns = (uint64_t)start * 1000;
    o->end_ns = (uint64_t)(start + (dur > 0 ? dur : 0)) * 1000;
    const char *st = mast_json_get_str(s, "status", "ok");
    if (strcmp(st, "ok")) {
        o->code = 2;
        o->message = st;
    }
}

/* Span { trace_id = 1; span_id = 2; parent_span_id = 4; name = 5; kind = 6;
**        start_time_unix_nano = 7; end_time_unix_nano = 8; attributes = 9; status = 15 } */
static void pb_span(mast_buf *b, const span_out *o)
{
    unsigned char tid[16], sid[8], pid[8];
    if (hex_bytes(o->trace_id, tid, 16) || hex_bytes(o->span_id, sid, 8))
        return;   /* not an id OTLP takes: left out */
    mast_buf sp = {0}, status = {0};
    pb_bytes(&sp, 1, tid, 16);
    pb_bytes(&sp, 2, sid, 8);
    if (o->parent[0] && !hex_bytes(o->parent, pid, 8))
        pb_bytes(&sp, 4, pid, 8);
    pb_string(&sp, 5, o->name);
    pb_tag(&sp, 6, 0);
    pb_varint(&sp, (uint64_t)o->kind);
    pb_fixed64(&sp, 7, o->start_ns);
    pb_fixed64(&sp, 8, o->end_ns);
    pb_attributes(&sp, 9, o->attrs);
    if (o->code) {   /* Status { message = 2; code = 3; } */
        pb_string(&status, 2, o->message);
        pb_tag(&status, 3, 0);
        pb_varint(&status, (uint64_t)o->code);
        pb_message(&sp, 15, &status);
    }
    pb_message(b, 2, &sp);   /* ScopeSpans.spans = 2 */
    mast_buf_free(&sp);
    mast_buf_free(&status);
}

/* OTLP/JSON: ids as hex, 64-bit integers as strings, enums as numbers. */
static json_t *json_any(const json_t *v)
{
    if (json_is_string(v))
        return json_pack("{s:O}", "stringValue", v);
    if (json_is_boolean(v))
        return json_pack("{s:b}", "boolValue", json_is_true(v));
    if (json_is_integer(v)) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
        return json_pack("{s:s}", "intValue", n);
    }
    if (json_is_real(v))
        return json_pack("{s:f}", "doubleValue", json_real_value(v));
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *o = json_pack("{s:s}", "stringValue", text ? text : "");
    free(text);
    return o;
}

static json_t *json_attributes(const json_t *attrs)
{
    json_t *arr = json_array();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)attrs, k, v)
        json_array_append_new(arr, json_pack("{s:s, s:o}", "key", k, "value", json_any(v)));
    return arr;
}

static json_t *json_span(const span_out *o)
{
    char s[24], e[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)o->start_ns);
    snprintf(e, sizeof e, "%llu", (unsigned long long)o->end_ns);
    json_t *sp = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o}", "traceId", o->trace_id, "spanId",
                           o->span_id, "name", o->name, "kind", o->kind, "startTimeUnixNano", s,
                           "endTimeUnixNano", e, "attributes", json_attributes(o->attrs));
    if (o->parent[0])
        json_object_set_new(sp, "parentSpanId", json_string(o->parent));
    json_object_set_new(sp, "status", o->code ? json_pack("{s:i, s:s}", "code", o->code, "message", o->message)
                                              : json_object());
    return sp;
}

mast_status mast_otlp_encode(const mast_otlp *o, const json_t *records, mast_buf *out, size_t *n_spans)
{
    size_t n = 0, i, k;
    const json_t *rec, *s;
    json_t *scope_json = json_pack("{s:s, s:s}", "name", "mast", "version", mast_version());
    if (o->json) {
        json_t *spans = json_array();
        json_array_foreach((json_t *)records, i, rec)
            json_array_foreach(json_object_get(rec, "spans"), k, s) {
                span_out so;
                describe(rec, s, &so);
                if (strlen(so.trace_id) == 32)
                    json_array_append_new(spans, json_span(&so)), n++;
            }
        json_t *req = json_pack("{s:[{s:{s:o}, s:[{s:o, s:o}]}]}", "resourceSpans", "resource", "attributes",
                                json_attributes(o->resource), "scopeSpans", "scope", scope_json,
                                "spans", spans);
        mast_status st = req ? mast_json_dump(req, 0, out) : mast_fail(MAST_ERR_NOMEM, "out of memory");
        json_decref(req);
        *n_spans = n;
        return st;
    }
    json_decref(scope_json);
    /* ExportTraceServiceRequest { resource_spans = 1 } > ResourceSpans { resource = 1;
    ** scope_spans = 2 } > ScopeSpans { scope = 1; spans = 2 } */
    mast_buf resource = {0}, scope = {0}, scope_spans = {0}, rs = {0};
    pb_attributes(&resource, 1, o->resource);
    pb_string(&scope, 1, "mast");
    pb_string(&scope, 2, mast_version());
    pb_message(&scope_spans, 1, &scope);
    json_array_foreach((json_t *)records, i, rec)
        json_array_foreach(json_object_get(rec, "spans"), k, s) {
            span_out so;
            describe(rec, s, &so);
            size_t before = scope_spans.len;
            pb_span(&scope_spans, &so);
            n += scope_spans.len > before;
        }
    pb_message(&rs, 1, &resource);
    pb_message(&rs, 2, &scope_spans);
    pb_message(out, 1, &rs);
    mast_buf_free(&resource);
    mast_buf_free(&scope);
    mast_buf_free(&scope_spans);
    mast_buf_free(&rs);
    *n_spans = n;
    return MAST_OK;
}

/* ---- configuration ---- */

/* "k=v,k2=v2" with percent-encoded values, each pair through fn. */
static mast_status each_pair(const char *text, const char *var, mast_status (*fn)(void *, const char *, const char *),
                             void *ctx)
{
    char *copy = strdup(text);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = MAST_OK;
    char *save = NULL;
    for (char *pair = strtok_r(copy, ",", &save); pair && st == MAST_OK; pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq) {
            st = mast_fail(MAST_ERR_INVALID, "%s: '%s' is not key=value", var, pair);
            break;
        }
        *eq = '\0';
        char *k = pair, *v = eq + 1;
        while (isspace((unsigned char)*k))
            k++;
        for (char *e = k + strlen(k); e > k && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        char *w = v;   /* percent-decoding in place */
        for (char *r = v; *r; r++) {
            unsigned x;
            if (*r == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2]) &&
                sscanf(r + 1, "%2x", &x) == 1) {
                *w++ = (char)x;
                r += 2;
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        if (!*k)
            st = mast_fail(MAST_ERR_INVALID, "%s: a pair has no key", var);
        else
            st = fn(ctx, k, v);
    }
    free(copy);
    return st;
}

static mast_status add_header(void *ctx, const char *k, const char *v)
{
    mast_otlp *o = ctx;
    if (strpbrk(k, "\r\n:") || strpbrk(v, "\r\n"))
        return mast_fail(MAST_ERR_INVALID, "OTEL_EXPORTER_OTLP_HEADERS: the header '%s' has a line break "
                         "or a colon in its name", k);
    char **grown = realloc(o->headers, (o->n_headers + 1) * sizeof *grown);
    if (!grown)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    o->headers = grown;
    size_t n = strlen(k) + strlen(v) + 3;
    if (!(o->headers[o->n_headers] = malloc(n)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    snprintf(o->headers[o->n_headers++], n, "%s: %s", k, v);
    return MAST_OK;
}

static mast_status add_attribute(void *ctx, const char *k, const char *v)
{
    json_object_set_new(ctx, k, json_string(v));
    return MAST_OK;
}

mast_status mast_otlp_from_env(mast_otlp *o, const char *url, const char *protocol, bool *enabled)
{
    memset(o, 0, sizeof *o);
    *enabled = false;
    const char *traces = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), *base = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    mast_buf u = {0};
    if (url && *url)
        mast_buf_puts(&u, url);
    else if (traces && *traces)
        mast_buf_puts(&u, traces);
    else if (base && *base)
        mast_buf_printf(&u, "%.*s/v1/traces", (int)(strlen(base) - (base[strlen(base) - 1] == '/')), base);
    if (!u.len)
        return MAST_OK;
    o->url = strdup(mast_buf_cstr(&u));
    mast_buf_free(&u);
    if (!o->url)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = MAST_OK;
    if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))
        st = mast_fail(MAST_ERR_INVALID, "the OTLP endpoint '%s' is not an http:// or https:// URL", o->url);
    const char *proto = protocol ? protocol : getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
    if (!proto || !*proto)
        proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    if (st == MAST_OK && proto && *proto && strcmp(proto, "http/protobuf") && strcmp(proto, "http/json"))
        st = mast_fail(MAST_ERR_INVALID, "OTEL_EXPORTER_OTLP_PROTOCOL '%s': mast exports http/protobuf "
                       "or http/json (not grpc)", proto);
    o->json = proto && !strcmp(proto, "http/json");
    const char *vars[] = {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"};
    for (int i = 0; i < 2 && st == MAST_OK; i++)
        if (getenv(vars[i]) && *getenv(vars[i]))
            st = each_pair(getenv(vars[i]), vars[i], add_header, o);
    o->resource = json_object();
    const char *ra = getenv("OTEL_RESOURCE_ATTRIBUTES");
    if (st == MAST_OK && ra && *ra)
        st = each_pair(ra, "OTEL_RESOURCE_ATTRIBUTES", add_attribute, o->resource);
    const char *service = getenv("OTEL_SERVICE_NAME");
    if (service && *service)
        json_object_set_new(o->resource, "service.name", json_string(service));
    else if (!json_object_get(o->resource, "service.name"))
        json_object_set_new(o->resource, "service.name", json_string("mast"));
    json_object_set_new(o->resource, "service.version", json_string(mast_version()));
    json_object_set_new(o->resource, "telemetry.sdk.name", json_string("mast"));
    json_object_set_new(o->resource, "telemetry.sdk.language", json_string("c"));
    if (st != MAST_OK) {
        mast_otlp_free(o);
        return st;
    }
    *enabled = true;
    return MAST_OK;
}

void mast_otlp_free(mast_otlp *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n_headers; i++)
        free(o->headers[i]);
    free(o->headers);
    free(o->url);
    json_decref(o->resource);
    memset(o, 0, sizeof *o);
}

/* ---- sending ---- */

typedef struct reply {
    double retry_after;
    mast_buf body;
} reply;

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(line, "retry-after:", 12))
        r->retry_after = strtod(line + 12, NULL);
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    if (r->body.len < 2048)
        mast_buf_append(&r->body, data, size * n);
    return size * n;
}

mast_status mast_otlp_post(const mast_otlp *o, const mast_buf *body, long *status, double *retry_after)
{
    *status = 0;
    *retry_after = -1;
    CURL *c = curl_easy_init();
    if (!c)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    struct curl_slist *h = curl_slist_append(NULL, o->json ? "Content-Type: application/json"
                                                           : "Content-Type: application/x-protobuf");
    for (size_t i = 0; i < o->n_headers; i++)
        h = curl_slist_append(h, o->headers[i]);
    reply r = {-1, {0}};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data ? body->data : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *retry_after = r.retry_after;
    mast_status st = MAST_OK;
    if (rc != CURLE_OK)
        st = mast_fail(MAST_ERR_IO, "OTLP export to %s: %s", o->url, err[0] ? err : curl_easy_strerror(rc));
    else if (*status < 200 || *status >= 300)
        st = mast_fail(MAST_ERR_IO, "OTLP export to %s: HTTP %ld%s%.200s", o->url, *status,
                       r.body.len && o->json ? ": " : "", r.body.len && o->json ? mast_buf_cstr(&r.body) : "");
    mast_buf_free(&r.body);
    return st;
}
