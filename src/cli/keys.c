/*
** cli/keys.c — `mast keys create|list|revoke` (the gateway's virtual API
** keys) and `mast usage` (what they spent).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/sha256.h"
#include "cli/cli.h"
#include "data/store_keys.h"
#include "deploy/keys.h"

static const char keys_help[] =
    "Usage: mast keys create --name NAME [--models a,b] [--budget-usd 10/day] [--rpm N] [--tpm N]\n"
    "       mast keys list [--json]\n"
    "       mast keys revoke NAME\n"
    "\n"
    "Virtual API keys for `mast serve`. Once a store has one, the model API (/v1/chat/completions,\n"
    "/v1/completions, /v1/embeddings, /v1/messages, /v1/models, /apply-template) refuses requests\n"
    "without a valid key (401), with a key outside its models (403), or over its limits or\n"
    "budget (429, with the reason). Clients send the key as OpenAI's (Authorization: Bearer KEY)\n"
    "or Anthropic's (x-api-key: KEY). A running server reads new keys on SIGHUP.\n"
    "\n"
    "create prints the key once: only its SHA-256 and its first 8 characters are stored.\n"
    "  --models a,b          the model names it may use (default: any)\n"
    "  --budget-usd N[/day|/month]  the spend at which it stops (default per: total), priced\n"
    "                        from mast.yaml's prices and the providers' reported usage\n"
    "  --rpm N, --tpm N      requests and tokens per minute\n"
    "Options: --db PATH (default $MAST_DB or ./mast.db), --json, -h.\n";

static const char usage_help[] =
    "Usage: mast usage [--key NAME] [--model NAME] [--since YYYY-MM-DD] [--json] [--db PATH]\n"
    "\n"
    "What the gateway's requests used and cost, per key, model and UTC day: requests, input\n"
    "tokens (with the cached ones and the cache writes among them), output tokens (with the\n"
    "reasoning ones among them) and USD.\n";

static int create(int argc, char **argv, const char *db)
{
    const char *name = NULL, *models = NULL, *budget = NULL;
    long rpm = 0, tpm = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--name") && v)
            name = argv[++i];
        else if (!strcmp(a, "--models") && v)
            models = argv[++i];
        else if (!strcmp(a, "--budget-usd") && v)
            budget = argv[++i];
        else if (!strcmp(a, "--rpm") && v) {
            if (!cli_parse_int("keys", "--rpm", argv[++i], 1, 100000000, &rpm))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--tpm") && v) {
            if (!cli_parse_int("keys", "--tpm", argv[++i], 1, 2000000000, &tpm))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--db") && v) {
            i++;
        } else {
            return cli_usage("keys", "unexpected argument '%s'", a);
        }
    }
    if (!name || !*name || strlen(name) > 100)
        return cli_usage("keys", "create needs --name NAME (1 to 100 characters)");
    double usd = -1;
    char period[8] = "total";
    if (budget) {
        char *end;
        usd = strtod(budget, &end);
        if (end == budget || usd < 0)
            return cli_usage("keys", "--budget-usd wants N, N/day or N/month (got '%s')", budget);
        if (*end == '/' && (!strcmp(end + 1, "day") || !strcmp(end + 1, "month")))
            snprintf(period, sizeof period, "%s", end + 1);
        else if (*end)
            return cli_usage("keys", "--budget-usd wants N, N/day or N/month (got '%s')", budget);
    }
    json_t *list = json_array();
    for (const char *p = models; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n)
            json_array_append_new(list, json_stringn(p, n));
        p = c ? c + 1 : p + n;
    }
    char key[48], hash[65], prefix[12];
    mast_key_generate(key);
    mast_sha256_hex(key, strlen(key), hash);
    snprintf(prefix, sizeof prefix, "%.8s", key);
    mast_store *store;
    mast_status st = cli_open_store(db, &store);
    if (st == MAST_OK) {
        mast_key_spec spec = {name, hash, prefix, list, usd, period, (int)rpm, (int)tpm};
        st = mast_store_key_add(store, &spec);
        mast_store_close(store);
    }
    json_decref(list);
    if (st != MAST_OK)
        return cli_fail_arg(st);
    printf("%s\n", key);
    fprintf(stderr, "mast: key '%s' created; it is shown this once (only its hash is kept). A running "
            "server reads it on SIGHUP.\n", name);
    return 0;
}

static void print_keys(json_t *keys)
{
    size_t i;
    json_t *k;
    printf("%-20s %-10s %-24s %-18s %s\n", "NAME", "PREFIX", "MODELS", "BUDGET", "LIMITS");
    json_array_foreach(keys, i, k) {
        char models[256] = "", budget[64] = "-", limits[64] = "-";
        size_t m;
        json_t *n;
        json_array_foreach(json_object_get(k, "models"), m, n)
            snprintf(models + strlen(models), sizeof models - strlen(models), "%s%s", m ? "," : "",
                     json_string_value(n));
        if (json_is_number(json_object_get(k, "budget_usd")))
            snprintf(budget, sizeof budget, "$%g/%s", json_number_value(json_object_get(k, "budget_usd")),
                     mast_json_get_str(k, "budget_period", "total"));
        if (json_integer_value(json_object_get(k, "rpm")) || json_integer_value(json_object_get(k, "tpm")))
            snprintf(limits, sizeof limits, "%lld rpm, %lld tpm",
                     (long long)json_integer_value(json_object_get(k, "rpm")),
                     (long long)json_integer_value(json_object_get(k, "tpm")));
        printf("%-20s %-10s %-24s %-18s %s\n", mast_json_get_str(k, "name", ""),
               mast_json_get_str(k, "prefix", ""), *models ? models : "(any)", budget, limits);
    }
}

int cmd_keys(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[i + 1];
        if (!strcmp(argv[i], "--json"))
            json = 1;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(keys_help, stdout), 0;
    }
    if (argc < 2)
        return cli_usage("keys", "expected create, list or revoke");
    if (!strcmp(argv[1], "create"))
        return create(argc, argv, db);
    mast_store *store;
    mast_status st;
    if (!strcmp(argv[1], "list")) {
        json_t *keys;
        st = cli_open_store_read(db, &store);
        if (st == MAST_OK) {
            st = mast_store_keys(store, false, false, &keys);
            mast_store_close(store);
        }
        if (st != MAST_OK)
            return cli_fail(st);
        if (json)
            cli_print_json(keys);
        else {
            print_keys(keys);
            json_decref(keys);
        }
        return 0;
    }
    if (!strcmp(argv[1], "revoke")) {
        if (argc < 3 || argv[2][0] == '-')
            return cli_usage("keys", "revoke needs the key's NAME");
        st = cli_open_store(db, &store);
        if (st == MAST_OK) {
            st = mast_store_key_revoke(store, argv[2]);
            mast_store_close(store);
        }
        if (st != MAST_OK)
            return cli_fail_arg(st);
        fprintf(stderr, "mast: key '%s' revoked (a running server drops it on SIGHUP)\n", argv[2]);
        return 0;
    }
    return cli_usage("keys", "unknown subcommand '%s' (create, list or revoke)", argv[1]);
}

int cmd_usage(int argc, char **argv)
{
    const char *db = NULL, *key = NULL, *model = NULL, *since = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--db") && v)
            db = argv[++i];
        else if (!strcmp(argv[i], "--key") && v)
            key = argv[++i];
        else if (!strcmp(argv[i], "--model") && v)
            model = argv[++i];
        else if (!strcmp(argv[i], "--since") && v)
            since = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(usage_help, stdout), 0;
        else
            return cli_usage("usage", "unexpected argument '%s'", argv[i]);
    }
    mast_store *store;
    json_t *rows;
    mast_status st = cli_open_store_read(db, &store);
    if (st == MAST_OK) {
        st = mast_store_usage(store, key, model, since, &rows);
        mast_store_close(store);
    }
    if (st != MAST_OK)
        return cli_fail(st);
    if (json) {
        cli_print_json(rows);
        return 0;
    }
    printf("%-10s %-16s %-12s %8s %10s %10s %10s %10s %12s\n", "DAY", "KEY", "MODEL", "REQUESTS",
           "INPUT", "CACHED", "OUTPUT", "REASONING", "USD");
    size_t i;
    json_t *r;
    double total = 0;
    json_array_foreach(rows, i, r) {
        double usd = json_number_value(json_object_get(r, "cost_usd"));
        total += usd;
        printf("%-10s %-16s %-12s %8lld %10lld %10lld %10lld %10lld %12.6f\n", mast_json_get_str(r, "day", ""),
               mast_json_get_str(r, "key", ""), mast_json_get_str(r, "model", ""),
               (long long)json_integer_value(json_object_get(r, "requests")),
               (long long)json_integer_value(json_object_get(r, "input_tokens")),
               (long long)json_integer_value(json_object_get(r, "cached_tokens")),
               (long long)json_integer_value(json_object_get(r, "output_tokens")),
               (long long)json_integer_value(json_object_get(r, "reasoning_tokens")), usd);
    }
    printf("%-78s %12.6f\n", "total", total);
    json_decref(rows);
    return 0;
}
