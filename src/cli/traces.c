/*
** cli/traces.c — `mast traces` and `mast traces show ID`.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/json.h"
#include "base/status.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "base/log.h"
#include "data/store_traces.h"
#include "observe/otlp.h"

static const char traces_help[] =
    "Usage: mast traces [-n N] [--json]\n"
    "       mast traces show ID [--json]\n"
    "       mast traces prune [--older-than 30d] [--max-bytes 1G] [--json]\n"
    "       mast traces export --otlp URL [--since 1h] [--protocol http/protobuf|http/json]\n"
    "\n"
    "Lists the most recent traces (every ingest, search, ask, eval and HTTP request records\n"
    "one), newest first; 'show' prints one trace as a tree of spans with durations and\n"
    "attributes. ID is the short id the list shows (the last 12 digits of the trace id),\n"
    "any unique prefix of the trace id, or 'last' for the newest. 'prune' deletes the traces\n"
    "older than --older-than and then, while the traces take more than --max-bytes, the\n"
    "oldest (mast serve does the same every minute: --trace-retention, --trace-max-bytes).\n"
    "'export' sends stored traces to an OpenTelemetry collector (OTLP/HTTP; the URL is the\n"
    "traces endpoint, e.g. http://localhost:4318/v1/traces; headers and the resource come\n"
    "from OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES).\n"
    "\n"
    "Options:\n"
    "  -n N                    number of traces to list (default 20)\n"
    "      --older-than D      prune: traces that began more than D ago (30d, 12h, 90m)\n"
    "      --max-bytes SIZE    prune: the oldest until the traces take at most SIZE (500M)\n"
    "      --otlp URL          export: the collector's traces endpoint\n"
    "      --since D           export: the traces of the last D (default: all)\n"
    "      --protocol P        export: http/protobuf (default) or http/json\n"
    "      --json              print JSON\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

static void print_attrs(json_t *attrs, size_t max)
{
    if (!json_is_object(attrs) || json_object_size(attrs) == 0)
        return;
    char *text = json_dumps(attrs, JSON_COMPACT);
    if (!text)
        return;
    mast_buf b = {0};
    if (mast_utf8_preview(text, strlen(text), max, &b) == MAST_OK)
        printf("  %s", mast_buf_cstr(&b));
    mast_buf_free(&b);
    free(text);
}

static void print_list(json_t *arr)
{
    size_t i;
    json_t *t;
    if (json_array_size(arr) == 0)
        fprintf(stderr, "no traces yet\n");
    json_array_foreach(arr, i, t) {
        char when[32];
        cli_format_time(json_integer_value(json_object_get(t, "start_us")) / 1000000, when, sizeof when);
        const char *id = json_string_value(json_object_get(t, "id"));
        size_t n = id ? strlen(id) : 0;
        printf("%.12s  %s  %9.2f ms  %-5s %-14s", n > 12 ? id + n - 12 : id ? id : "",
               when, (double)json_integer_value(json_object_get(t, "duration_us")) / 1000.0,
               json_string_value(json_object_get(t, "status")),
               json_string_value(json_object_get(t, "name")));
        print_attrs(json_object_get(t, "attributes"), 100);
        printf("\n");
    }
}

static void print_span(json_t *spans, json_int_t id, int depth)
{
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s) {
        json_t *parent = json_object_get(s, "parent_id");
        json_int_t sid = json_integer_value(json_object_get(s, "span_id"));
        if (id < 0 ? !json_is_null(parent) : json_integer_value(parent) != id || json_is_null(parent))
            continue;
        printf("%*s%-*s %9.2f ms  %-5s", depth * 2, "", 28 - depth * 2,
               json_string_value(json_object_get(s, "name")),
               (double)json_integer_value(json_object_get(s, "duration_us")) / 1000.0,
               json_string_value(json_object_get(s, "status")));
        print_attrs(json_object_get(s, "attributes"), 160);
        printf("\n");
        print_span(spans, sid, depth + 1);
    }
}

/* mast traces prune */
static int prune(const char *db, int64_t older_ms, size_t max_bytes, int json)
{
    if (older_ms < 0 && !max_bytes)
        return cli_usage("traces", "prune needs --older-than D or --max-bytes SIZE");
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    int64_t before = older_ms >= 0 ? mast_now_us() - older_ms * 1000 : 0, deleted = 0, count = 0;
    uint64_t bytes = 0;
    st = mast_store_traces_prune(store, before, max_bytes, 0, &deleted);
    if (st == MAST_OK)
        st = mast_store_traces_size(store, &count, &bytes);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail(st);
    if (json)
        cli_print_json(json_pack("{s:I, s:I, s:I}", "deleted", (json_int_t)deleted, "traces",
                                 (json_int_t)count, "bytes", (json_int_t)bytes));
    else
        printf("deleted %lld trace%s; %lld left, %.1f MB\n", (long long)deleted, deleted == 1 ? "" : "s",
               (long long)count, (double)bytes / 1e6);
    return 0;
}

/* mast traces export: the stored traces since a time, in batches, to a collector. */
static int export_traces(const char *db, const char *url, const char *protocol, int64_t since_ms, int json)
{
    if (!url)
        return cli_usage("traces", "export needs --otlp URL (the collector's traces endpoint)");
    mast_otlp o;
    bool enabled;
    if (protocol && strcmp(protocol, "http/protobuf") && strcmp(protocol, "http/json"))
        return cli_usage("traces", "--protocol '%s': mast exports http/protobuf or http/json (not grpc)",
                         protocol);
    mast_status st = mast_otlp_from_env(&o, url, protocol, &enabled);
    if (st != MAST_OK)
        return cli_usage("traces", "%s", mast_errmsg());
    mast_store *store;
    if ((st = cli_open_store_read(db, &store)) != MAST_OK) {
        mast_otlp_free(&o);
        return cli_fail(st);
    }
    char after[33] = "";
    if (since_ms >= 0)   /* ids begin with their time in ms, 12 hex digits */
        snprintf(after, sizeof after, "%012llx", (unsigned long long)((mast_now_us() / 1000 - since_ms) > 0
                                                                     ? mast_now_us() / 1000 - since_ms : 0));
    size_t traces = 0, spans = 0;
    for (;;) {
        json_t *recs;
        if ((st = mast_store_traces_after(store, after, 256, &recs)) != MAST_OK)
            break;
        size_t n = json_array_size(recs), k = 0;
        if (!n) {
            json_decref(recs);
            break;
        }
        mast_buf body = {0};
        long status;
        double retry;
        st = mast_otlp_encode(&o, recs, &body, &k);
        if (st == MAST_OK)
            st = mast_otlp_post(&o, &body, &status, &retry);
        mast_buf_free(&body);
        if (st == MAST_OK) {
            traces += n;
            spans += k;
            snprintf(after, sizeof after, "%s", mast_json_get_str(json_array_get(recs, n - 1), "id", ""));
        }
        json_decref(recs);
        if (st != MAST_OK)
            break;
    }
    mast_store_close(store);
    mast_otlp_free(&o);
    if (st != MAST_OK) {
        fprintf(stderr, "mast: %s (%zu traces had been sent)\n", mast_errmsg(), traces);
        return 1;
    }
    if (json)
        cli_print_json(json_pack("{s:I, s:I, s:s}", "traces", (json_int_t)traces, "spans", (json_int_t)spans,
                                 "endpoint", url));
    else
        printf("exported %zu trace%s (%zu spans) to %s\n", traces, traces == 1 ? "" : "s", spans, url);
    return 0;
}

int cmd_traces(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_OLDER, OPT_MAX_BYTES, OPT_OTLP, OPT_SINCE, OPT_PROTOCOL };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"older-than", required_argument, NULL, OPT_OLDER},
        {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
        {"otlp", required_argument, NULL, OPT_OTLP},
        {"since", required_argument, NULL, OPT_SINCE},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    long limit = 20;
    int json = 0, c;
    double older_s = -1, since_s = -1;
    size_t max_bytes = 0;
    const char *otlp_url = NULL, *protocol = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_int("traces", "-n", optarg, 1, 100000, &limit))
                return EXIT_USAGE;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_OLDER:
            if (mast_parse_duration(optarg, &older_s) != MAST_OK || older_s <= 0)
                return cli_usage("traces", "--older-than wants a duration above 0 such as 30d, 12h or "
                                 "90m (got '%s')", optarg);
            break;
        case OPT_OTLP: otlp_url = optarg; break;
        case OPT_PROTOCOL: protocol = optarg; break;
        case OPT_SINCE:
            if (mast_parse_duration(optarg, &since_s) != MAST_OK || since_s < 0)
                return cli_usage("traces", "--since wants a duration such as 1h or 7d (got '%s')", optarg);
            break;
        case OPT_MAX_BYTES:
            if (cli_parse_bytes("traces", "--max-bytes", optarg, &max_bytes) != 0)
                return EXIT_USAGE;
            break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(traces_help, stdout); return 0;
        default: return cli_bad_option("traces", argv);
        }
    }
    const char *show_id = NULL;
    if (optind < argc && !strcmp(argv[optind], "prune")) {
        if (optind + 1 < argc)
            return cli_usage("traces", "unexpected argument '%s'", argv[optind + 1]);
        return prune(db, older_s >= 0 ? (int64_t)(older_s * 1e3) : -1, max_bytes, json);
    }
    if (optind < argc && !strcmp(argv[optind], "export")) {
        if (optind + 1 < argc)
            return cli_usage("traces", "unexpected argument '%s'", argv[optind + 1]);
        return export_traces(db, otlp_url, protocol, since_s >= 0 ? (int64_t)(since_s * 1e3) : -1, json);
    }
    if (otlp_url || protocol || since_s >= 0)
        return cli_usage("traces", "--otlp, --since and --protocol are export's");
    if (older_s >= 0 || max_bytes)
        return cli_usage("traces", "--older-than and --max-bytes are prune's");
    if (optind < argc) {
        if (strcmp(argv[optind], "show") != 0)
            return cli_usage("traces", "unknown subcommand '%s' (expected 'show ID', 'prune' or 'export')",
                             argv[optind]);
        if (optind + 1 >= argc)
            return cli_usage("traces", "'show' needs a trace ID");
        if (optind + 2 < argc)
            return cli_usage("traces", "unexpected argument '%s'", argv[optind + 2]);
        show_id = argv[optind + 1];
    }
    mast_store *store;
    mast_status st = cli_open_store_read(db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *out = NULL, *last = NULL;
    char last_id[64] = "";
    if (show_id && strcmp(show_id, "last") == 0) {   /* the newest trace */
        st = mast_store_trace_list(store, 1, &last);
        const char *id = st == MAST_OK ? json_string_value(json_object_get(json_array_get(last, 0), "id")) : NULL;
        if (st == MAST_OK && !id)
            st = mast_fail(MAST_ERR_NOT_FOUND, "no traces yet");
        if (id)
            snprintf(last_id, sizeof last_id, "%s", id);
        json_decref(last);
        show_id = last_id;
    }
    if (st == MAST_OK)
        st = show_id ? mast_store_trace_get(store, show_id, &out)
                     : mast_store_trace_list(store, (int)limit, &out);
    mast_store_close(store);
    if (st != MAST_OK)
        return cli_fail_arg(st);   /* an ID that is not hex is a bad argument */
    if (json) {
        cli_print_json(out);
        return 0;
    }
    if (show_id) {
        char when[32];
        cli_format_time(json_integer_value(json_object_get(out, "start_us")) / 1000000, when, sizeof when);
        printf("trace %s  %s  %.2f ms  %s\n", json_string_value(json_object_get(out, "id")),
               when, (double)json_integer_value(json_object_get(out, "duration_us")) / 1000.0,
               json_string_value(json_object_get(out, "status")));
        print_span(json_object_get(out, "spans"), -1, 0);
    } else {
        print_list(out);
    }
    json_decref(out);
    return 0;
}
