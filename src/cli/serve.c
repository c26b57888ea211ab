/*
** cli/serve.c — `mast serve`: run the HTTP API until SIGINT or SIGTERM.
*/
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "deploy/server/server.h"

static const char serve_help[] =
    "Usage: mast serve [options]\n"
    "\n"
    "Serves the HTTP API until interrupted (SIGINT/SIGTERM stop it cleanly):\n"
    "  GET  /health                              liveness and version\n"
    "  GET  /v1/collections                      collections with counts and settings\n"
    "  POST /v1/collections                      {\"name\", \"embed_model\"?, \"language\"?, \"dim\"?,\n"
    "                                            \"metric\"?} creates one\n"
    "  GET|DELETE /v1/collections/NAME           one collection (with its index files) / delete it\n"
    "  POST /v1/collections/NAME/documents       {\"documents\": [{\"id\", \"text\", \"title\"?,\n"
    "                                            \"metadata\"?, \"vector\"?}]} upserts, per-document results\n"
    "  GET  /v1/collections/NAME/documents       ?limit=100&offset=0&filter=key=value\n"
    "  GET|DELETE /v1/collections/NAME/documents/ID   one document with its chunks / delete it\n"
    "  POST /v1/collections/NAME/search          {\"query\": \"...\" and/or \"vector\": [...], \"k\": 10,\n"
    "                                            \"mode\", \"fusion\", \"alpha\", \"filter\", ...}\n"
    "  POST /v1/collections/NAME/ask             {\"question\": \"...\", \"k\": 5}\n"
    "  GET  /v1/traces?limit=20                  recent traces;  GET /v1/traces/ID  one trace\n"
    "Unknown body fields are refused (400 names them). Errors use the OpenAI shape\n"
    "{\"error\": {\"message\", \"type\", \"code\"}}. HEAD works on every GET route; OPTIONS\n"
    "answers with Allow (and CORS preflight headers for an allowed origin).\n"
    "\n"
    "Options:\n"
    "      --host ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
    "      --port N            port (default 8080; 0 picks a free one)\n"
    "      --threads N         worker threads (default: number of CPUs)\n"
    "      --max-body BYTES    largest request body accepted (default 1048576); a larger\n"
    "                          declared Content-Length is refused before it is read\n"
    "      --max-batch N       documents per upsert request (default 1000)\n"
    "      --cors-origin O     allow browser requests from origin O (\"*\" or a comma-separated\n"
    "                          list of origins such as http://localhost:3000; default: none)\n"
    "      --read-timeout S    a request's headers and body must arrive within S seconds\n"
    "                          (default 15): slow clients cannot hold connections\n"
    "      --max-conns-per-ip N  connections one client address may hold (default 256, at\n"
    "                          most half of all, so one address cannot take them all)\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n";

int cmd_serve(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_HOST, OPT_PORT, OPT_THREADS, OPT_MAX_BODY, OPT_BATCH, OPT_CORS,
           OPT_READ_TIMEOUT, OPT_PER_IP };
    static const struct option options[] = {
        {"max-batch", required_argument, NULL, OPT_BATCH},
        {"cors-origin", required_argument, NULL, OPT_CORS},
        {"read-timeout", required_argument, NULL, OPT_READ_TIMEOUT},
        {"max-conns-per-ip", required_argument, NULL, OPT_PER_IP},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mast_server_opts opts = {.host = "127.0.0.1", .port = MAST_SERVER_DEFAULT_PORT};
    const char *db = NULL;
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_HOST: opts.host = optarg; break;
        case OPT_PORT:
            if (!cli_parse_int("serve", "--port", optarg, 0, 65535, &v))
                return EXIT_USAGE;
            opts.port = (int)v;
            break;
        case OPT_THREADS:
            if (!cli_parse_int("serve", "--threads", optarg, 1, 1024, &v))
                return EXIT_USAGE;
            opts.threads = (int)v;
            break;
        case OPT_MAX_BODY:
            if (!cli_parse_int("serve", "--max-body", optarg, 1024, 1L << 30, &v))
                return EXIT_USAGE;
            opts.max_body_bytes = (size_t)v;
            break;
        case OPT_BATCH:
            if (!cli_parse_int("serve", "--max-batch", optarg, 1, 1000000, &v))
                return EXIT_USAGE;
            opts.max_batch = (size_t)v;
            break;
        case OPT_READ_TIMEOUT:
            if (!cli_parse_int("serve", "--read-timeout", optarg, 1, 3600, &v))
                return EXIT_USAGE;
            opts.read_timeout_s = (int)v;
            break;
        case OPT_PER_IP:
            if (!cli_parse_int("serve", "--max-conns-per-ip", optarg, 1, 1000000, &v))
                return EXIT_USAGE;
            opts.max_conns_per_ip = (int)v;
            break;
        case OPT_CORS:
            if (!*optarg)
                return cli_usage("serve", "--cors-origin needs an origin (or \"*\")");
            opts.cors_origin = optarg;
            break;
        case OPT_DB: db = optarg; break;
        case 'h': fputs(serve_help, stdout); return 0;
        default: return cli_bad_option("serve", argv);
        }
    }
    if (optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    struct in_addr addr;
    if (inet_pton(AF_INET, opts.host, &addr) != 1)
        return cli_usage("serve", "--host must be an IPv4 address such as 127.0.0.1 or 0.0.0.0 "
                         "(got '%s')", opts.host);
    opts.db_path = mast_store_default_path(db);

    /* Block the stop signals before any thread starts, so that every server
    ** thread inherits the mask and only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    mast_server *server;
    mast_status st = mast_server_start(&server, &opts);
    if (st != MAST_OK)
        return cli_fail(st);
    fprintf(stderr, "mast: serving %s on http://%s:%d (Ctrl-C to stop)\n", opts.db_path,
            opts.host, mast_server_port(server));
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "mast: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mast_server_stop(server);
    return 0;
}
