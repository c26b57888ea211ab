/*
** cli/prompt.c — `mast prompt create|update|get|list|label|history|diff`:
** the prompt registry (deploy/prompts.h) from the command line.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mmap.h"
#include "base/status.h"
#include "cli/cli.h"
#include "deploy/prompts.h"

static const char prompt_help[] =
    "Usage: mast prompt create NAME --type text|chat (--template TEXT | --file PATH) [--config JSON] [--label L]\n"
    "       mast prompt update NAME (--template TEXT | --file PATH) [--config JSON] [--label L]\n"
    "       mast prompt get NAME [--label L | --version N] [--json]\n"
    "       mast prompt list [--json]\n"
    "       mast prompt label NAME VERSION LABEL\n"
    "       mast prompt history NAME [--json]\n"
    "       mast prompt diff NAME V1 V2\n"
    "\n"
    "Prompts live in the store. Every create or update is a new immutable version; labels\n"
    "(production, staging, any name) point at versions and move: deploying is `label NAME 3\n"
    "production`, rolling back is `label NAME 2 production`. mast keeps the label latest on the\n"
    "newest version. A text prompt's template is text; a chat prompt's is a JSON array of\n"
    "{\"role\", \"content\"} messages. Both take {{variables}}. The config holds request\n"
    "defaults: model, temperature, top_p, max_tokens, response_format, stop.\n"
    "\n"
    "A chat request names one with \"prompt\": {\"name\", \"label\" or \"version\", \"variables\"}:\n"
    "its messages come first, its config fills what the request leaves out, and a missing\n"
    "variable is a 400 naming it. The trace records the prompt's name and version.\n"
    "Options: --db PATH (default $MAST_DB or ./mast.db), -h.\n";

typedef struct args {
    const char *name, *type, *tmpl, *file, *config, *label, *db;
    int version, json;
    const char *pos[4];
    int n_pos;
} args;

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            return fputs(prompt_help, stdout), 0;
        if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        }
        const char **slot = !strcmp(o, "--type") ? &a->type : !strcmp(o, "--template") ? &a->tmpl
                          : !strcmp(o, "--file") ? &a->file : !strcmp(o, "--config") ? &a->config
                          : !strcmp(o, "--label") ? &a->label : !strcmp(o, "--db") ? &a->db : NULL;
        if (slot && v) {
            *slot = argv[++i];
        } else if (!strcmp(o, "--version") && v) {
            a->version = atoi(argv[++i]);
            if (a->version < 1)
                return cli_usage("prompt", "--version wants a version number (1, 2, …)");
        } else if (o[0] == '-' || a->n_pos == 4) {
            return cli_usage("prompt", "unexpected argument '%s'", o);
        } else {
            a->pos[a->n_pos++] = o;
        }
    }
    a->name = a->n_pos ? a->pos[0] : NULL;
    return -1;
}

/* The template from --template or --file: text, or (chat) JSON. */
static mast_status read_template(const args *a, const char *type, json_t **out)
{
    char *text = NULL;
    size_t len;
    if (a->file)
        MAST_TRY(mast_read_file(a->file, 4 << 20, &text, &len));
    const char *t = a->file ? text : a->tmpl;
    mast_status st = MAST_OK;
    if (!t)
        st = mast_fail(MAST_ERR_INVALID, "give the template with --template TEXT or --file PATH");
    else if (!strcmp(type, "chat"))
        st = mast_json_parse(t, strlen(t), a->file ? a->file : "--template", out);
    else
        *out = mast_json_string_lossy(t);
    free(text);
    return st;
}

static void print_version(const json_t *p)
{
    printf("%s version %lld (%s)", mast_json_get_str(p, "name", ""),
           (long long)json_integer_value(json_object_get(p, "version")), mast_json_get_str(p, "type", ""));
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(p, "labels"), i, l)
        printf("%s%s", i ? ", " : "  labels: ", json_string_value(l));
    printf("\n");
    json_t *t = json_object_get(p, "template");
    if (json_is_string(t)) {
        printf("%s\n", json_string_value(t));
    } else {
        json_array_foreach(t, i, l)
            printf("[%s] %s\n", mast_json_get_str(l, "role", ""), mast_json_get_str(l, "content", ""));
    }
    if (json_object_size(json_object_get(p, "config"))) {
        mast_buf b = {0};
        mast_json_dump(json_object_get(p, "config"), 0, &b);
        printf("config: %s\n", mast_buf_cstr(&b));
        mast_buf_free(&b);
    }
}

/* The lines of a version's template and config, for diff. */
static json_t *lines_of(const json_t *p)
{
    json_t *lines = json_array();
    mast_buf b = {0};
    json_t *t = json_object_get(p, "template");
    if (json_is_string(t))
        mast_buf_puts(&b, json_string_value(t));
    else {
        size_t i;
        json_t *m;
        json_array_foreach(t, i, m)
            mast_buf_printf(&b, "%s[%s] %s", i ? "\n" : "", mast_json_get_str(m, "role", ""),
                            mast_json_get_str(m, "content", ""));
    }
    mast_buf_puts(&b, "\nconfig: ");
    mast_json_dump(json_object_get(p, "config"), 0, &b);
    const char *s = mast_buf_cstr(&b);
    for (;;) {
        const char *nl = strchr(s, '\n');
        json_array_append_new(lines, json_stringn(s, nl ? (size_t)(nl - s) : strlen(s)));
        if (!nl)
            break;
        s = nl + 1;
    }
    mast_buf_free(&b);
    return lines;
}

/* A line diff (longest common subsequence): "  ", "- ", "+ ". */
static void diff(const json_t *a, const json_t *b)
{
    size_t n = json_array_size(a), m = json_array_size(b);
    int *L = calloc((n + 1) * (m + 1), sizeof *L);
#define AT(i, j) L[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            AT(i, j) = json_equal(json_array_get(a, i), json_array_get(b, j)) ? AT(i + 1, j + 1) + 1
                     : AT(i + 1, j) > AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && json_equal(json_array_get(a, i), json_array_get(b, j))) {
            printf("  %s\n", json_string_value(json_array_get(a, i)));
            i++, j++;
        } else if (i < n && (j == m || AT(i + 1, j) >= AT(i, j + 1))) {
            printf("- %s\n", json_string_value(json_array_get(a, i++)));
        } else {
            printf("+ %s\n", json_string_value(json_array_get(b, j++)));
        }
    }
#undef AT
    free(L);
}

int cmd_prompt(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return fputs(prompt_help, argc < 2 ? stderr : stdout), argc < 2 ? EXIT_USAGE : 0;
    args a;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *cmd = argv[1];
    bool writes = !strcmp(cmd, "create") || !strcmp(cmd, "update") || !strcmp(cmd, "label");
    if (strcmp(cmd, "list") && !a.name)
        return cli_usage("prompt", "%s needs the prompt's NAME", cmd);
    if (!writes && strcmp(cmd, "get") && strcmp(cmd, "list") && strcmp(cmd, "history") && strcmp(cmd, "diff"))
        return cli_usage("prompt", "unknown subcommand '%s'", cmd);
    if (!strcmp(cmd, "create") && !a.type)
        return cli_usage("prompt", "create needs --type text or chat");
    if ((!strcmp(cmd, "label") || !strcmp(cmd, "diff")) && a.n_pos != 3)
        return cli_usage("prompt", "%s wants NAME %s", cmd, !strcmp(cmd, "label") ? "VERSION LABEL" : "V1 V2");
    mast_store *store;
    mast_status st = writes ? cli_open_store(a.db, &store) : cli_open_store_read(a.db, &store);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *out = NULL, *tmpl = NULL, *config = NULL;
    if (a.config)
        st = mast_json_parse(a.config, strlen(a.config), "--config", &config);
    if (st == MAST_OK && !strcmp(cmd, "create")) {
        st = read_template(&a, a.type, &tmpl);
        if (st == MAST_OK)
            st = mast_prompt_create(store, a.name, a.type, tmpl, config, a.label, &out);
    } else if (st == MAST_OK && !strcmp(cmd, "update")) {
        json_t *cur = NULL;
        st = mast_prompt_get(store, a.name, NULL, 0, &cur);
        if (st == MAST_OK)
            st = read_template(&a, mast_json_get_str(cur, "type", "text"), &tmpl);
        json_decref(cur);
        if (st == MAST_OK)
            st = mast_prompt_update(store, a.name, tmpl, config, a.label, &out);
    } else if (st == MAST_OK && !strcmp(cmd, "label")) {
        st = mast_prompt_label(store, a.name, a.pos[2], atoi(a.pos[1]));
        if (st == MAST_OK)
            st = mast_prompt_get(store, a.name, a.pos[2], 0, &out);
    } else if (st == MAST_OK && !strcmp(cmd, "get")) {
        st = mast_prompt_get(store, a.name, a.label, a.version, &out);
    } else if (st == MAST_OK && !strcmp(cmd, "list")) {
        st = mast_prompt_list(store, &out);
    } else if (st == MAST_OK && !strcmp(cmd, "history")) {
        st = mast_prompt_history(store, a.name, &out);
    } else if (st == MAST_OK) {   /* diff */
        json_t *v1 = NULL, *v2 = NULL;
        st = mast_prompt_get(store, a.name, NULL, atoi(a.pos[1]), &v1);
        if (st == MAST_OK)
            st = mast_prompt_get(store, a.name, NULL, atoi(a.pos[2]), &v2);
        if (st == MAST_OK) {
            json_t *l1 = lines_of(v1), *l2 = lines_of(v2);
            printf("--- %s version %s\n+++ %s version %s\n", a.name, a.pos[1], a.name, a.pos[2]);
            diff(l1, l2);
            json_decref(l1);
            json_decref(l2);
        }
        json_decref(v1);
        json_decref(v2);
    }
    mast_store_close(store);
    json_decref(tmpl);
    json_decref(config);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    if (!out)
        return 0;
    if (a.json) {
        cli_print_json(out);
        return 0;
    }
    if (json_is_array(out)) {
        size_t i;
        json_t *p;
        json_array_foreach(out, i, p) {
            if (i)
                printf("\n");
            print_version(p);
        }
    } else {
        print_version(out);
    }
    json_decref(out);
    return 0;
}
