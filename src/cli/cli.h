/*
** cli/cli.h — helpers shared by the `mast` subcommands.
**
** Exit codes: 0 success, 1 failure, 2 usage error: an unknown command or
** option, a missing argument, or a bad argument value (a number out of range,
** an invalid name, an unknown language) whether the CLI or the library finds
** it. Errors print as
** "mast: <what failed>: <why>" on stderr.
*/
#ifndef MAST_CLI_H
#define MAST_CLI_H

#include <getopt.h>
#include <jansson.h>

#include "data/retrieve.h"
#include "data/store.h"
#include "model/generate.h"
#include "observe/trace.h"

#define EXIT_USAGE 2
#define DEFAULT_COLLECTION "default"

/* Prints "mast: <mast_errmsg()>" (or the strerror of st) and returns 1. */
int cli_fail(mast_status st);
/* As cli_fail, for a call whose MAST_ERR_INVALID means a bad argument value
** (a collection name, a language, a filter): returns 2 for it, else 1. */
int cli_fail_arg(mast_status st);
/* Prints "mast <cmd>: <message>" and a pointer to --help; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports the getopt error for the option at argv[optind - 1]. */
int cli_bad_option(const char *cmd, char **argv);

/* Opens the store named by --db / $MAST_DB / ./mast.db (created if needed). */
mast_status cli_open_store(const char *db_flag, mast_store **out);
/* The same for reading commands: an existing store only, read-only when it
** cannot be written (see mast_store_open_existing). */
mast_status cli_open_store_read(const char *db_flag, mast_store **out);

/* Ends the trace, saves it (a failure to save is a warning) and frees it. */
void cli_finish_trace(mast_store *store, mast_trace *trace, mast_status st);

/* "YYYY-MM-DD HH:MM:SS" in local time into out; returns out. */
const char *cli_format_time(int64_t unix_seconds, char *out, size_t n);

/* Prints a collection's index files (mast_api_index's object) as text. */
void cli_print_index_files(json_t *idx);

/* Reads a chat template file (--chat-template-file) into *out (malloc'ed,
** NUL-terminated). */
mast_status cli_read_template(const char *path, char **out);

/* -m/--model: a model of the gateway configuration (config, else
** $MAST_CONFIG) when one is given and names it (*gateway = true), else a
** GGUF file opened with o. */
mast_status cli_open_generator(const char *model, const char *config, const mast_local_opts *o,
                               mast_generator **out, bool *gateway);

/* A model argument (-m): the file itself, or else a name in the models folder
** (mast pull's), or else as given (the open fails naming it). */
const char *cli_model_path(const char *arg);
/* MAST_OK when the model argument (after cli_model_path) exists; else
** MAST_ERR_NOT_FOUND saying where mast looked. */
mast_status cli_model_exists(const char *arg);

/* Prints JSON to stdout, indented, with a newline; takes ownership. */
void cli_print_json(json_t *value);

/* Parses a positive integer option; on error prints usage and returns 0. */
/* A size in bytes: a number with an optional K, M or G (powers of 1024); 0, or
** EXIT_USAGE after the usage error. */
int cli_parse_bytes(const char *cmd, const char *opt, const char *text, size_t *out);
/* --kv-type's f16, f32 or q8_0; 0, or EXIT_USAGE after the usage error. */
int cli_kv_type(const char *cmd, const char *text, mast_dtype *out);
int cli_parse_int(const char *cmd, const char *opt, const char *text, long min, long max,
                  long *out);

/* The ranking options shared by search and eval: hybrid fusion, title weight. */
enum { CLI_OPT_FUSION = 1000, CLI_OPT_ALPHA, CLI_OPT_RRF_K, CLI_OPT_NORM, CLI_OPT_TITLE_WEIGHT };
#define CLI_FUSION_OPTIONS                                                            \
    {"fusion", required_argument, NULL, CLI_OPT_FUSION},                              \
        {"title-weight", required_argument, NULL, CLI_OPT_TITLE_WEIGHT},              \
        {"alpha", required_argument, NULL, CLI_OPT_ALPHA},                            \
        {"rrf-k", required_argument, NULL, CLI_OPT_RRF_K},                            \
        {"normalize", required_argument, NULL, CLI_OPT_NORM}
#define CLI_FUSION_HELP                                                                        \
    "      --fusion rrf|convex hybrid fusion (default rrf): reciprocal rank, or a weighted\n"   \
    "                          sum of each list's normalized scores\n"                          \
    "      --alpha A           convex: the dense list's weight, 0..1 (default 0.5; 1 = dense\n" \
    "                          alone, 0 = BM25 alone)\n"                                        \
    "      --normalize minmax|zscore  convex: how each list's scores are normalized\n"          \
    "      --rrf-k K           rrf: score = sum of 1 / (K + rank) (default 60)\n"          \
    "      --title-weight W    BM25: weight of the title and headings against the body\n"   \
    "                          (BM25F; default 2; 1 = the chunk as one text)\n"
/* Handles c if it is one of them: 1 done, 0 not one of them, -1 a usage error (printed). */
int cli_fusion_option(const char *cmd, int c, const char *arg, mast_fusion *f,
                      double *title_weight);

int cmd_ingest(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_traces(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_collections(int argc, char **argv);
int cmd_collection(int argc, char **argv);
int cmd_documents(int argc, char **argv);
int cmd_dedup(int argc, char **argv);
int cmd_quality(int argc, char **argv);
int cmd_gguf(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_import_vectors(int argc, char **argv);
int cmd_vindex(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_usage(int argc, char **argv);
int cmd_prompt(int argc, char **argv);

#endif
