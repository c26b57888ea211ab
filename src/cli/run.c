/*
** cli/run.c — `mast run` (complete a prompt) and `mast chat` (talk with a
** model), both on a local GGUF model.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "model/generate.h"

#define GEN_OPTIONS_HELP                                                                       \
    "  -m, --model FILE|NAME   a GGUF model of the Llama family (llama, qwen2), any weight\n" \
    "                          type (F32, F16, Q8_0, Q4_0, Q4_K_M, ...); or, with a gateway\n" \
    "                          configuration, one of its models: remote or local, routed,\n" \
    "                          retried and fallen back as `mast serve --config` does\n"     \
    "      --config FILE       the gateway configuration (mast.yaml; default $MAST_CONFIG)\n" \
    "  -n N                    tokens to generate at most (default 128)\n"                   \
    "      --temp T            temperature (default 0.8; 0 = greedy, always the likeliest)\n"  \
    "      --top-k K           keep the K likeliest tokens (default 40; 0 = off)\n"          \
    "      --top-p P           keep the likeliest tokens up to probability P (default 0.95)\n" \
    "      --min-p P           drop tokens below P x the likeliest's probability (0.05)\n"   \
    "      --repeat-penalty R  penalize tokens seen in the last --repeat-last-n (1.0 = off)\n" \
    "      --frequency-penalty F, --presence-penalty P   OpenAI-style penalties (0 = off)\n"  \
    "      --repeat-last-n N   tokens of history the penalties look at (default 64)\n"       \
    "      --seed N            random seed (default: from the clock); the same seed, model,\n" \
    "                          prompt and options give the same text\n"                        \
    "      --stop S            stop before the text S (repeatable)\n"                        \
    "  -t, --threads N         threads (default: every CPU)\n"                               \
    "      --ctx N             context size in tokens (default: the model's, at most 4096)\n" \
    "      --kv-type T         KV cache type: f16 (default), f32, or q8_0 (half f16's bytes:\n" \
    "                          faster at long contexts; head sizes a multiple of 32)\n"      \
    "      --ctx-shift         at the context limit, drop the older half of the context and\n" \
    "                          go on (default: stop there, finish reason \"length\")\n"                          \
    "      --chat-format F     chatml, llama2, llama3, mistral, zephyr, phi3, gemma or plain\n" \
    "                          (default: the model's own Jinja chat template; a family\n"   \
    "                          recognised from it when mast cannot run it)\n"              \
    "      --chat-template-file FILE  a Jinja chat template to use instead of the model's\n" \
    "                          (for models that ship none or a broken one)\n"              \
    "      --fast-prompt       on CPUs without AVX-512 VNNI: prompts of 128+ tokens over\n"   \
    "                          quantized weights on the f32 matrix kernel: faster there,\n"    \
    "                          logits no longer llama.cpp's to the last bits (with VNNI the\n" \
    "                          exact int8 kernels are faster and run either way)\n"

static const char run_help[] =
    "Usage: mast run -m MODEL.gguf -p PROMPT [options]\n"
    "       mast run --config mast.yaml -m NAME -p PROMPT [options]\n"
    "\n"
    "Continues PROMPT with a local model, streaming the text to standard output, and prints\n"
    "prompt-processing and generation speed (tokens/s) to standard error. The prompt is\n"
    "used as it is (with the model's BOS token); for an instruction-tuned model, --chat\n"
    "wraps it as a user message in the model's chat template (a gateway model always gets\n"
    "it as a user message).\n"
    "\n"
    "Options:\n"
    "  -p, --prompt TEXT       the prompt (or --file PATH; '-' reads standard input)\n"
    "      --file PATH         read the prompt from a file\n"
    "      --chat              send the prompt as a chat message\n"
    "      --json              print {\"prompt_ids\", \"ids\" (local models), \"text\",\n"
    "                          \"finish_reason\", \"usage\", \"timings\": {\"prompt_tokens_per_s\",\n"
    "                          \"gen_tokens_per_s\"}} instead\n"
    GEN_OPTIONS_HELP
    "  -h, --help              this help\n";

static const char chat_help[] =
    "Usage: mast chat -m MODEL.gguf [options]\n"
    "       mast chat --config mast.yaml -m NAME [options]\n"
    "\n"
    "An interactive chat with a local model in its chat template: type a message and press\n"
    "Enter; the answer streams back. Ctrl-D (end of input) ends the chat. The conversation\n"
    "stays in the model's context, so each turn only processes the new text.\n"
    "\n"
    "Options:\n"
    "      --system TEXT       a system message first\n"
    GEN_OPTIONS_HELP
    "  -h, --help              this help\n";

typedef struct gen_args {
    const char *model, *prompt, *file, *system, *config;
    mast_gen_params p;
    mast_local_opts o;
    const char *stops[16];
    size_t n_stops;
    int json, chat, seeded;
    char *template_text;         /* --chat-template-file's */
} gen_args;

enum {
    OPT_TEMP = 300, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT, OPT_FREQ, OPT_PRES, OPT_LAST_N,
    OPT_SEED, OPT_STOP, OPT_CTX, OPT_KV, OPT_SHIFT, OPT_FORMAT, OPT_JSON, OPT_CHAT, OPT_FILE,
    OPT_SYSTEM, OPT_FAST, OPT_TEMPLATE, OPT_CONFIG
};

static int parse_float(const char *cmd, const char *opt, const char *text, double min, double max,
                       float *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= min && v <= max)) {
        cli_usage(cmd, "%s must be a number from %g to %g (got '%s')", opt, min, max, text);
        return 0;
    }
    *out = (float)v;
    return 1;
}

/* -1: go on; else an exit code */
static int parse_gen(const char *cmd, const char *help, int argc, char **argv, gen_args *a)
{
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},       {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, OPT_FILE},   {"threads", required_argument, NULL, 't'},
        {"temp", required_argument, NULL, OPT_TEMP},   {"top-k", required_argument, NULL, OPT_TOP_K},
        {"top-p", required_argument, NULL, OPT_TOP_P}, {"min-p", required_argument, NULL, OPT_MIN_P},
        {"repeat-penalty", required_argument, NULL, OPT_REPEAT},
        {"frequency-penalty", required_argument, NULL, OPT_FREQ},
        {"presence-penalty", required_argument, NULL, OPT_PRES},
        {"repeat-last-n", required_argument, NULL, OPT_LAST_N},
        {"seed", required_argument, NULL, OPT_SEED},   {"stop", required_argument, NULL, OPT_STOP},
        {"ctx", required_argument, NULL, OPT_CTX},     {"kv-type", required_argument, NULL, OPT_KV},
        {"ctx-shift", no_argument, NULL, OPT_SHIFT},   {"chat-format", required_argument, NULL, OPT_FORMAT},
        {"json", no_argument, NULL, OPT_JSON},         {"chat", no_argument, NULL, OPT_CHAT},
        {"system", required_argument, NULL, OPT_SYSTEM}, {"help", no_argument, NULL, 'h'},
        {"fast-prompt", no_argument, NULL, OPT_FAST},
        {"chat-template-file", required_argument, NULL, OPT_TEMPLATE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->p = MAST_GEN_PARAMS_DEFAULT;
    a->o = MAST_LOCAL_OPTS_DEFAULT;
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:p:n:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'p': a->prompt = optarg; break;
        case OPT_FILE: a->file = optarg; break;
        case OPT_SYSTEM: a->system = optarg; break;
        case OPT_CONFIG: a->config = optarg; break;
        case 'n':
            if (!cli_parse_int(cmd, "-n", optarg, 1, 1 << 20, &v))
                return EXIT_USAGE;
            a->p.max_tokens = (int)v;
            break;
        case 't':
            if (!cli_parse_int(cmd, "--threads", optarg, 1, 1024, &v))
                return EXIT_USAGE;
            a->o.threads = (int)v;
            break;
        case OPT_TEMP: if (!parse_float(cmd, "--temp", optarg, 0, 100, &a->p.sampler.temperature)) return EXIT_USAGE; break;
        case OPT_TOP_K:
            if (!cli_parse_int(cmd, "--top-k", optarg, 0, 1 << 24, &v))
                return EXIT_USAGE;
            a->p.sampler.top_k = (int)v;
            break;
        case OPT_TOP_P: if (!parse_float(cmd, "--top-p", optarg, 1e-6, 1, &a->p.sampler.top_p)) return EXIT_USAGE; break;
        case OPT_MIN_P: if (!parse_float(cmd, "--min-p", optarg, 0, 1, &a->p.sampler.min_p)) return EXIT_USAGE; break;
        case OPT_REPEAT: if (!parse_float(cmd, "--repeat-penalty", optarg, 1e-3, 100, &a->p.sampler.repeat_penalty)) return EXIT_USAGE; break;
        case OPT_FREQ: if (!parse_float(cmd, "--frequency-penalty", optarg, -10, 10, &a->p.sampler.frequency_penalty)) return EXIT_USAGE; break;
        case OPT_PRES: if (!parse_float(cmd, "--presence-penalty", optarg, -10, 10, &a->p.sampler.presence_penalty)) return EXIT_USAGE; break;
        case OPT_LAST_N:
            if (!cli_parse_int(cmd, "--repeat-last-n", optarg, 0, 1 << 20, &v))
                return EXIT_USAGE;
            a->p.sampler.penalty_last_n = (int)v;
            break;
        case OPT_SEED:
            if (!cli_parse_int(cmd, "--seed", optarg, 0, 0x7fffffffffffffffL, &v))
                return EXIT_USAGE;
            a->p.sampler.seed = (uint64_t)v;
            a->seeded = 1;
            break;
        case OPT_STOP:
            if (a->n_stops == sizeof a->stops / sizeof *a->stops)
                return cli_usage(cmd, "at most 16 --stop strings");
            if (!*optarg)
                return cli_usage(cmd, "--stop needs a non-empty string");
            a->stops[a->n_stops++] = optarg;
            break;
        case OPT_CTX:
            if (!cli_parse_int(cmd, "--ctx", optarg, 16, 1 << 20, &v))
                return EXIT_USAGE;
            a->o.n_ctx = (int)v;
            break;
        case OPT_KV:
            if (cli_kv_type(cmd, optarg, &a->o.kv_type) != 0)
                return EXIT_USAGE;
            break;
        case OPT_SHIFT: a->p.ctx_shift = true; break;
        case OPT_FAST: a->o.fast_prompt = true; break;
        case OPT_TEMPLATE:
            free(a->template_text);
            if (cli_read_template(optarg, &a->template_text) != MAST_OK)
                return cli_fail(MAST_ERR_IO);
            a->o.chat_template = a->template_text;
            a->o.chat_template_name = optarg;
            break;
        case OPT_FORMAT:
            if ((a->o.chat_format = mast_chat_format_parse(optarg)) < 0)
                return cli_usage(cmd, "--chat-format must be chatml, llama2, llama3, mistral, "
                                 "zephyr, phi3, gemma or plain (got '%s')", optarg);
            break;
        case OPT_JSON: a->json = 1; break;
        case OPT_CHAT: a->chat = 1; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'%s", argv[optind],
                         strcmp(cmd, "run") == 0 ? " (give the prompt with -p)" : "");
    if (!a->model)
        return cli_usage(cmd, "-m MODEL.gguf (or a gateway model's name with --config) is required");
    if (!a->seeded)
        a->p.sampler.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    a->p.stop = a->stops;
    a->p.n_stop = a->n_stops;
    return -1;
}

typedef struct sink {
    int json;
    mast_buf text;
} sink;

static int on_text(void *ctx, const char *text, size_t len)
{
    sink *s = ctx;
    if (s->json)
        return mast_buf_append(&s->text, text, len) != MAST_OK;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int on_text_both(void *ctx, const char *text, size_t len)
{
    sink *s = ctx;   /* streams and keeps */
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return mast_buf_append(&s->text, text, len) != MAST_OK;
}

static void print_timings(const mast_gen_result *r)
{
    fprintf(stderr, "\nprompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s (%s)\n",
            r->prompt_tokens, r->prompt_seconds > 0 ? r->prompt_tokens / r->prompt_seconds : 0,
            r->completion_tokens, r->gen_seconds > 0 ? r->completion_tokens / r->gen_seconds : 0,
            r->finish_reason ? r->finish_reason : "error");
}

static json_t *id_array(const int32_t *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

int cmd_run(int argc, char **argv)
{
    gen_args a;
    int rc = parse_gen("run", run_help, argc, argv, &a);
    if (rc >= 0)
        return rc;
    char *file_text = NULL;
    if (a.file) {
        size_t len;
        mast_status st = mast_read_file(strcmp(a.file, "-") == 0 ? "/dev/stdin" : a.file, 64 << 20,
                                        &file_text, &len);
        if (st != MAST_OK)
            return cli_fail(st);
        a.prompt = file_text;
    }
    if (!a.prompt) {
        free(file_text);
        return cli_usage("run", "no prompt: give -p TEXT or --file PATH");
    }
    mast_generator *g = NULL;
    bool gateway;
    mast_status st = cli_open_generator(a.model, a.config, &a.o, &g, &gateway);
    sink s = {a.json, {0}};
    mast_gen_result r = {0};
    if (st == MAST_OK) {
        mast_chat_message msg = {"user", a.prompt};
        mast_gen_request req = {.messages = a.chat ? &msg : NULL, .n_messages = a.chat ? 1 : 0, .prompt = a.chat ? NULL : a.prompt, .params = a.p};
        st = mast_generate(g, &req, on_text, &s, &r);
    }
    if (st == MAST_OK && r.context_full)
        fprintf(stderr, "%smast run: note: the context (%d tokens) filled after %d generated tokens; "
                "finish reason \"length\" (raise --ctx, or allow --ctx-shift)\n",
                a.json ? "" : "\n", r.n_ctx, r.completion_tokens);
    if (st == MAST_OK && a.json) {
        json_t *o = json_object();
        if (r.prompt_ids && r.ids) {   /* a local engine's */
            json_object_set_new(o, "prompt_ids", id_array(r.prompt_ids, r.prompt_tokens));
            json_object_set_new(o, "ids", id_array(r.ids, r.completion_tokens));
        }
        json_object_set_new(o, "usage", json_pack("{s:i, s:i, s:i}", "prompt_tokens", r.prompt_tokens,
                                                  "completion_tokens", r.completion_tokens,
                                                  "cached_tokens", r.cached_tokens));
        json_object_set_new(o, "text", mast_json_string_lossy(mast_buf_cstr(&s.text)));
        json_object_set_new(o, "finish_reason", json_string(r.finish_reason));
        json_object_set_new(o, "seed", json_integer((json_int_t)a.p.sampler.seed));
        json_object_set_new(o, "timings", json_pack("{s:f, s:f}", "prompt_tokens_per_s",
                            r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0,
                            "gen_tokens_per_s",
                            r.gen_seconds > 0 ? r.completion_tokens / r.gen_seconds : 0.0));
        cli_print_json(o);
    } else if (st == MAST_OK) {
        print_timings(&r);
    }
    mast_gen_result_free(&r);
    mast_buf_free(&s.text);
    mast_generator_free(g);
    free(file_text);
    free(a.template_text);
    return st == MAST_OK ? 0 : cli_fail(st);
}

int cmd_chat(int argc, char **argv)
{
    gen_args a;
    int rc = parse_gen("chat", chat_help, argc, argv, &a);
    if (rc >= 0)
        return rc;
    mast_generator *g = NULL;
    bool gateway;
    mast_status st = cli_open_generator(a.model, a.config, &a.o, &g, &gateway);
    if (st != MAST_OK)
        return cli_fail(st);
    if (gateway) {
        fprintf(stderr, "mast chat: %s; Ctrl-D ends\n", mast_generator_describe(g));
    } else {
        const char *how = mast_local_generator_template(g, NULL);
        fprintf(stderr, "mast chat: %s (template %s); Ctrl-D ends\n", a.model,
                strcmp(how, "jinja") ? how : "the model's Jinja template");
        if (!strcmp(how, "plain"))
            fprintf(stderr, "note: no known chat template in the model; using plain \"role: content\" lines\n");
    }
    mast_chat_message *msgs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    if (a.system && mast_grow_array((void **)&msgs, &cap, 1, sizeof *msgs))
        msgs[n++] = (mast_chat_message){"system", strdup(a.system)};
    for (;;) {
        fputs("> ", stderr);
        fflush(stderr);
        ssize_t len = getline(&line, &line_cap, stdin);
        if (len < 0)
            break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (!mast_grow_array((void **)&msgs, &cap, n + 2, sizeof *msgs)) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        msgs[n++] = (mast_chat_message){"user", strdup(line)};
        sink s = {1, {0}};   /* collect the reply while streaming it */
        mast_gen_result r = {0};
        mast_gen_request req = {.messages = msgs, .n_messages = n, .prompt = NULL, .params = a.p};
        a.p.sampler.seed++;   /* another draw each turn, still reproducible */
        st = mast_generate(g, &req, on_text_both, &s, &r);
        fputs("\n", stdout);
        if (st == MAST_OK && r.context_full)
            fprintf(stderr, "mast chat: note: the context is full (%d tokens); the answer was cut "
                    "(raise --ctx, or allow --ctx-shift)\n", r.n_ctx);
        mast_gen_result_free(&r);
        if (st != MAST_OK) {
            mast_buf_free(&s.text);
            fprintf(stderr, "mast chat: %s\n", mast_errmsg());
            n--;   /* forget the turn that failed */
            free((char *)msgs[n].content);
            st = MAST_OK;
            continue;
        }
        msgs[n++] = (mast_chat_message){"assistant", mast_buf_detach(&s.text)};
    }
    fputs("\n", stderr);
    for (size_t i = 0; i < n; i++)
        free((char *)msgs[i].content);
    free(msgs);
    free(line);
    mast_generator_free(g);
    free(a.template_text);
    return st == MAST_OK ? 0 : cli_fail(st);
}
