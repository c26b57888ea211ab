/*
** cli/template.c — `mast template render|show`: a chat template's
** rendering of a conversation, for debugging a model's template.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/mmap.h"
#include "base/status.h"
#include "cli/cli.h"
#include "model/gguf.h"
#include "model/jinja.h"
#include "model/tokenizer.h"

static const char template_help[] =
    "Usage: mast template render (--template FILE.jinja | -m MODEL.gguf) --messages FILE.json\n"
    "                            [--tools FILE.json] [--no-generation-prompt] [--var NAME=VALUE...]\n"
    "       mast template show -m MODEL.gguf\n"
    "\n"
    "render prints the text a Jinja chat template makes of a conversation, exactly as mast's\n"
    "interpreter renders it (the Jinja2 subset and configuration Hugging Face transformers\n"
    "uses for apply_chat_template), with nothing added: no newline at the end. show prints\n"
    "a model's own template (tokenizer.chat_template).\n"
    "\n"
    "The variables are transformers': messages, tools (when given), add_generation_prompt\n"
    "(true unless --no-generation-prompt), and bos_token and eos_token (the model's with -m,\n"
    "else empty; set them with --var). When generating, mast drops a BOS at the start of the\n"
    "rendering if the tokenizer adds one itself; render prints the template's text as is.\n"
    "\n"
    "Options:\n"
    "      --template FILE     the Jinja template to render\n"
    "  -m, --model FILE        the template of a GGUF model (the weights are not loaded)\n"
    "      --messages FILE     the conversation: a JSON array of OpenAI-style messages\n"
    "                          ({\"role\", \"content\", \"tool_calls\", \"tool_call_id\"}), or an\n"
    "                          object with \"messages\" and optionally \"tools\",\n"
    "                          \"add_generation_prompt\" and \"variables\"; '-' reads stdin\n"
    "      --tools FILE        tool definitions: [{\"type\": \"function\", \"function\": {...}}]\n"
    "      --no-generation-prompt  end after the last message (add_generation_prompt false)\n"
    "      --var NAME=VALUE    another variable; VALUE is JSON when it parses, else a string\n"
    "                          (repeatable)\n"
    "      --now \"YYYY-MM-DD HH:MM:SS\"  the time strftime_now formats (default: now)\n"
    "      --json              print {\"prompt\": TEXT} instead\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status: 0 rendered; 1 when the template does not parse, or raises (its own message\n"
    "is printed, as when it refuses a conversation its model cannot take); 2 usage error.\n";

static mast_status load_json(const char *path, const char *what, json_t **out)
{
    char *text = NULL;
    size_t len;
    MAST_TRY(mast_read_file(strcmp(path, "-") ? path : "/dev/stdin", 64 << 20, &text, &len));
    mast_status st = mast_json_parse(text, len, what, out);
    free(text);
    return st;
}

/* The model's template and its BOS/EOS texts (the weights stay unread). */
static mast_status model_template(const char *path, char **tmpl, json_t *vars)
{
    mast_gguf *g = NULL;
    mast_tokenizer *tok = NULL;
    MAST_TRY(mast_gguf_open(&g, path));
    mast_gguf_str s;
    mast_status st = mast_gguf_get_str(g, "tokenizer.chat_template", &s);
    if (st != MAST_OK)
        st = mast_fail(MAST_ERR_NOT_FOUND, "%s has no chat template (tokenizer.chat_template); "
                       "give one with --template", path);
    if (st == MAST_OK && !(*tmpl = strndup(s.data, s.len)))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (st == MAST_OK && vars && mast_tokenizer_load(&tok, g) == MAST_OK) {
        int32_t ids[2] = {mast_tokenizer_bos(tok), mast_tokenizer_eos(tok)};
        const char *names[2] = {"bos_token", "eos_token"};
        for (int i = 0; i < 2; i++) {
            size_t n = 0;
            const char *p = ids[i] >= 0 ? mast_tokenizer_text(tok, ids[i], &n) : NULL;
            char *t = strndup(p ? p : "", p ? n : 0);
            json_object_set_new(vars, names[i], mast_json_string_lossy(t ? t : ""));
            free(t);
        }
    }
    mast_tokenizer_free(tok);
    mast_gguf_close(g);
    return st;
}

static int show(int argc, char **argv)
{
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(template_help, stdout), 0;
        else
            return cli_usage("template show", "unexpected argument '%s'", argv[i]);
    }
    if (!model)
        return cli_usage("template show", "-m MODEL.gguf is required");
    char *t = NULL;
    mast_status st = model_template(model, &t, NULL);
    if (st == MAST_OK)
        fputs(t, stdout);
    free(t);
    return st == MAST_OK ? 0 : cli_fail(st);
}

static bool parse_now(const char *text, struct tm *tm)
{
    memset(tm, 0, sizeof *tm);
    const char *end = strptime(text, "%Y-%m-%d %H:%M:%S", tm);
    if (!end || *end)
        return false;
    tm->tm_isdst = -1;
    time_t t = timegm(tm);   /* fills in the weekday and the day of the year */
    gmtime_r(&t, tm);
    return true;
}

/* A --var (checked): NAME=VALUE with VALUE JSON when it parses. */
static void add_var(json_t *vars, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *name = strndup(arg, (size_t)(eq - arg));
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    json_object_set_new(vars, name, v ? v : mast_json_string_lossy(eq + 1));
    free(name);
}

static int render(int argc, char **argv)
{
    enum { OPT_TEMPLATE = 256, OPT_MESSAGES, OPT_TOOLS, OPT_NO_GEN, OPT_VAR, OPT_NOW, OPT_JSON };
    static const struct option options[] = {
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"model", required_argument, NULL, 'm'},
        {"messages", required_argument, NULL, OPT_MESSAGES},
        {"tools", required_argument, NULL, OPT_TOOLS},
        {"no-generation-prompt", no_argument, NULL, OPT_NO_GEN},
        {"var", required_argument, NULL, OPT_VAR},
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tfile = NULL, *model = NULL, *mfile = NULL, *tools_file = NULL;
    const char *var_args[64];
    size_t n_vars = 0;
    int no_gen = 0, json_out = 0, c;
    struct tm now;
    bool fixed_now = false;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        switch (c) {
        case OPT_TEMPLATE: tfile = optarg; break;
        case 'm': model = optarg; break;
        case OPT_MESSAGES: mfile = optarg; break;
        case OPT_TOOLS: tools_file = optarg; break;
        case OPT_NO_GEN: no_gen = 1; break;
        case OPT_JSON: json_out = 1; break;
        case OPT_VAR:
            if (n_vars == 64)
                return cli_usage("template render", "at most 64 --var");
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return cli_usage("template render", "--var wants NAME=VALUE (got '%s')", optarg);
            var_args[n_vars++] = optarg;
            break;
        case OPT_NOW:
            if (!parse_now(optarg, &now))
                return cli_usage("template render", "--now wants \"YYYY-MM-DD HH:MM:SS\" (got '%s')",
                                 optarg);
            fixed_now = true;
            break;
        case 'h': fputs(template_help, stdout); return 0;
        default: return cli_bad_option("template render", argv);
        }
    }
    if (optind < argc)
        return cli_usage("template render", "unexpected argument '%s'", argv[optind]);
    if (!tfile == !model)
        return cli_usage("template render", "give one of --template FILE and -m MODEL.gguf");
    if (!mfile)
        return cli_usage("template render", "--messages FILE.json is required");
    json_t *vars = json_object(), *conv = NULL, *tools = NULL;
    char *src = NULL;
    mast_jinja *t = NULL;
    mast_buf out = {0};
    mast_status st = tfile ? cli_read_template(tfile, &src) : model_template(model, &src, vars);
    if (st == MAST_OK)
        st = load_json(mfile, mfile, &conv);
    if (st == MAST_OK && json_is_object(conv)) {   /* {"messages", "tools", "variables", …} */
        json_t *v = json_object_get(conv, "variables");
        if (json_is_object(v))
            json_object_update(vars, v);
        if (json_object_get(conv, "tools"))
            json_object_set(vars, "tools", json_object_get(conv, "tools"));
        if (json_is_false(json_object_get(conv, "add_generation_prompt")))
            no_gen = 1;
        json_t *m = json_incref(json_object_get(conv, "messages"));
        json_decref(conv);
        conv = m;
    }
    if (st == MAST_OK && !json_is_array(conv))
        st = mast_fail(MAST_ERR_INVALID, "%s: the messages must be a JSON array (or an object "
                       "with \"messages\")", mfile);
    if (st == MAST_OK && tools_file && (st = load_json(tools_file, tools_file, &tools)) == MAST_OK) {
        if (!json_is_array(tools))
            st = mast_fail(MAST_ERR_INVALID, "%s: the tools must be a JSON array", tools_file);
        else
            json_object_set(vars, "tools", tools);
    }
    if (st == MAST_OK) {
        json_object_set(vars, "messages", conv);
        json_object_set_new(vars, "add_generation_prompt", json_boolean(!no_gen));
        if (!json_object_get(vars, "bos_token"))
            json_object_set_new(vars, "bos_token", json_string(""));
        if (!json_object_get(vars, "eos_token"))
            json_object_set_new(vars, "eos_token", json_string(""));
        for (size_t i = 0; i < n_vars; i++)
            add_var(vars, var_args[i]);
        st = mast_jinja_parse(src, strlen(src), tfile ? tfile : model, &t);
    }
    if (st == MAST_OK) {
        mast_jinja_opts o = {fixed_now ? &now : NULL};
        st = mast_jinja_render(t, vars, &o, &out);
        if (st != MAST_OK)   /* the template refused: its own message, after its name */
            mast_fail_prefix(st, "%s", tfile ? tfile : model);
    }
    if (st == MAST_OK && json_out)
        cli_print_json(json_pack("{s:o}", "prompt", mast_json_string_lossy(mast_buf_cstr(&out))));
    else if (st == MAST_OK)
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    int rc = st == MAST_OK ? 0 : cli_fail(st);
    mast_buf_free(&out);
    mast_jinja_free(t);
    free(src);
    json_decref(conv);
    json_decref(tools);
    json_decref(vars);
    return rc;
}

int cmd_template(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(template_help, stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "render"))
        return render(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return show(argc - 1, argv + 1);
    return cli_usage("template", "unknown subcommand '%s' (render or show)", argv[1]);
}
