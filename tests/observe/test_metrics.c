/*
** tests/observe/test_metrics.c — the metrics registry: counters, gauges and
** histograms by label values, the text and OpenMetrics expositions (escaped
** label values, cumulative buckets, _sum and _count), the series limit.
*/
#include <stdio.h>
#include <string.h>

#include "observe/metrics.h"
#include "test.h"

static void test_counters_gauges_histograms_render(void)
{
    mast_metric_family *c = mast_metric_new("t_requests_total", "Requests", MAST_COUNTER,
                                     (const char *const[]){"route", "status", NULL}, NULL, 0);
    mast_metric_family *g = mast_metric_new("t_loaded", "Loaded", MAST_GAUGE, NULL, NULL, 0);
    const double bounds[] = {0.1, 1, 10};
    mast_metric_family *h = mast_metric_new("t_seconds", "Latency", MAST_HISTOGRAM,
                                     (const char *const[]){"model", NULL}, bounds, 3);
    REQUIRE(c && g && h);
    CHECK(mast_metric_new("t_requests_total", "again", MAST_COUNTER, NULL, NULL, 0) == c);
    mast_metric_add(c, (const char *const[]){"/a", "200"}, 1);
    mast_metric_add(c, (const char *const[]){"/a", "200"}, 2);
    mast_metric_add(c, (const char *const[]){"/b \"x\"\n\\", "500"}, 1);
    mast_metric_set(g, NULL, 4);
    mast_metric_set(g, NULL, 2);
    mast_metric_observe(h, (const char *const[]){"m"}, 0.05);
    mast_metric_observe(h, (const char *const[]){"m"}, 0.5);
    mast_metric_observe(h, (const char *const[]){"m"}, 0.5);
    mast_metric_observe(h, (const char *const[]){"m"}, 100);
    mast_buf b = {0};
    REQUIRE(mast_metrics_render(&b, false) == MAST_OK);
    const char *t = mast_buf_cstr(&b);
    CHECK(strstr(t, "# HELP t_requests_total Requests\n# TYPE t_requests_total counter\n"));
    CHECK(strstr(t, "t_requests_total{route=\"/a\",status=\"200\"} 3\n"));
    CHECK(strstr(t, "t_requests_total{route=\"/b \\\"x\\\"\\n\\\\\",status=\"500\"} 1\n"));   /* escaped */
    CHECK(strstr(t, "# TYPE t_loaded gauge\nt_loaded 2\n"));
    CHECK(strstr(t, "t_seconds_bucket{model=\"m\",le=\"0.1\"} 1\n"));
    CHECK(strstr(t, "t_seconds_bucket{model=\"m\",le=\"1\"} 3\n"));     /* cumulative */
    CHECK(strstr(t, "t_seconds_bucket{model=\"m\",le=\"10\"} 3\n"));
    CHECK(strstr(t, "t_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"));
    CHECK(strstr(t, "t_seconds_sum{model=\"m\"} 101.05\n"));
    CHECK(strstr(t, "t_seconds_count{model=\"m\"} 4\n"));
    CHECK(!strstr(t, "# EOF"));
    mast_buf_free(&b);
    REQUIRE(mast_metrics_render(&b, true) == MAST_OK);
    t = mast_buf_cstr(&b);
    CHECK(strstr(t, "# TYPE t_requests counter\n"));   /* OpenMetrics: the family without _total */
    CHECK(strstr(t, "t_requests_total{route=\"/a\",status=\"200\"} 3\n"));
    CHECK(b.len > 6 && !strcmp(t + b.len - 6, "# EOF\n"));
    mast_buf_free(&b);
}

static int renders;
static void collect(void *ctx)
{
    mast_metric_set(ctx, NULL, ++renders);
}

static void test_collectors_and_series_limit(void)
{
    mast_metric_family *g = mast_metric_new("t_renders", "Renders", MAST_GAUGE, NULL, NULL, 0);
    mast_metrics_on_render(collect, g);
    mast_buf b = {0};
    mast_metrics_render(&b, false);
    mast_buf_free(&b);
    mast_metrics_render(&b, false);
    CHECK(strstr(mast_buf_cstr(&b), "t_renders 2\n"));
    mast_buf_free(&b);
    mast_metrics_off_render(collect, g);
    mast_metrics_render(&b, false);
    CHECK(strstr(mast_buf_cstr(&b), "t_renders 2\n"));   /* no longer called */
    mast_buf_free(&b);

    mast_metric_family *c = mast_metric_new("t_many_total", "Many", MAST_COUNTER,
                                     (const char *const[]){"id", NULL}, NULL, 0);
    char id[16];
    for (int i = 0; i < MAST_METRIC_MAX_SERIES + 5; i++) {
        snprintf(id, sizeof id, "%d", i);
        mast_metric_add(c, (const char *const[]){id}, 1);
    }
    mast_metrics_render(&b, false);
    const char *t = mast_buf_cstr(&b);
    CHECK(strstr(t, "t_many_total{id=\"1999\"} 1\n"));
    CHECK(!strstr(t, "t_many_total{id=\"2000\"}"));
    CHECK(strstr(t, "mast_metrics_series_dropped_total{metric=\"t_many_total\"} 5\n"));
    mast_buf_free(&b);
}

int main(void)
{
    RUN(test_counters_gauges_histograms_render);
    RUN(test_collectors_and_series_limit);
    return test_summary();
}
