/*
** observe/metrics.c — the metrics registry and its exposition (see metrics.h).
*/
#include "observe/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/status.h"

/* The GenAI semantic conventions' advisory bounds, with finer ones below for
** local models on a CPU (a token in a few milliseconds): they only refine
** the conventions' buckets. */
const double MAST_BUCKETS_TTFT[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                    0.75, 1.0, 2.5, 5.0, 7.5, 10.0};
const size_t MAST_BUCKETS_TTFT_N = sizeof MAST_BUCKETS_TTFT / sizeof *MAST_BUCKETS_TTFT;
const double MAST_BUCKETS_TPOT[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
                                    0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5};
const size_t MAST_BUCKETS_TPOT_N = sizeof MAST_BUCKETS_TPOT / sizeof *MAST_BUCKETS_TPOT;
const double MAST_BUCKETS_DURATION[] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56,
                                        5.12, 10.24, 20.48, 40.96, 81.92};
const size_t MAST_BUCKETS_DURATION_N = sizeof MAST_BUCKETS_DURATION / sizeof *MAST_BUCKETS_DURATION;
const double MAST_BUCKETS_TOKENS[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                      1048576, 4194304, 16777216, 67108864};
const size_t MAST_BUCKETS_TOKENS_N = sizeof MAST_BUCKETS_TOKENS / sizeof *MAST_BUCKETS_TOKENS;
const double MAST_BUCKETS_FAST[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t MAST_BUCKETS_FAST_N = sizeof MAST_BUCKETS_FAST / sizeof *MAST_BUCKETS_FAST;

typedef struct series {
    char *labels;                /* the rendered label pairs: a="x",b="y" ("" for none) */
    uint64_t hash;
    double value;                /* a counter's or gauge's value; a histogram's sum */
    uint64_t count;              /* a histogram's observations */
    uint64_t *buckets;           /* ... per bucket (not cumulative), n_bounds + 1 */
} series;

struct mast_metric_family {
    char *name, *help;
    mast_metric_type type;
    char *labels[MAST_METRIC_MAX_LABELS];
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t mu;
    series *s;
    size_t n, cap;
    mast_metric_family *next;
};

typedef struct collector {
    void (*fn)(void *);
    void *ctx;
} collector;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t render_mu = PTHREAD_MUTEX_INITIALIZER;
static mast_metric_family *first, *last;
static collector collectors[32];
static size_t n_collectors;
static mast_metric_family *dropped;   /* mast_metrics_series_dropped_total */

static mast_metric_family *find(const char *name)
{
    for (mast_metric_family *m = first; m; m = m->next)
        if (!strcmp(m->name, name))
            return m;
    return NULL;
}

static void family_free(mast_metric_family *m)
{
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    free(m->name);
    free(m->help);
    free(m->bounds);
    free(m);
}

static mast_metric_family *create(const char *name, const char *help, mast_metric_type type,
                           const char *const *labels, const double *bounds, size_t n_bounds)
{
    mast_metric_family *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->name = strdup(name);
    m->help = strdup(help);
    m->type = type;
    bool ok = m->name && m->help;
    for (size_t i = 0; ok && labels && labels[i] && i < MAST_METRIC_MAX_LABELS; i++)
        ok = (m->labels[m->n_labels++] = strdup(labels[i])) != NULL;
    if (ok && type == MAST_HISTOGRAM && n_bounds) {
        ok = (m->bounds = malloc(n_bounds * sizeof *m->bounds)) != NULL;
        if (ok)
            memcpy(m->bounds, bounds, n_bounds * sizeof *m->bounds);
        m->n_bounds = n_bounds;
    }
    if (!ok) {
        family_free(m);
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

mast_metric_family *mast_metric_new(const char *name, const char *help, mast_metric_type type,
                             const char *const *labels, const double *bounds, size_t n_bounds)
{
    pthread_mutex_lock(&registry_mu);
    mast_metric_family *m = find(name);
    if (!m && (m = create(name, help, type, labels, bounds, n_bounds))) {
        if (last)
            last->next = m;
        else
            first = m;
        last = m;
    }
    if (!dropped && (dropped = create("mast_metrics_series_dropped_total",
                                      "Metric updates dropped: their family already had its most series",
                                      MAST_COUNTER, (const char *const[]){"metric", NULL}, NULL, 0))) {
        last->next = dropped;
        last = dropped;
    }
    pthread_mutex_unlock(&registry_mu);
    return m;
}

/* A label value escaped as the exposition wants it: \\, \" and \n. */
static void put_value(mast_buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            mast_buf_putc(b, '\\'), mast_buf_putc(b, *p);
        else if (*p == '\n')
            mast_buf_puts(b, "\\n");
        else
            mast_buf_putc(b, *p);
    }
}

/* The label pairs of these values, rendered into buf (cap bytes) when they
** fit, else into *heap (freed by the caller): the text. */
static const char *render_labels(const mast_metric_family *m, const char *const *values, char *buf,
                                 size_t cap, mast_buf *heap)
{
    size_t n = 0;
    bool fits = true;
    for (size_t i = 0; fits && i < m->n_labels; i++) {   /* the common case: no escapes, short */
        const char *v = values && values[i] ? values[i] : "";
        size_t kl = strlen(m->labels[i]), vl = 0;
        while (v[vl] && v[vl] != '\\' && v[vl] != '"' && v[vl] != '\n')
            vl++;
        fits = !v[vl] && n + kl + vl + 5 < cap;
        if (!fits)
            break;
        if (i)
            buf[n++] = ',';
        memcpy(buf + n, m->labels[i], kl);
        n += kl;
        buf[n++] = '=';
        buf[n++] = '"';
        memcpy(buf + n, v, vl);
        n += vl;
        buf[n++] = '"';
    }
    if (fits) {
        buf[n] = '\0';
        return buf;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        if (i)
            mast_buf_putc(heap, ',');
        mast_buf_puts(heap, m->labels[i]);
        mast_buf_puts(heap, "=\"");
        put_value(heap, values ? values[i] : NULL);
        mast_buf_putc(heap, '"');
    }
    return heap->len ? mast_buf_cstr(heap) : "";
}

/* The series of text, created if need be (m->mu held); NULL past the limit. */
static series *series_of(mast_metric_family *m, const char *text, uint64_t h, bool *over)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->s[i].hash == h && !strcmp(m->s[i].labels, text))
            return &m->s[i];
    if (m->n == MAST_METRIC_MAX_SERIES) {
        *over = true;
        return NULL;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        series *s = realloc(m->s, cap * sizeof *s);
        if (!s)
            return NULL;
        m->s = s;
        m->cap = cap;
    }
    series *s = &m->s[m->n];
    memset(s, 0, sizeof *s);
    s->labels = strdup(text);
    s->hash = h;
    if (m->type == MAST_HISTOGRAM)
        s->buckets = calloc(m->n_bounds + 1, sizeof *s->buckets);
    if (!s->labels || (m->type == MAST_HISTOGRAM && !s->buckets)) {
        free(s->labels);
        free(s->buckets);
        return NULL;
    }
    m->n++;
    return s;
}

static void count_drop(const mast_metric_family *m)
{
    if (dropped && m != dropped)
        mast_metric_add(dropped, (const char *const[]){m->name}, 1);
}

static void update(mast_metric_family *m, const char *const *values, double v, int how)
{
    if (!m)
        return;
    bool over = false;
    char buf[256];
    mast_buf heap = {0};
    const char *text = render_labels(m, values, buf, sizeof buf, &heap);   /* outside the lock */
    uint64_t h = mast_hash64(text, strlen(text));
    pthread_mutex_lock(&m->mu);
    series *s = series_of(m, text, h, &over);
    if (s && how == 0)
        s->value += v;
    else if (s && how == 1)
        s->value = v;
    else if (s) {
        size_t i = 0;
        while (i < m->n_bounds && v > m->bounds[i])
            i++;
        s->buckets[i]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&m->mu);
    mast_buf_free(&heap);
    if (over)
        count_drop(m);
}

void mast_metric_add(mast_metric_family *m, const char *const *values, double v)
{
    update(m, values, v, 0);
}

void mast_metric_set(mast_metric_family *m, const char *const *values, double v)
{
    update(m, values, v, 1);
}

void mast_metric_observe(mast_metric_family *m, const char *const *values, double v)
{
    if (m && m->type == MAST_HISTOGRAM && !isnan(v))
        update(m, values, v, 2);
}

void mast_metric_clear(mast_metric_family *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].labels);
        free(m->s[i].buckets);
    }
    m->n = 0;
    pthread_mutex_unlock(&m->mu);
}

void mast_metrics_on_render(void (*fn)(void *), void *ctx)
{
    pthread_mutex_lock(&render_mu);
    if (n_collectors < sizeof collectors / sizeof *collectors)
        collectors[n_collectors++] = (collector){fn, ctx};
    pthread_mutex_unlock(&render_mu);
}

void mast_metrics_off_render(void (*fn)(void *), void *ctx)
{
    pthread_mutex_lock(&render_mu);
    for (size_t i = 0; i < n_collectors; i++)
        if (collectors[i].fn == fn && collectors[i].ctx == ctx) {
            memmove(&collectors[i], &collectors[i + 1], (n_collectors - i - 1) * sizeof *collectors);
            n_collectors--;
            break;
        }
    pthread_mutex_unlock(&render_mu);
}

static void put_number(mast_buf *b, double v)
{
    if (isinf(v))
        mast_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        mast_buf_puts(b, "NaN");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        mast_buf_printf(b, "%lld", (long long)v);
    else {   /* the shortest of 15 or 17 digits that reads back as v */
        char t[32];
        snprintf(t, sizeof t, "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, sizeof t, "%.17g", v);
        mast_buf_puts(b, t);
    }
}

/* name{labels[,extra]} value */
static void put_sample(mast_buf *b, const char *name, const char *suffix, const char *labels,
                       const char *extra, double v)
{
    mast_buf_puts(b, name);
    mast_buf_puts(b, suffix);
    if (*labels || extra) {
        mast_buf_putc(b, '{');
        mast_buf_puts(b, labels);
        if (extra) {
            if (*labels)
                mast_buf_putc(b, ',');
            mast_buf_puts(b, extra);
        }
        mast_buf_putc(b, '}');
    }
    mast_buf_putc(b, ' ');
    put_number(b, v);
    mast_buf_putc(b, '\n');
}

static void render_family(mast_buf *b, mast_metric_family *m, bool om)
{
    size_t len = strlen(m->name);
    bool strip = om && m->type == MAST_COUNTER && len > 6 && !strcmp(m->name + len - 6, "_total");
    int base_len = (int)(strip ? len - 6 : len);
    pthread_mutex_lock(&m->mu);
    if (!m->n && m->type != MAST_COUNTER && m->n_labels) {   /* nothing to say yet */
        pthread_mutex_unlock(&m->mu);
        return;
    }
    mast_buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", base_len, m->name, m->help, base_len, m->name,
                    m->type == MAST_COUNTER ? "counter" : m->type == MAST_GAUGE ? "gauge" : "histogram");
    if (!m->n && !m->n_labels)   /* a family without labels shows its one series at 0 */
        put_sample(b, m->name, "", "", NULL, 0);
    for (size_t i = 0; i < m->n; i++) {
        series *s = &m->s[i];
        if (m->type != MAST_HISTOGRAM) {
            put_sample(b, m->name, "", s->labels, NULL, s->value);
            continue;
        }
        uint64_t cum = 0;
        char le[64];
        for (size_t k = 0; k <= m->n_bounds; k++) {
            cum += s->buckets[k];
            if (k < m->n_bounds) {
                mast_buf tmp = {0};
                put_number(&tmp, m->bounds[k]);
                snprintf(le, sizeof le, "le=\"%s\"", mast_buf_cstr(&tmp));
                mast_buf_free(&tmp);
            } else {
                snprintf(le, sizeof le, "le=\"+Inf\"");
            }
            put_sample(b, m->name, "_bucket", s->labels, le, (double)cum);
        }
        put_sample(b, m->name, "_sum", s->labels, NULL, s->value);
        put_sample(b, m->name, "_count", s->labels, NULL, (double)s->count);
    }
    pthread_mutex_unlock(&m->mu);
}

mast_status mast_metrics_render(mast_buf *out, bool openmetrics)
{
    pthread_mutex_lock(&render_mu);
    for (size_t i = 0; i < n_collectors; i++)
        collectors[i].fn(collectors[i].ctx);
    pthread_mutex_lock(&registry_mu);
    for (mast_metric_family *m = first; m; m = m->next)
        render_family(out, m, openmetrics);
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_unlock(&render_mu);
    if (openmetrics)
        mast_buf_puts(out, "# EOF\n");
    return out->len || !first ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}
