/*
** cli/quantize.c — `mast quantize IN.gguf OUT.gguf TYPE`.
*/
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"
#include "model/quantize.h"

static const char quantize_help[] =
    "Usage: mast quantize IN.gguf OUT.gguf TYPE [--threads N]\n"
    "\n"
    "Writes a copy of a GGUF model with its 2-D weights converted to TYPE:\n"
    "  q8_0     8-bit, blocks of 32\n"
    "  q4_0     4-bit, blocks of 32\n"
    "  q4_k_m   llama.cpp's Q4_K_M mix: Q4_K, with Q6_K for output.weight and for about\n"
    "           half of the attn_v / ffn_down tensors\n"
    "  q6_k     6-bit K-quant\n"
    "  f16      half precision\n"
    "1-D tensors (norms, biases) stay as they are. A tensor whose rows do not fit the type's\n"
    "block falls back (Q4_K -> Q5_0, Q6_K -> Q8_0, else F16), as llama.cpp does.\n"
    "The output is written to a temporary file and renamed into place.\n"
    "\n"
    "Options:\n"
    "  -t, --threads N         threads (default: number of CPUs)\n"
    "  -h, --help              this help\n";

int cmd_quantize(int argc, char **argv)
{
    static const struct option options[] = {
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long threads = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "t:h", options, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!cli_parse_int("quantize", "--threads", optarg, 1, 1024, &threads))
                return EXIT_USAGE;
            break;
        case 'h': fputs(quantize_help, stdout); return 0;
        default: return cli_bad_option("quantize", argv);
        }
    }
    if (argc - optind != 3)
        return cli_usage("quantize", "expected IN.gguf OUT.gguf TYPE");
    const char *in_path = argv[optind], *out_path = argv[optind + 1], *type = argv[optind + 2];
    static const char *const types[] = {"q8_0", "q4_0", "q4_k_m", "q6_k", "f16"};
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        known |= strcmp(type, types[i]) == 0;
    if (!known)
        return cli_usage("quantize", "unknown TYPE '%s' (q8_0, q4_0, q4_k_m, q6_k, f16)", type);
    if (strcmp(in_path, out_path) == 0)
        return cli_usage("quantize", "IN and OUT must be different files");
    mast_gguf *g;
    mast_status st = mast_gguf_open(&g, in_path);
    if (st != MAST_OK)
        return cli_fail(st);
    mast_pool *pool = NULL;
    st = mast_pool_create(&pool, (int)threads);
    mast_quantize_stats s;
    int64_t t0 = mast_mono_us();
    if (st == MAST_OK)
        st = mast_quantize_model(g, out_path, type, pool, &s);
    mast_pool_free(pool);
    mast_gguf_close(g);
    if (st != MAST_OK)
        return cli_fail(st);
    fprintf(stderr, "quantized %s -> %s (%s): %zu tensors converted, %zu kept; %.2f MB -> %.2f MB "
            "in %.2f s\n", in_path, out_path, type, s.n_quantized, s.n_kept,
            (double)s.bytes_in / 1e6, (double)s.bytes_out / 1e6,
            (double)(mast_mono_us() - t0) / 1e6);
    return 0;
}
