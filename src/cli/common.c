/*
** cli/common.c — helpers shared by the subcommands (see cli.h).
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/mmap.h"
#include "base/status.h"
#include "cli/cli.h"
#include "data/store_traces.h"
#include "deploy/routed.h"

int cli_fail(mast_status st)
{
    const char *msg = mast_errmsg();
    fprintf(stderr, "mast: %s\n", msg && *msg ? msg : mast_strerror(st));
    return 1;
}

int cli_fail_arg(mast_status st)
{
    cli_fail(st);
    return st == MAST_ERR_INVALID ? EXIT_USAGE : 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mast %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'mast %s --help'.\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_bad_option(const char *cmd, char **argv)
{
    const char *arg = argv[optind - 1];
    /* getopt reports a missing value only for the last argument */
    if (optopt && strchr("ckn", optopt) && arg && arg[0] == '-' && arg[1] == optopt && !arg[2] &&
        !argv[optind])
        return cli_usage(cmd, "option '%s' needs a value", arg);
    return cli_usage(cmd, "unknown option or missing value: '%s'", arg ? arg : "?");
}

mast_status cli_open_store(const char *db_flag, mast_store **out)
{
    return mast_store_open(out, mast_store_default_path(db_flag));
}

mast_status cli_open_store_read(const char *db_flag, mast_store **out)
{
    return mast_store_open_existing(out, mast_store_default_path(db_flag));
}

void cli_finish_trace(mast_store *store, mast_trace *trace, mast_status st)
{
    if (!trace)
        return;
    mast_trace_end(trace, st);
    if (store && mast_store_readonly(store))
        fprintf(stderr, "mast: note: %s is read-only: this command's trace is not saved\n",
                mast_store_path(store));
    else if (store && mast_store_trace_save(store, trace) != MAST_OK)
        mast_warn("cannot save the trace: %s", mast_errmsg());
    mast_trace_free(trace);
}

void cli_print_json(json_t *value)
{
    mast_buf b = {0};
    if (mast_json_dump(value, 1, &b) == MAST_OK)
        printf("%s\n", mast_buf_cstr(&b));
    mast_buf_free(&b);
    json_decref(value);
}

int cli_parse_bytes(const char *cmd, const char *opt, const char *text, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit = 1;
    if (*end == 'k' || *end == 'K')
        unit = 1024.0;
    else if (*end == 'm' || *end == 'M')
        unit = 1024.0 * 1024;
    else if (*end == 'g' || *end == 'G')
        unit = 1024.0 * 1024 * 1024;
    if (unit > 1)
        end++;
    if (end != text && (*end == 'b' || *end == 'B') && end[1] == '\0')
        end++;
    if (errno || end == text || *end || !(v > 0) || v * unit > 1e18)
        return cli_usage(cmd, "%s wants a size such as 512M or 2G (got '%s')", opt, text);
    *out = (size_t)(v * unit);
    return 0;
}

int cli_kv_type(const char *cmd, const char *text, mast_dtype *out)
{
    if (!strcmp(text, "f16"))
        *out = MAST_F16;
    else if (!strcmp(text, "f32"))
        *out = MAST_F32;
    else if (!strcmp(text, "q8_0"))
        *out = MAST_Q8_0;
    else
        return cli_usage(cmd, "--kv-type must be f16, f32 or q8_0 (got '%s')", text);
    return 0;
}

int cli_parse_int(const char *cmd, const char *opt, const char *text, long min, long max,
                  long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        cli_usage(cmd, "%s must be an integer from %ld to %ld (got '%s')", opt, min, max, text);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_double(const char *cmd, const char *opt, const char *text, double min, double max,
                        double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max)) {
        cli_usage(cmd, "%s must be a number from %g to %g (got '%s')", opt, min, max, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_fusion_option(const char *cmd, int c, const char *arg, mast_fusion *f,
                      double *title_weight)
{
    int v;
    switch (c) {
    case CLI_OPT_FUSION:
        if ((v = mast_fusion_method_parse(arg)) < 0) {
            cli_usage(cmd, "--fusion must be rrf or convex (got '%s')", arg);
            return -1;
        }
        f->method = (mast_fusion_method)v;
        return 1;
    case CLI_OPT_NORM:
        if ((v = mast_fusion_norm_parse(arg)) < 0) {
            cli_usage(cmd, "--normalize must be minmax or zscore (got '%s')", arg);
            return -1;
        }
        f->norm = (mast_fusion_norm)v;
        return 1;
    case CLI_OPT_ALPHA: return parse_double(cmd, "--alpha", arg, 0, 1, &f->alpha) ? 1 : -1;
    case CLI_OPT_RRF_K: return parse_double(cmd, "--rrf-k", arg, 1e-9, 1e9, &f->rrf_k) ? 1 : -1;
    case CLI_OPT_TITLE_WEIGHT:
        return parse_double(cmd, "--title-weight", arg, 0.001, 1000, title_weight) ? 1 : -1;
    default: return 0;
    }
}

void cli_print_index_files(json_t *idx)
{
    json_t *t = json_object_get(idx, "text"), *v = json_object_get(idx, "vectors");
    if (json_is_object(t))
        printf("text index   %s\n             %lld segments, %lld chunks, %lld deleted, %lld "
               "postings, %lld bytes; reflects data version %lld\n",
               mast_json_get_str(t, "file", ""), (long long)mast_json_get_int(t, "segments", 0),
               (long long)mast_json_get_int(t, "chunks", 0),
               (long long)mast_json_get_int(t, "deleted", 0),
               (long long)mast_json_get_int(t, "postings", 0),
               (long long)mast_json_get_int(t, "bytes", 0),
               (long long)mast_json_get_int(t, "data_version", 0));
    else
        printf("text index   none yet (built at the next search)\n");
    if (json_is_object(v))
        printf("vector index %s\n             %s, %s, %lld dimensions, %lld vectors, %lld "
               "deleted, %lld bytes in memory; reflects data version %lld\n",
               mast_json_get_str(v, "file", ""), mast_json_get_str(v, "type", ""),
               mast_json_get_str(v, "metric", ""), (long long)mast_json_get_int(v, "dim", 0),
               (long long)mast_json_get_int(v, "vectors", 0),
               (long long)mast_json_get_int(v, "deleted", 0),
               (long long)mast_json_get_int(v, "memory_bytes", 0),
               (long long)mast_json_get_int(v, "data_version", 0));
    else
        printf("vector index none (no vectors)\n");
}

const char *cli_format_time(int64_t unix_seconds, char *out, size_t n)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
    return out;
}

mast_status cli_open_generator(const char *model, const char *config, const mast_local_opts *o,
                               mast_generator **out, bool *gateway)
{
    const char *path = mast_config_path(config);
    *gateway = false;
    if (path) {
        mast_status st = mast_routed_generator_open(path, model, o, out);
        /* a model the file does not name may still be a GGUF file */
        if (st != MAST_ERR_NOT_FOUND || access(model, R_OK) != 0) {
            *gateway = st == MAST_OK;
            return st;
        }
    }
    const char *file = cli_model_path(model);
    MAST_TRY(cli_model_exists(file));
    return mast_local_generator_open(file, o, out);
}

mast_status cli_read_template(const char *path, char **out)
{
    size_t len;
    *out = NULL;
    mast_status st = mast_read_file(path, 1 << 20, out, &len);
    if (st == MAST_OK && memchr(*out, 0, len))
        st = mast_fail(MAST_ERR_FORMAT, "%s: a chat template is text; this file has NUL bytes", path);
    if (st != MAST_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}
