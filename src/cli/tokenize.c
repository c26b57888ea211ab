/*
** cli/tokenize.c — `mast tokenize -m FILE "TEXT"`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mmap.h"
#include "cli/cli.h"
#include "model/tokenizer.h"

static const char tokenize_help[] =
    "Usage: mast tokenize -m FILE [\"TEXT\"] [options]\n"
    "\n"
    "Tokenizes text with the tokenizer of a GGUF model (SentencePiece, byte-level BPE or\n"
    "WordPiece, from tokenizer.ggml.model), as llama.cpp does. BOS/EOS (or [CLS]/[SEP]) are\n"
    "added as the model's metadata says. Without TEXT, the text is read from --file or from\n"
    "standard input. By default prints one line per token: id and piece.\n"
    "\n"
    "Options:\n"
    "  -m, --model FILE        the GGUF model or vocabulary file (required)\n"
    "      --file PATH         read the text from PATH\n"
    "      --ids               print only the ids, on one line separated by spaces\n"
    "      --json              print {\"ids\": [...], \"pieces\": [...]}\n"
    "      --no-bos            add no BOS/EOS (or [CLS]/[SEP])\n"
    "      --parse-special     map special-token text such as <s> to its id\n"
    "  -h, --help              this help\n";

int cmd_tokenize(int argc, char **argv)
{
    enum { OPT_FILE = 256, OPT_IDS, OPT_JSON, OPT_NO_BOS, OPT_PARSE_SPECIAL };
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, OPT_FILE},
        {"ids", no_argument, NULL, OPT_IDS},
        {"json", no_argument, NULL, OPT_JSON},
        {"no-bos", no_argument, NULL, OPT_NO_BOS},
        {"parse-special", no_argument, NULL, OPT_PARSE_SPECIAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *file = NULL;
    int ids_only = 0, json = 0, add_special = 1, parse_special = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_IDS: ids_only = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_NO_BOS: add_special = 0; break;
        case OPT_PARSE_SPECIAL: parse_special = 1; break;
        case 'h': fputs(tokenize_help, stdout); return 0;
        default: return cli_bad_option("tokenize", argv);
        }
    }
    if (!model)
        return cli_usage("tokenize", "-m FILE is required");
    if (optind + 1 < argc)
        return cli_usage("tokenize", "unexpected argument '%s' (quote the text)", argv[optind + 1]);
    if (optind < argc && file)
        return cli_usage("tokenize", "give TEXT or --file, not both");
    char *text = NULL;
    size_t len = 0;
    mast_status st = MAST_OK;
    if (optind < argc) {
        text = strdup(argv[optind]);
        len = strlen(argv[optind]);
    } else {
        st = mast_read_file(file ? file : "/dev/stdin", (size_t)1 << 30, &text, &len);
    }
    if (st != MAST_OK)
        return cli_fail(st);
    mast_gguf *g = NULL;
    mast_tokenizer *t = NULL;
    mast_tokens ids = {0};
    st = mast_gguf_open(&g, model);
    if (st == MAST_OK)
        st = mast_tokenizer_load(&t, g);
    mast_gguf_close(g);
    if (st == MAST_OK)
        st = mast_tokenize(t, text, len, add_special, parse_special, &ids);
    free(text);
    if (st != MAST_OK) {
        mast_tokenizer_free(t);
        return cli_fail(st);
    }
    mast_buf piece = {0};
    if (ids_only) {
        for (size_t i = 0; i < ids.n; i++)
            printf(i ? " %d" : "%d", ids.ids[i]);
        printf("\n");
    } else if (json) {
        json_t *arr = json_array(), *pieces = json_array();
        for (size_t i = 0; i < ids.n; i++) {
            mast_buf_clear(&piece);
            mast_token_to_piece(t, ids.ids[i], true, &piece);
            json_array_append_new(arr, json_integer(ids.ids[i]));
            json_array_append_new(pieces, mast_json_string_lossy(mast_buf_cstr(&piece)));
        }
        cli_print_json(json_pack("{s:o, s:o}", "ids", arr, "pieces", pieces));
    } else {
        for (size_t i = 0; i < ids.n; i++) {
            mast_buf_clear(&piece);
            mast_token_to_piece(t, ids.ids[i], true, &piece);
            json_t *s = mast_json_string_lossy(mast_buf_cstr(&piece));
            char *quoted = json_dumps(s, JSON_ENCODE_ANY);
            printf("%6d  %s\n", ids.ids[i], quoted ? quoted : "?");
            free(quoted);
            json_decref(s);
        }
    }
    mast_buf_free(&piece);
    mast_tokens_free(&ids);
    mast_tokenizer_free(t);
    return 0;
}
