/*
** cli/config.c — `mast config check FILE`: validates a mast.yaml and prints
** the configuration it resolves to, secrets masked.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "deploy/config.h"

static const char config_help[] =
    "Usage: mast config check [FILE] [--json]\n"
    "\n"
    "Validates a gateway configuration (mast.yaml: models, their deployments, the router's\n"
    "policies) as `mast serve --config` would, and prints what it resolves to: every model\n"
    "with its deployments (provider, base URL, provider model id, prices in USD per million\n"
    "tokens, limits, timeouts) and its routing (policy, retries, fallbacks, cooldown).\n"
    "Secrets are resolved from the environment (${VAR}) or api_key_file and printed masked:\n"
    "\"${UPSTREAM_KEY} = …abcd\". The first problem is reported with its line and key, and\n"
    "the exit status is 1. FILE defaults to $MAST_CONFIG, then ./mast.yaml.\n"
    "\n"
    "Options:\n"
    "      --json              print the resolved configuration as JSON\n"
    "  -h, --help              this help\n";

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "check")) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
            return fputs(config_help, stdout), 0;
        return cli_usage("config", argc < 2 ? "expected a subcommand: check [FILE]"
                                            : "unknown subcommand '%s' (expected check)", argv[1]);
    }
    const char *path = NULL;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(config_help, stdout), 0;
        else if (argv[i][0] == '-')
            return cli_usage("config", "unknown option '%s'", argv[i]);
        else if (path)
            return cli_usage("config", "unexpected argument '%s'", argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        path = mast_config_path(NULL) ? mast_config_path(NULL) : "mast.yaml";
    mast_config *c;
    mast_status st = mast_config_load(path, &c);
    if (st != MAST_OK)
        return cli_fail(st);
    json_t *d = mast_config_describe(c);
    if (json) {
        cli_print_json(d);
    } else {
        printf("%s: ok, %zu model%s\n", path, c->n_models, c->n_models == 1 ? "" : "s");
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(d, "models"), i, m) {
            json_t *r = json_object_get(m, "router");
            printf("\n%s  (policy %s, %lld retries", json_string_value(json_object_get(m, "name")),
                   json_string_value(json_object_get(r, "policy")),
                   (long long)json_integer_value(json_object_get(r, "retries")));
            json_t *fb = json_object_get(r, "fallbacks");
            for (size_t f = 0; f < json_array_size(fb); f++)
                printf("%s%s", f ? ", " : ", fallbacks: ", json_string_value(json_array_get(fb, f)));
            printf(")\n");
            size_t k;
            json_t *dp;
            json_array_foreach(json_object_get(m, "deployments"), k, dp) {
                const char *prov = json_string_value(json_object_get(dp, "provider"));
                printf("  %-14s %-18s %s", json_string_value(json_object_get(dp, "id")), prov,
                       json_object_get(dp, "path") ? json_string_value(json_object_get(dp, "path"))
                                                   : json_string_value(json_object_get(dp, "model")));
                if (json_object_get(dp, "base_url"))
                    printf(" at %s", json_string_value(json_object_get(dp, "base_url")));
                if (json_object_get(dp, "api_key"))
                    printf(", key %s", json_string_value(json_object_get(dp, "api_key")));
                json_t *p = json_object_get(dp, "price_usd_per_million");
                if (p)
                    printf(", $%g/$%g per M in/out", json_number_value(json_object_get(p, "input")),
                           json_number_value(json_object_get(p, "output")));
                printf("\n");
            }
        }
        json_decref(d);
    }
    mast_config_free(c);
    return 0;
}
