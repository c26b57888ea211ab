/*
** observe/metrics.h — Prometheus metrics: counters, gauges and histograms
** with labels, kept in one registry per process and rendered in the text
** exposition format (0.0.4) or OpenMetrics 1.0 for GET /metrics.
**
** A family is registered once (usually as a static, on first use) with its
** label names; each distinct list of label values is a series. Updates take
** the family's lock for a few hundred nanoseconds; a family holds at most
** MAST_METRIC_MAX_SERIES series, and updates for more are dropped and
** counted (mast_metrics_series_dropped_total), so a label fed by clients
** cannot grow memory without bound. Collectors registered with
** mast_metrics_on_render set gauges from live state just before a render.
*/
#ifndef MAST_OBSERVE_METRICS_H
#define MAST_OBSERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "mast.h"

#define MAST_METRIC_MAX_SERIES 2000
#define MAST_METRIC_MAX_LABELS 6

typedef enum mast_metric_type { MAST_COUNTER, MAST_GAUGE, MAST_HISTOGRAM } mast_metric_type;

typedef struct mast_metric_family mast_metric_family;

/* A family: name (a counter's ends in _total), help, its type, its label
** names (NULL-terminated, at most MAST_METRIC_MAX_LABELS) and, for a
** histogram, its upper bounds in increasing order (+Inf is added). The
** same name registered again returns the first family. NULL when out of
** memory (every update then does nothing). */
mast_metric_family *mast_metric_new(const char *name, const char *help, mast_metric_type type,
                             const char *const *labels, const double *bounds, size_t n_bounds);

/* Updates the series of these label values (one per label name; NULL is ""). */
void mast_metric_add(mast_metric_family *m, const char *const *values, double v);       /* counter, gauge */
void mast_metric_set(mast_metric_family *m, const char *const *values, double v);       /* gauge */
void mast_metric_observe(mast_metric_family *m, const char *const *values, double v);   /* histogram */
/* Drops every series of a gauge family (a collector that sets all of them anew). */
void mast_metric_clear(mast_metric_family *m);

/* A collector: called (in registration order, one render at a time) before
** every render, to set gauges from live state. */
void mast_metrics_on_render(void (*fn)(void *ctx), void *ctx);
void mast_metrics_off_render(void (*fn)(void *ctx), void *ctx);

/* Every family, in registration order, appended to out: the Prometheus text
** format, or OpenMetrics (counters' TYPE lines without _total, # EOF). */
mast_status mast_metrics_render(mast_buf *out, bool openmetrics);

/* The GenAI conventions' bucket bounds (seconds; and tokens). */
extern const double MAST_BUCKETS_TTFT[];            /* gen_ai.server.time_to_first_token */
extern const size_t MAST_BUCKETS_TTFT_N;
extern const double MAST_BUCKETS_TPOT[];            /* gen_ai.server.time_per_output_token */
extern const size_t MAST_BUCKETS_TPOT_N;
extern const double MAST_BUCKETS_DURATION[];        /* gen_ai.*.request.duration, 0.01 .. 81.92 */
extern const size_t MAST_BUCKETS_DURATION_N;
extern const double MAST_BUCKETS_TOKENS[];          /* gen_ai.client.token.usage: 1, 4, ... 4^13 */
extern const size_t MAST_BUCKETS_TOKENS_N;
extern const double MAST_BUCKETS_FAST[];            /* 100 us .. 10 s, for HTTP and retrieval */
extern const size_t MAST_BUCKETS_FAST_N;

#endif
