/*
** bench/bench_template.c — what rendering a chat template costs per request:
** every shared template (../shared/data/templates) parsed once, then each of
** its conversations rendered R times; prints one JSON line per template with
** the parse time and the mean microseconds per rendering, and a total.
**   bench_template TEMPLATES_DIR [R]
** bench/template/run.sh runs it beside the reference engine (Python jinja2,
** configured as transformers configures it) on the same pairs.
*/
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/mmap.h"
#include "model/jinja.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_template TEMPLATES_DIR [R]\n");
        return 2;
    }
    const char *dir = argv[1];
    int reps = argc > 2 ? atoi(argv[2]) : 200;
    char path[4096];
    snprintf(path, sizeof path, "%s/conversations.json", dir);
    json_t *convs = json_load_file(path, 0, NULL);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *expected = json_load_file(path, 0, NULL);
    if (!convs || !expected) {
        fprintf(stderr, "bench_template: %s has no conversations.json/expected.json\n", dir);
        return 1;
    }
    static const struct tm fixed = {.tm_year = 126, .tm_mday = 15, .tm_hour = 9, .tm_min = 30};
    mast_jinja_opts o = {&fixed};
    const char *file;
    json_t *cases;
    char *names[256];
    size_t n_names = 0;
    json_object_foreach(expected, file, cases)
        if (n_names < 256)
            names[n_names++] = (char *)file;
    qsort(names, n_names, sizeof *names, by_name);
    double total_render = 0;
    long total_pairs = 0;
    for (size_t f = 0; f < n_names; f++) {
        cases = json_object_get(expected, names[f]);
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        char *src;
        size_t len;
        if (mast_read_file(path, 1 << 20, &src, &len) != MAST_OK)
            continue;
        mast_jinja *t = NULL;
        double t0 = now();
        mast_status st = mast_jinja_parse(src, len, names[f], &t);
        double parse = now() - t0;
        free(src);
        if (st != MAST_OK)
            continue;
        double render = 0;
        int pairs = 0;
        size_t i;
        json_t *conv;
        json_array_foreach(convs, i, conv) {
            json_t *want = json_object_get(cases, json_string_value(json_object_get(conv, "name")));
            if (!json_object_get(want, "text"))
                continue;   /* the pairs that render */
            json_t *vars = json_deep_copy(json_object_get(conv, "variables"));
            json_object_set(vars, "messages", json_object_get(conv, "messages"));
            json_object_set(vars, "add_generation_prompt", json_object_get(conv, "add_generation_prompt"));
            if (json_object_get(conv, "tools"))
                json_object_set(vars, "tools", json_object_get(conv, "tools"));
            mast_buf out = {0};
            t0 = now();
            for (int r = 0; r < reps; r++) {
                out.len = 0;
                mast_jinja_render(t, vars, &o, &out);
            }
            render += (now() - t0) / reps;
            pairs++;
            mast_buf_free(&out);
            json_decref(vars);
        }
        mast_jinja_free(t);
        if (pairs)
            printf("{\"template\": \"%s\", \"parse_us\": %.1f, \"render_us\": %.2f, \"pairs\": %d}\n",
                   names[f], parse * 1e6, render / pairs * 1e6, pairs);
        total_render += render;
        total_pairs += pairs;
    }
    printf("{\"total\": true, \"pairs\": %ld, \"mean_render_us\": %.2f}\n", total_pairs,
           total_pairs ? total_render / (double)total_pairs * 1e6 : 0);
    json_decref(convs);
    json_decref(expected);
    return 0;
}
