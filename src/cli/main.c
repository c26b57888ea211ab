/*
** cli/main.c — the `mast` command: global help, version, dispatch.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"

static const char usage[] =
    "mast — the modern AI stack in one command\n"
    "\n"
    "Usage: mast COMMAND [OPTIONS]\n"
    "\n"
    "Data\n"
    "  ingest PATH...        ingest files and folders (PDF, HTML, Office, e-mail, man pages,\n"
    "                        CSV, JSON Lines, Markdown, text; archives) into a collection\n"
    "  collections           list collections with their document and chunk counts\n"
    "  collection create|show|delete N   make, describe or delete a collection (--embed MODEL\n"
    "                        gives it dense retrieval, --dim N takes the documents' own vectors)\n"
    "  documents list|show|delete   list a collection's documents, show one with its chunks,\n"
    "                        delete some\n"
    "  dedup report          a collection's clusters of near-duplicate documents\n"
    "  quality               what makes a collection's documents bad for retrieval: empty,\n"
    "                        garbled, re-encoded, duplicated, badly chunked; languages\n"
    "  search \"QUERY\"        search a collection (BM25, dense or hybrid), print ranked passages\n"
    "  ask \"QUESTION\"        answer from the best passages, with [n] citations\n"
    "  index info|rebuild|optimize  a collection's index files: describe, rebuild, merge\n"
    "  vindex build|search   vector indexes (HNSW, exact) over raw .fvecs vectors\n"
    "\n"
    "Serving and observability\n"
    "  config check FILE     validate a gateway configuration (mast.yaml), secrets masked\n"
    "  keys create|list|revoke  virtual API keys for the server, with models, limits, budgets\n"
    "  usage                 what the gateway's requests used and cost, per key, model, day\n"
    "  prompt create|update|get|list|label|history|diff  versioned prompts with labels\n"
    "  serve                 serve the HTTP API (search, ask, collections, traces)\n"
    "  traces                list recent traces; 'traces show ID' prints one as a span tree\n"
    "  eval --beir DIR       measure retrieval quality on a BEIR-format test collection\n"
    "\n"
    "Models\n"
    "  pull URL              download a GGUF model into the models folder (resumable, checked)\n"
    "  models list|show|rm   the models folder's models (mast run -m NAME finds them there)\n"
    "  gguf info FILE        validate a GGUF model file and print its metadata and tensors\n"
    "  tokenize -m FILE TEXT tokenize text with a model's tokenizer\n"
    "  quantize IN OUT TYPE  convert a model's weights (q8_0, q4_0, q4_k_m, q6_k, f16)\n"
    "  run -m MODEL -p TEXT  continue a prompt with a local Llama-family GGUF model\n"
    "  chat -m MODEL         chat with a local model in its chat template\n"
    "  template render       a chat template's rendering of a conversation (debugging)\n"
    "  embed -m MODEL TEXT   embedding vectors from a BERT-family or static-vector model\n"
    "  import-vectors JSON   convert pretrained word vectors into a static embedding model\n"
    "\n"
    "Other\n"
    "  version               print the version\n"
    "  help [COMMAND]        this text, or a command's help (same as COMMAND --help)\n"
    "\n"
    "Every command keeps its data in one store: a SQLite file (--db PATH, else $MAST_DB, else\n"
    "./mast.db) and the folder of its derived index files beside it (mast.db.idx/).\n"
    "Logging: MAST_LOG=error|warn|info|debug (default warn).\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"ingest", cmd_ingest}, {"collections", cmd_collections}, {"collection", cmd_collection}, {"documents", cmd_documents},
    {"dedup", cmd_dedup},   {"quality", cmd_quality}, {"search", cmd_search},
    {"ask", cmd_ask},       {"serve", cmd_serve},             {"traces", cmd_traces},
    {"eval", cmd_eval},     {"gguf", cmd_gguf},               {"tokenize", cmd_tokenize},
    {"quantize", cmd_quantize},     {"embed", cmd_embed},
    {"import-vectors", cmd_import_vectors}, {"vindex", cmd_vindex}, {"index", cmd_index},
    {"run", cmd_run},       {"chat", cmd_chat},               {"template", cmd_template},
    {"config", cmd_config},           {"keys", cmd_keys},               {"usage", cmd_usage},
    {"prompt", cmd_prompt}, {"pull", cmd_pull}, {"models", cmd_models},
};

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void set_log_level(void)
{
    const char *env = getenv("MAST_LOG");
    if (!env)
        return;
    if (strcmp(env, "error") == 0)
        mast_log_set_level(MAST_LOG_ERROR);
    else if (strcmp(env, "info") == 0)
        mast_log_set_level(MAST_LOG_INFO);
    else if (strcmp(env, "debug") == 0)
        mast_log_set_level(MAST_LOG_DEBUG);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    set_log_level();
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc > 2 && find(argv[2])) {
            char *args[] = {argv[2], "--help", NULL};
            return find(argv[2])->run(2, args);
        }
        if (argc > 2) {
            fprintf(stderr, "mast: unknown command '%s'\nTry 'mast --help'.\n", argv[2]);
            return EXIT_USAGE;
        }
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("mast %s\n", mast_version());
        return 0;
    }
    const command *cmd = find(name);
    if (!cmd) {
        fprintf(stderr, "mast: unknown command '%s'\nTry 'mast --help'.\n", name);
        return EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
