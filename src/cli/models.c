/*
** cli/models.c — `mast pull URL` and `mast models list|show|rm|path`: the
** models folder (model/pull.h).
*/
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/mmap.h"
#include "base/sha256.h"
#include "base/status.h"
#include "cli/cli.h"
#include "model/gguf.h"
#include "model/pull.h"

static const char pull_help[] =
    "Usage: mast pull URL [--sha256 HEX] [--name NAME] [options]\n"
    "\n"
    "Downloads a GGUF model into the models folder as NAME.gguf (NAME: --name, else the\n"
    "URL's file name without .gguf), so that `mast run -m NAME`, `mast serve -m NAME` and\n"
    "`mast serve --models-dir` find it. A transfer that drops is resumed where it stopped\n"
    "(an HTTP range request; a file that changed on the server starts over), and so is\n"
    "one an interrupted run left: run the same command again. The file is checked before\n"
    "it is kept: its SHA-256 (with --sha256) and its GGUF structure; a bad one is removed.\n"
    "The folder: $MAST_MODELS, else $XDG_DATA_HOME/mast/models, else\n"
    "~/.local/share/mast/models.\n"
    "\n"
    "Options:\n"
    "      --sha256 HEX        the file's expected SHA-256 (64 hex digits)\n"
    "      --name NAME         the model's name (letters, digits, '.', '_', '-')\n"
    "      --models-dir DIR    download into DIR instead of the models folder\n"
    "      --force             replace a model of that name\n"
    "      --retries N         resume a dropped transfer up to N times in a row (default 5)\n"
    "      --json              print the result as JSON\n"
    "  -h, --help              this help\n";

static const char models_help[] =
    "Usage: mast models list|show NAME|rm NAME|path [--models-dir DIR] [--json]\n"
    "\n"
    "The models folder ($MAST_MODELS, else $XDG_DATA_HOME/mast/models, else\n"
    "~/.local/share/mast/models), where `mast pull` puts models:\n"
    "  list        every model: name, size, architecture, when and where it was pulled from\n"
    "  show NAME   one model: its file, SHA-256, source, and the GGUF's metadata\n"
    "  rm NAME     remove a model (its file and its record)\n"
    "  path        print the folder's path\n"
    "\n"
    "Options:\n"
    "      --models-dir DIR    another folder\n"
    "      --verify            show: compute the file's SHA-256 and compare it with the pull's\n"
    "      --json              print JSON\n"
    "  -h, --help              this help\n";

int cmd_pull(int argc, char **argv)
{
    enum { OPT_SHA = 256, OPT_NAME, OPT_DIR, OPT_FORCE, OPT_RETRIES, OPT_JSON };
    static const struct option options[] = {
        {"sha256", required_argument, NULL, OPT_SHA},  {"name", required_argument, NULL, OPT_NAME},
        {"models-dir", required_argument, NULL, OPT_DIR}, {"force", no_argument, NULL, OPT_FORCE},
        {"retries", required_argument, NULL, OPT_RETRIES}, {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    mast_pull_opts o = {.retries = -1, .progress = true};
    bool json = false;
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_SHA: o.sha256 = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_DIR: o.dir = optarg; break;
        case OPT_FORCE: o.force = true; break;
        case OPT_RETRIES:
            if (!cli_parse_int("pull", "--retries", optarg, 0, 1000, &v))
                return EXIT_USAGE;
            o.retries = (int)v;
            break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(pull_help, stdout); return 0;
        default: return cli_bad_option("pull", argv);
        }
    }
    if (optind >= argc)
        return cli_usage("pull", "give the model's URL (mast pull https://…/model.gguf)");
    if (optind + 1 < argc)
        return cli_usage("pull", "unexpected argument '%s'", argv[optind + 1]);
    o.url = argv[optind];
    mast_pull_result r;
    mast_status st = mast_pull(&o, &r);
    if (st != MAST_OK) {
        mast_buf_free(&r.path);
        return cli_fail_arg(st);   /* a bad URL, hash or name is a usage error (2) */
    }
    if (json) {
        cli_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:f}", "name", r.name, "path",
                                 mast_buf_cstr(&r.path), "sha256", r.sha256, "bytes", (json_int_t)r.bytes,
                                 "resumed_from", (json_int_t)r.resumed_from, "attempts", r.attempts,
                                 "seconds", r.seconds));
    } else {
        printf("pulled %s: %.1f MB in %.1f s", r.name, (double)r.bytes / 1e6, r.seconds);
        if (r.resumed_from)
            printf(" (resumed at %.1f MB)", (double)r.resumed_from / 1e6);
        mast_gguf *g;
        mast_gguf_str arch = {"", 0};
        bool embed = false;
        if (mast_gguf_open(&g, mast_buf_cstr(&r.path)) == MAST_OK) {
            if (mast_gguf_get_str(g, "general.architecture", &arch) == MAST_OK)
                embed = (arch.len == 4 && !memcmp(arch.data, "bert", 4)) ||
                        (arch.len == 11 && !memcmp(arch.data, "mast-static", 11));
            mast_gguf_close(g);
        }
        printf("\n  file    %s\n  sha256  %s\n", mast_buf_cstr(&r.path), r.sha256);
        if (embed)
            printf("  use     mast embed -m %s \"…\"   or   mast serve --embed-model %s\n", r.name, r.name);
        else
            printf("  use     mast run -m %s -p \"…\"   or   mast serve -m %s\n", r.name, r.name);
    }
    mast_buf_free(&r.path);
    return 0;
}

static json_t *lossy_n(const char *s, size_t n)
{
    char *t = strndup(s, n);
    json_t *v = t ? mast_json_string_lossy(t) : json_null();
    free(t);
    return v;
}

/* NAME.json beside a model: where it was pulled from (NULL when absent). */
static json_t *pull_record(const char *dir, const char *name)
{
    mast_buf p = {0};
    json_t *o = NULL;
    if (mast_buf_printf(&p, "%s/%s.json", dir, name) == MAST_OK)
        o = json_load_file(mast_buf_cstr(&p), 0, NULL);
    mast_buf_free(&p);
    return json_is_object(o) ? o : (json_decref(o), NULL);
}

/* A model's file as a listing shows it. */
static json_t *model_entry(const char *dir, const char *name, const char *path, bool details)
{
    struct stat sb;
    json_t *o = json_pack("{s:s, s:s}", "name", name, "path", path);
    if (stat(path, &sb) == 0) {
        json_object_set_new(o, "bytes", json_integer((json_int_t)sb.st_size));
        json_object_set_new(o, "modified", json_integer((json_int_t)sb.st_mtime));
    }
    mast_gguf *g;
    if (mast_gguf_open(&g, path) == MAST_OK) {
        mast_gguf_str a = {"", 0};
        mast_gguf_get_str(g, "general.architecture", &a);
        json_object_set_new(o, "architecture", json_stringn(a.data, a.len));
        mast_gguf_str nm = {"", 0};
        if (mast_gguf_get_str(g, "general.name", &nm) == MAST_OK)
            json_object_set_new(o, "model_name", lossy_n(nm.data, nm.len));
        json_object_set_new(o, "tensors", json_integer((json_int_t)g->n_tensors));
        if (details) {   /* the scalar metadata */
            json_t *meta = json_object();
            for (size_t i = 0; i < g->n_kv; i++) {
                const mast_gguf_kv *kv = &g->kv[i];
                char key[256];
                snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.data);
                mast_gguf_str s;
                int64_t iv;
                float fv;
                bool bv;
                if (mast_gguf_get_str(g, key, &s) == MAST_OK)
                    json_object_set_new(meta, key, s.len > 200 ? json_string("(long text)")
                                                              : lossy_n(s.data, s.len));
                else if (mast_gguf_get_i64(g, key, &iv) == MAST_OK)
                    json_object_set_new(meta, key, json_integer(iv));
                else if (mast_gguf_get_f32(g, key, &fv) == MAST_OK)
                    json_object_set_new(meta, key, json_real(fv));
                else if (mast_gguf_get_bool(g, key, &bv) == MAST_OK)
                    json_object_set_new(meta, key, json_boolean(bv));
            }
            json_object_set_new(o, "metadata", meta);
        }
        mast_gguf_close(g);
    } else {
        json_object_set_new(o, "error", mast_json_string_lossy(mast_errmsg()));
    }
    json_t *rec = pull_record(dir, name);
    if (rec) {
        json_object_set(o, "url", json_object_get(rec, "url"));
        json_object_set(o, "sha256", json_object_get(rec, "sha256"));
        json_object_set(o, "pulled_at", json_object_get(rec, "pulled_at"));
        json_decref(rec);
    }
    return o;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int models_list(const char *dir, bool json)
{
    json_t *out = json_array();
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".gguf"))
            continue;
        char *nm = strndup(e->d_name, len - 5);
        char **grown = nm && mast_model_name_ok(nm) ? realloc(names, (n + 1) * sizeof *names) : NULL;
        if (!grown) {
            free(nm);
            continue;
        }
        names = grown;
        names[n++] = nm;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        mast_buf p = {0};
        if (mast_buf_printf(&p, "%s/%s.gguf", dir, names[i]) == MAST_OK)
            json_array_append_new(out, model_entry(dir, names[i], mast_buf_cstr(&p), false));
        mast_buf_free(&p);
        free(names[i]);
    }
    free(names);
    if (json) {
        cli_print_json(json_pack("{s:s, s:o}", "folder", dir, "models", out));
        return 0;
    }
    if (!json_array_size(out)) {
        printf("no models in %s (mast pull URL downloads one)\n", dir);
        json_decref(out);
        return 0;
    }
    printf("%-32s %10s  %-12s %-20s %s\n", "NAME", "SIZE", "ARCH", "PULLED", "FROM");
    size_t i;
    json_t *m;
    json_array_foreach(out, i, m) {
        const char *when = mast_json_get_str(m, "pulled_at", "");
        printf("%-32s %8.1f MB  %-12s %-20s %s\n", mast_json_get_str(m, "name", ""),
               (double)json_integer_value(json_object_get(m, "bytes")) / 1e6,
               mast_json_get_str(m, "architecture", "?"), *when ? when : "-",
               mast_json_get_str(m, "url", "-"));
    }
    printf("%zu model%s in %s\n", json_array_size(out), json_array_size(out) == 1 ? "" : "s", dir);
    json_decref(out);
    return 0;
}

static int models_show(const char *dir, const char *name, bool verify, bool json)
{
    mast_buf path = {0};
    mast_status st = mast_models_find_file(dir, name, &path);
    if (st != MAST_OK) {
        mast_buf_free(&path);
        return cli_fail_arg(st);
    }
    json_t *o = model_entry(dir, name, mast_buf_cstr(&path), true);
    int rc = 0;
    if (verify) {
        mast_mapped m;
        if (mast_mmap_file(mast_buf_cstr(&path), &m) == MAST_OK) {
            char hex[65];
            mast_sha256_hex(m.data ? m.data : (const unsigned char *)"", m.size, hex);
            mast_munmap(&m);
            const char *want = mast_json_get_str(o, "sha256", NULL);
            json_object_set_new(o, "sha256_now", json_string(hex));
            json_object_set_new(o, "verified", want ? json_boolean(!strcmp(want, hex)) : json_null());
            if (want && strcmp(want, hex))
                rc = 1;
        }
    }
    mast_buf_free(&path);
    if (json) {
        cli_print_json(o);
    } else {
        printf("name          %s\nfile          %s\nsize          %.1f MB\narchitecture  %s\n",
               name, mast_json_get_str(o, "path", ""),
               (double)json_integer_value(json_object_get(o, "bytes")) / 1e6,
               mast_json_get_str(o, "architecture", "?"));
        if (json_object_get(o, "model_name"))
            printf("model name    %s\n", mast_json_get_str(o, "model_name", ""));
        printf("tensors       %lld\n", (long long)json_integer_value(json_object_get(o, "tensors")));
        printf("sha256        %s\npulled from   %s\npulled at     %s\n",
               mast_json_get_str(o, "sha256", "(not recorded: not pulled by mast)"),
               mast_json_get_str(o, "url", "-"), mast_json_get_str(o, "pulled_at", "-"));
        if (json_object_get(o, "sha256_now"))
            printf("verified      %s\n", json_is_true(json_object_get(o, "verified")) ? "yes: the file is as pulled"
                   : json_is_false(json_object_get(o, "verified")) ? "NO: the file changed since it was pulled"
                   : "no record to compare with");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(o, "metadata"), k, v) {
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            printf("  %-40s %s\n", k, text ? text : "");
            free(text);
        }
        json_decref(o);
    }
    return rc;
}

static int models_rm(const char *dir, const char *name, bool json)
{
    mast_buf path = {0}, rec = {0};
    mast_status st = mast_models_find_file(dir, name, &path);
    bool had_record = mast_model_name_ok(name) && mast_buf_printf(&rec, "%s/%s.json", dir, name) == MAST_OK &&
                      access(mast_buf_cstr(&rec), F_OK) == 0;
    if (st == MAST_ERR_NOT_FOUND && had_record) {   /* a record whose file is gone goes too */
        st = MAST_OK;
        path.len = 0;
    }
    else if (st == MAST_OK && unlink(mast_buf_cstr(&path)) != 0)
        st = mast_fail(MAST_ERR_IO, "%s: %s", mast_buf_cstr(&path), strerror(errno));
    if (st == MAST_OK) {
        if (had_record)
            unlink(mast_buf_cstr(&rec));
        if (json)
            cli_print_json(json_pack("{s:s, s:s}", "removed", name, "path", path.len ? mast_buf_cstr(&path)
                                                                                  : mast_buf_cstr(&rec)));
        else
            printf("removed %s (%s)\n", name, path.len ? mast_buf_cstr(&path) : mast_buf_cstr(&rec));
    }
    mast_buf_free(&path);
    mast_buf_free(&rec);
    return st == MAST_OK ? 0 : cli_fail_arg(st);
}

int cmd_models(int argc, char **argv)
{
    enum { OPT_DIR = 256, OPT_JSON, OPT_VERIFY };
    static const struct option options[] = {
        {"models-dir", required_argument, NULL, OPT_DIR}, {"json", no_argument, NULL, OPT_JSON},
        {"verify", no_argument, NULL, OPT_VERIFY},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir_opt = NULL;
    bool json = false, verify = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_DIR: dir_opt = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_VERIFY: verify = true; break;
        case 'h': fputs(models_help, stdout); return 0;
        default: return cli_bad_option("models", argv);
        }
    }
    const char *sub = optind < argc ? argv[optind] : "list";
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    mast_buf dir = {0};
    mast_status st = dir_opt ? mast_buf_puts(&dir, dir_opt) : mast_models_dir(&dir);
    if (st != MAST_OK)
        return cli_fail(st);
    int rc;
    if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
        rc = name ? cli_usage("models", "list takes no name") : models_list(mast_buf_cstr(&dir), json);
    else if (!strcmp(sub, "path") && json)
        rc = (cli_print_json(json_pack("{s:s}", "folder", mast_buf_cstr(&dir))), 0);
    else if (!strcmp(sub, "path"))
        rc = (printf("%s\n", mast_buf_cstr(&dir)), 0);
    else if (!strcmp(sub, "show") || !strcmp(sub, "rm"))
        rc = !name ? cli_usage("models", "%s needs a model's name (mast models list shows them)", sub)
             : optind + 2 < argc ? cli_usage("models", "unexpected argument '%s'", argv[optind + 2])
             : !strcmp(sub, "show") ? models_show(mast_buf_cstr(&dir), name, verify, json)
                                    : models_rm(mast_buf_cstr(&dir), name, json);
    else
        rc = cli_usage("models", "unknown subcommand '%s' (list, show, rm or path)", sub);
    mast_buf_free(&dir);
    return rc;
}

/* The paths cli_model_path found: they live as long as the command. */
static char *found[64];
static size_t n_found;

static void free_found(void)
{
    for (size_t i = 0; i < n_found; i++)
        free(found[i]);
    n_found = 0;
}

const char *cli_model_path(const char *arg)
{
    if (!arg || strchr(arg, '/') || access(arg, F_OK) == 0 || !mast_model_name_ok(arg))
        return arg;
    mast_buf path = {0};
    if (mast_models_find_file(NULL, arg, &path) != MAST_OK || n_found == sizeof found / sizeof *found) {
        mast_buf_free(&path);
        return arg;   /* the error will name the argument as given */
    }
    if (!n_found)
        atexit(free_found);
    found[n_found] = mast_buf_detach(&path);
    return found[n_found] ? found[n_found++] : arg;
}

mast_status cli_model_exists(const char *arg)
{
    if (arg && access(arg, F_OK) == 0)
        return MAST_OK;
    mast_buf dir = {0};
    mast_status st;
    if (arg && !strchr(arg, '/') && mast_model_name_ok(arg) && mast_models_dir(&dir) == MAST_OK)
        st = mast_fail(MAST_ERR_NOT_FOUND, "%s: no such file, and no model of that name in %s (mast models "
                       "list shows them; mast pull URL gets one)", arg, mast_buf_cstr(&dir));
    else
        st = mast_fail(MAST_ERR_NOT_FOUND, "%s: %s", arg ? arg : "", strerror(errno));
    mast_buf_free(&dir);
    return st;
}
