/*
** cli/gguf.c — `mast gguf info FILE [--json]`.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"
#include "base/json.h"
#include "cli/cli.h"
#include "model/gguf.h"
#include "model/quant.h"
#include "model/synth.h"

static const char gguf_help[] =
    "Usage: mast gguf info FILE [--json]\n"
    "       mast gguf synth --arch llama|bert [shape options] [--type T] -o FILE\n"
    "\n"
    "synth writes a random-weight model (fixed seed) of the given architecture and shape, for\n"
    "benchmarks and tests: --n-embd N --n-layer N --n-head N --n-head-kv N --n-ff N\n"
    "--n-vocab N --ctx N (small defaults), --type f32|f16|q8_0|q4_0|q4_K|q6_K|... (default\n"
    "f32) for the 2-D weights, --seed N (default 42), --vocab FILE to copy a real tokenizer,\n"
    "--chat-template FILE to give it that Jinja chat template (tokenizer.chat_template).\n"
    "\n"
    "Prints a GGUF file's metadata (long arrays abbreviated) and its tensor table (name,\n"
    "type, shape, bytes). The file is fully validated first: a truncated or corrupt file is\n"
    "reported with what is wrong.\n"
    "\n"
    "Options:\n"
    "      --json              print {\"version\", \"alignment\", \"metadata\": {...},\n"
    "                          \"tensors\": [{name, type, shape, bytes, offset}]}\n"
    "  -h, --help              this help\n";

#define MAX_SHOWN 8

static json_t *scalar_json(mast_gguf_type t, const uint8_t *p)
{
    switch (t) {
    case MAST_GGUF_UINT8: return json_integer(p[0]);
    case MAST_GGUF_INT8: return json_integer((int8_t)p[0]);
    case MAST_GGUF_BOOL: return json_boolean(p[0]);
    case MAST_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case MAST_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case MAST_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case MAST_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case MAST_GGUF_FLOAT32: { float v; memcpy(&v, p, 4); return json_real(v); }
    case MAST_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); return json_integer((json_int_t)v); }
    case MAST_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); return json_integer(v); }
    case MAST_GGUF_FLOAT64: { double v; memcpy(&v, p, 8); return json_real(v); }
    default: return json_null();
    }
}

static size_t elem_size(mast_gguf_type t)
{
    switch (t) {
    case MAST_GGUF_UINT8: case MAST_GGUF_INT8: case MAST_GGUF_BOOL: return 1;
    case MAST_GGUF_UINT16: case MAST_GGUF_INT16: return 2;
    case MAST_GGUF_UINT32: case MAST_GGUF_INT32: case MAST_GGUF_FLOAT32: return 4;
    case MAST_GGUF_UINT64: case MAST_GGUF_INT64: case MAST_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static json_t *string_json(mast_gguf_str s)
{
    char *copy = strndup(s.data, s.len);
    json_t *v = mast_json_string_lossy(copy ? copy : "");
    free(copy);
    return v;
}

/* The value as JSON; arrays longer than `limit` keep their first elements. */
static json_t *value_json(const mast_gguf_kv *kv, size_t limit)
{
    if (kv->type == MAST_GGUF_STRING)
        return string_json(kv->v.s);
    if (kv->type != MAST_GGUF_ARRAY)
        return scalar_json(kv->type, kv->raw);
    json_t *arr = json_array();
    size_t n = kv->arr_n < limit ? (size_t)kv->arr_n : limit;
    for (size_t i = 0; i < n; i++) {
        if (kv->arr_type == MAST_GGUF_STRING) {
            char buf[512];
            size_t len = kv->arr_strs[i].len < sizeof buf - 1 ? kv->arr_strs[i].len : sizeof buf - 1;
            memcpy(buf, kv->arr_strs[i].data, len);
            buf[len] = '\0';
            json_array_append_new(arr, mast_json_string_lossy(buf));
        } else if (elem_size(kv->arr_type)) {
            json_array_append_new(arr, scalar_json(kv->arr_type,
                                                   kv->arr_data + i * elem_size(kv->arr_type)));
        }
    }
    return arr;
}


static void print_text(const mast_gguf *g)
{
    printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %zu\n", g->path, g->version,
           g->n_kv, g->n_tensors, g->alignment);
    for (size_t i = 0; i < g->n_kv; i++) {
        const mast_gguf_kv *kv = &g->kv[i];
        printf("  %-44.*s ", (int)kv->key.len, kv->key.data);
        if (kv->type == MAST_GGUF_STRING) {
            size_t n = mast_utf8_truncate(kv->v.s.data, kv->v.s.len, 100);   /* whole characters */
            printf("str  \"%.*s\"%s\n", (int)n, kv->v.s.data, kv->v.s.len > n ? "..." : "");
            continue;
        }
        if (kv->type == MAST_GGUF_ARRAY)
            printf("arr[%s] of %" PRIu64 ": ", mast_gguf_type_name(kv->arr_type), kv->arr_n);
        else
            printf("%-4s ", mast_gguf_type_name(kv->type));
        json_t *v = value_json(kv, MAX_SHOWN);
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        printf("%s%s\n", text ? text : "?",
               kv->type == MAST_GGUF_ARRAY && kv->arr_n > MAX_SHOWN ? " ..." : "");
        free(text);
        json_decref(v);
    }
    if (g->n_tensors)
        printf("\n  %-40s %-6s %-24s %12s\n", "tensor", "type", "shape", "bytes");
    size_t total = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const mast_tensor_info *t = &g->tensors[i];
        char shape[64] = "";
        for (uint32_t d = 0; d < t->n_dims; d++) {
            char part[24];
            snprintf(part, sizeof part, d ? " x %lld" : "%lld", (long long)t->ne[d]);
            strncat(shape, part, sizeof shape - strlen(shape) - 1);
        }
        printf("  %-40s %-6s %-24s %12zu\n", t->name, mast_dtype_get(t->type)->name, shape,
               t->nbytes);
        total += t->nbytes;
    }
    if (g->n_tensors)
        printf("  %zu tensors, %.2f MB of weights\n", g->n_tensors, (double)total / 1e6);
}

static int gguf_info(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'h': fputs(gguf_help, stdout); return 0;
        default: return cli_bad_option("gguf", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage("gguf", "'info' needs exactly one FILE");
    mast_gguf *g;
    mast_status st = mast_gguf_open(&g, argv[optind]);
    if (st != MAST_OK)
        return cli_fail(st);
    if (json) {
        json_t *meta = json_object(), *tensors = json_array();
        for (size_t i = 0; i < g->n_kv; i++) {
            char *key = strndup(g->kv[i].key.data, g->kv[i].key.len);
            json_t *v = g->kv[i].type == MAST_GGUF_STRING ? string_json(g->kv[i].v.s)
                                                          : value_json(&g->kv[i], MAX_SHOWN);
            if (key)
                json_object_set_new(meta, key, v);
            else
                json_decref(v);
            free(key);
        }
        for (size_t i = 0; i < g->n_tensors; i++) {
            const mast_tensor_info *t = &g->tensors[i];
            json_t *shape = json_array();
            for (uint32_t d = 0; d < t->n_dims; d++)
                json_array_append_new(shape, json_integer(t->ne[d]));
            json_array_append_new(tensors, json_pack("{s:s, s:s, s:o, s:I, s:I}", "name", t->name,
                                                     "type", mast_dtype_get(t->type)->name,
                                                     "shape", shape, "bytes",
                                                     (json_int_t)t->nbytes, "offset",
                                                     (json_int_t)t->offset));
        }
        cli_print_json(json_pack("{s:s, s:i, s:I, s:o, s:o}", "file", g->path, "version",
                                 (int)g->version, "alignment", (json_int_t)g->alignment,
                                 "metadata", meta, "tensors", tensors));
    } else {
        print_text(g);
    }
    mast_gguf_close(g);
    return 0;
}

static int parse_type(const char *name, mast_dtype *out)
{
    for (uint32_t t = 0; t < MAST_DTYPE_COUNT; t++) {
        const mast_dtype_info *info = mast_dtype_get(t);
        if (info && strcasecmp(info->name, name) == 0 && mast_quant_supported((mast_dtype)t) &&
            t != MAST_Q8_1 && t != MAST_Q8_K) {
            *out = (mast_dtype)t;
            return 1;
        }
    }
    return 0;
}

static int gguf_synth(int argc, char **argv)
{
    enum { O_ARCH = 256, O_EMBD, O_LAYER, O_HEAD, O_HEAD_KV, O_FF, O_VOCAB_N, O_CTX, O_TYPE, O_SEED,
           O_VOCAB, O_TEMPLATE };
    static const struct option options[] = {
        {"arch", required_argument, NULL, O_ARCH},       {"n-embd", required_argument, NULL, O_EMBD},
        {"n-layer", required_argument, NULL, O_LAYER},   {"n-head", required_argument, NULL, O_HEAD},
        {"n-head-kv", required_argument, NULL, O_HEAD_KV}, {"n-ff", required_argument, NULL, O_FF},
        {"n-vocab", required_argument, NULL, O_VOCAB_N}, {"ctx", required_argument, NULL, O_CTX},
        {"type", required_argument, NULL, O_TYPE},       {"seed", required_argument, NULL, O_SEED},
        {"vocab", required_argument, NULL, O_VOCAB},     {"output", required_argument, NULL, 'o'},
        {"chat-template", required_argument, NULL, O_TEMPLATE},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
    };
    mast_synth_opts o = {.type = MAST_F32};
    char *tmpl = NULL;
    const char *out = NULL;
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        int *field = NULL;
        switch (c) {
        case O_ARCH: o.arch = optarg; break;
        case O_EMBD: field = &o.n_embd; break;
        case O_LAYER: field = &o.n_layer; break;
        case O_HEAD: field = &o.n_head; break;
        case O_HEAD_KV: field = &o.n_head_kv; break;
        case O_FF: field = &o.n_ff; break;
        case O_VOCAB_N: field = &o.n_vocab; break;
        case O_CTX: field = &o.n_ctx; break;
        case O_TYPE:
            if (!parse_type(optarg, &o.type))
                return cli_usage("gguf", "unknown --type '%s'", optarg);
            break;
        case O_SEED:
            if (!cli_parse_int("gguf", "--seed", optarg, 1, 2147483647L, &v))
                return EXIT_USAGE;
            o.seed = (uint64_t)v;
            break;
        case O_VOCAB: o.vocab_path = optarg; break;
        case O_TEMPLATE: {
            free(tmpl);
            mast_status st = cli_read_template(optarg, &tmpl);
            if (st != MAST_OK)
                return cli_fail(st);
            o.chat_template = tmpl;
            break;
        }
        case 'o': out = optarg; break;
        case 'h': fputs(gguf_help, stdout); return 0;
        default: return cli_bad_option("gguf", argv);
        }
        if (field) {
            if (!cli_parse_int("gguf", argv[optind - 2], optarg, 1, 1 << 20, &v))
                return EXIT_USAGE;
            *field = (int)v;
        }
    }
    if (!o.arch) {
        free(tmpl);
        return cli_usage("gguf", "synth needs --arch llama|bert");
    }
    if (!out)
        return cli_usage("gguf", "synth needs -o FILE");
    if (optind < argc)
        return cli_usage("gguf", "unexpected argument '%s'", argv[optind]);
    mast_status st = mast_synth_write(&o, out);
    free(tmpl);
    if (st != MAST_OK)
        return cli_fail(st);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}

int cmd_gguf(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "info") == 0)
        return gguf_info(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "synth") == 0)
        return gguf_synth(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(gguf_help, stdout);
        return 0;
    }
    return cli_usage("gguf", argc >= 2 ? "unknown subcommand (expected info or synth)"
                                       : "expected a subcommand: info FILE | synth ...");
}
