/*
** cli/serve.c — `mast serve`: run the HTTP API until SIGINT or SIGTERM.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/mmap.h"
#include "cli/cli.h"
#include "deploy/config.h"
#include "model/jinja.h"
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
    "With models (-m, --embed-model), the OpenAI- and Anthropic-compatible API too:\n"
    "  GET  /v1/models, /v1/models/ID            the served models, their context and capabilities\n"
    "  POST /v1/chat/completions                 chat: stream, tools, response_format (JSON Schema,\n"
    "                                            enforced while sampling), seed, stop, logit_bias\n"
    "  POST /v1/completions                      a prompt completed as is\n"
    "  POST /v1/embeddings                       strings or token ids; float or base64\n"
    "  POST /v1/messages                         Anthropic Messages (stream, tools)\n"
    "  POST /v1/messages/count_tokens            the prompt's size in tokens\n"
    "  POST /apply-template                      the prompt text a chat renders to\n"
    "  GET  /slots                               every chat model's slots and their state\n"
    "  GET  /metrics                             Prometheus metrics (OpenMetrics on Accept)\n"
    "  GET  /v1/usage?model=&since=&key=         what the gateway's requests used and cost\n"
    "  POST /admin/models/ID/load, /unload       load a model now ({\"keep_alive\"?}) / unload it\n"
    "A request's \"model\" names a model by alias or file stem (the first model when absent).\n"
    "A model loads on its first request (which waits for it; its trace's model.load span\n"
    "says cold) unless --preload; \"keep_alive\" in a request (seconds or 5m, 1h; 0 unloads\n"
    "after the request, -1 never) or --keep-alive says how long it stays once idle.\n"
    "GET /health answers 503 while a --preload model loads, else 200.\n"
    "Each chat model runs up to --parallel requests together (continuous batching: every\n"
    "step decodes one token of each in one pass over the weights; a newcomer's prompt is\n"
    "processed --batch-prompt-tokens at a time between steps), and a prompt that starts\n"
    "like one a slot holds reuses that slot's cache (usage.prompt_tokens_details.\n"
    "cached_tokens). The others wait in its queue (429 with Retry-After when it is full).\n"
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
    "  -m, --model FILE        serve a GGUF chat model (repeatable); a NAME that is not a\n"
    "                          file is the models folder's (mast models list)\n"
    "      --alias NAME=FILE   call FILE's model NAME in requests (default: the file's stem)\n"
    "      --embed-model FILE  serve a GGUF embedding model for /v1/embeddings (repeatable)\n"
    "      --ctx N             context size of the chat models (default: trained, at most 4096)\n"
    "      --chat-format F     override the models' chat format (chatml, llama3, llama2,\n"
    "                          mistral, zephyr, phi3, gemma, plain) instead of running\n"
    "                          their own Jinja chat templates\n"
    "      --chat-template-file FILE  a Jinja chat template for every -m model instead of\n"
    "                          its own (for models that ship none or a broken one)\n"
    "      --parallel N        requests each chat model runs together (its slots; default:\n"
    "                          as many full contexts as a quarter of the free memory holds,\n"
    "                          1 to 16). A slot's KV cache grows as its request needs it\n"
    "      --kv-memory SIZE    the KV cache every slot of a chat model may hold together\n"
    "                          (512M, 2G; default: no limit): a request reserves room for its\n"
    "                          prompt and max_tokens, dropping idle slots' cached prefixes, or\n"
    "                          waits for running ones to end; one that could never fit is a 400\n"
    "      --kv-type T         the chat models' KV cache: f16 (default), f32, or q8_0 (half\n"
    "                          f16's bytes: faster at long contexts, more slots in memory)\n"
    "      --cache-dir DIR     keep the slots' prompt caches in DIR when a model unloads or\n"
    "                          the server stops, and restore them when it loads again: a\n"
    "                          long shared prefix is not recomputed after a restart\n"
    "      --batch-prompt-tokens N  prompt tokens processed per step while others generate\n"
    "                          (default 128; smaller keeps their inter-token latency steadier;\n"
    "                          alone, a prompt is processed whole in one step)\n"
    "      --queue N           requests that may wait per model beyond its slots (default 16)\n"
    "      --models-dir DIR    also offer every GGUF file of DIR by its name (files pulled\n"
    "                          there later too), e.g. the models folder: $MAST_MODELS, else\n"
    "                          $XDG_DATA_HOME/mast/models (~/.local/share/mast/models)\n"
    "      --preload           load the -m and --embed-model models at start-up, not on\n"
    "                          their first request (--models-dir's load on first use)\n"
    "      --max-loaded N      models in memory at once (default: no limit); loading another\n"
    "                          unloads the least recently used (a busy one once its\n"
    "                          requests end)\n"
    "      --max-model-memory SIZE  the same as bytes (8G): each model counts as its file\n"
    "                          plus its --kv-memory\n"
    "      --keep-alive D      how long an idle model stays loaded (30s, 5m, 1h; 0: unload\n"
    "                          after each request; default -1: until another needs the room)\n"
    "      --model-threads N   threads each model computes with (default: every CPU)\n"
    "      --config FILE       a gateway configuration (mast.yaml; default $MAST_CONFIG):\n"
    "                          its models are served by their deployments (OpenAI, Anthropic,\n"
    "                          OpenAI-compatible, local) through the router, with retries,\n"
    "                          fallbacks and cooldown; `mast config check` validates it.\n"
    "                          SIGHUP reloads it (requests in flight keep the old one)\n"
    "      --gateway-threads N threads that drive the gateway's requests to providers,\n"
    "                          each waiting on all of its requests at once (default:\n"
    "                          number of CPUs, at most 64)\n"
    "      --idle-exit S       end the process (status 0) after S seconds without a request\n"
    "                          (none being answered, streams included): scale to zero, with\n"
    "                          socket activation starting it again on the next request\n"
    "      --trace-content     record local generations' messages, output and tool definitions\n"
    "                          in their traces (gen_ai.input.messages, gen_ai.output.messages,\n"
    "                          gen_ai.tool.definitions; off by default: they may hold personal data)\n"
    "      --trace-retention D  delete traces older than D (default 30d; 0: keep them all),\n"
    "                          checked every minute, in small batches off the request path\n"
    "      --trace-max-bytes SIZE  ... and the oldest while the traces take more than SIZE\n"
    "                          (default 1G; 0: no limit)\n"
    "      --db PATH           database (default $MAST_DB or ./mast.db)\n"
    "  -h, --help              this help\n"
    "Socket activation: started by systemd with LISTEN_FDS=1 and LISTEN_PID (its\n"
    "mast.socket unit, contrib/systemd/), mast serves on the socket it inherits as file\n"
    "descriptor 3 instead of --host/--port; requests that arrive while it starts wait in\n"
    "the socket's queue.\n"
    "Traces: a request's traceparent header (W3C) continues the caller's trace. With\n"
    "OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) set, every trace is also sent to\n"
    "that OpenTelemetry collector (OTLP/HTTP; OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf or\n"
    "http/json, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES)\n"
    "from the store, so a collector that is down holds no request.\n";

int cmd_serve(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_HOST, OPT_PORT, OPT_THREADS, OPT_MAX_BODY, OPT_BATCH, OPT_CORS,
           OPT_READ_TIMEOUT, OPT_PER_IP, OPT_ALIAS, OPT_EMBED, OPT_CTX, OPT_FORMAT, OPT_QUEUE,
           OPT_MODEL_THREADS, OPT_TEMPLATE, OPT_CONFIG, OPT_GW_THREADS, OPT_PARALLEL, OPT_PROMPT_CHUNK, OPT_KV, OPT_IDLE_EXIT, OPT_KV_MEMORY,
           OPT_PRELOAD, OPT_MAX_LOADED, OPT_MAX_MEMORY, OPT_KEEP_ALIVE, OPT_MODELS_DIR, OPT_CACHE_DIR,
           OPT_RETENTION, OPT_TRACE_BYTES, OPT_TRACE_CONTENT };
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"alias", required_argument, NULL, OPT_ALIAS},
        {"embed-model", required_argument, NULL, OPT_EMBED},
        {"ctx", required_argument, NULL, OPT_CTX},
        {"chat-format", required_argument, NULL, OPT_FORMAT},
        {"chat-template-file", required_argument, NULL, OPT_TEMPLATE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"gateway-threads", required_argument, NULL, OPT_GW_THREADS},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"kv-type", required_argument, NULL, OPT_KV},
        {"idle-exit", required_argument, NULL, OPT_IDLE_EXIT},
        {"kv-memory", required_argument, NULL, OPT_KV_MEMORY},
        {"preload", no_argument, NULL, OPT_PRELOAD},
        {"max-loaded", required_argument, NULL, OPT_MAX_LOADED},
        {"max-model-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"keep-alive", required_argument, NULL, OPT_KEEP_ALIVE},
        {"models-dir", required_argument, NULL, OPT_MODELS_DIR},
        {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
        {"trace-retention", required_argument, NULL, OPT_RETENTION},
        {"trace-max-bytes", required_argument, NULL, OPT_TRACE_BYTES},
        {"trace-content", no_argument, NULL, OPT_TRACE_CONTENT},
        {"batch-prompt-tokens", required_argument, NULL, OPT_PROMPT_CHUNK},
        {"model-threads", required_argument, NULL, OPT_MODEL_THREADS},
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
    mast_local_opts local = MAST_LOCAL_OPTS_DEFAULT;
    local.slots = -1;   /* from memory */
    mast_model_spec specs[64];
    size_t n_specs = 0;
    char *aliases[64];
    size_t n_aliases = 0;
    const char *db = NULL;
    long v, idle_exit = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hm:", options, NULL)) != -1) {
        switch (c) {
        case 'm':
        case OPT_EMBED:
            if (n_specs == 64)
                return cli_usage("serve", "at most 64 models");
            specs[n_specs++] = (mast_model_spec){cli_model_path(optarg), NULL,
                                                 c == 'm' ? MAST_MODEL_CHAT : MAST_MODEL_EMBED};
            break;
        case OPT_PRELOAD: opts.preload = true; break;
        case OPT_MAX_LOADED:
            if (!cli_parse_int("serve", "--max-loaded", optarg, 1, 4096, &v))
                return EXIT_USAGE;
            opts.max_loaded = (int)v;
            break;
        case OPT_MAX_MEMORY: {
            size_t b;
            if (cli_parse_bytes("serve", "--max-model-memory", optarg, &b) != 0)
                return EXIT_USAGE;
            opts.max_model_memory = b;
            break;
        }
        case OPT_KEEP_ALIVE:
            if (mast_parse_keep_alive(optarg, &opts.keep_alive_ms) != MAST_OK)
                return cli_usage("serve", "--keep-alive: %s", mast_errmsg());
            opts.keep_alive_set = true;
            break;
        case OPT_MODELS_DIR: opts.models_dir = optarg; break;
        case OPT_CACHE_DIR: local.cache_dir = optarg; break;
        case OPT_TRACE_CONTENT: opts.trace_content = true; break;
        case OPT_RETENTION: {
            double secs;
            if (mast_parse_duration(optarg, &secs) != MAST_OK || secs < 0)
                return cli_usage("serve", "--trace-retention wants a duration such as 30d, 12h or 90m "
                                 "(0: keep every trace; got '%s')", optarg);
            opts.trace_retention_ms = secs > 0 ? (int64_t)(secs * 1e3) : -1;
            break;
        }
        case OPT_TRACE_BYTES: {
            size_t b;
            if (cli_parse_bytes("serve", "--trace-max-bytes", optarg, &b) != 0)
                return EXIT_USAGE;
            opts.trace_max_bytes = b ? (int64_t)b : -1;
            break;
        }
        case OPT_ALIAS:
            if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1])
                return cli_usage("serve", "--alias wants NAME=FILE (got '%s')", optarg);
            if (n_aliases == 64)
                return cli_usage("serve", "at most 64 aliases");
            aliases[n_aliases++] = optarg;
            break;
        case OPT_CTX:
            if (!cli_parse_int("serve", "--ctx", optarg, 16, 1 << 20, &v))
                return EXIT_USAGE;
            local.n_ctx = (int)v;
            break;
        case OPT_FORMAT:
            if ((local.chat_format = mast_chat_format_parse(optarg)) < 0)
                return cli_usage("serve", "--chat-format must be chatml, llama3, llama2, mistral, "
                                 "zephyr, phi3, gemma or plain (got '%s')", optarg);
            break;
        case OPT_TEMPLATE: {
            static char *text;   /* the models read it for the server's lifetime */
            free(text);
            mast_jinja *t = NULL;
            mast_status st = cli_read_template(optarg, &text);
            if (st == MAST_OK)   /* a broken file fails now, not when a model loads */
                st = mast_jinja_parse(text, strlen(text), optarg, &t);
            mast_jinja_free(t);
            if (st != MAST_OK)
                return cli_fail(st);
            local.chat_template = text;
            local.chat_template_name = optarg;
            break;
        }
        case OPT_CONFIG: opts.config_path = optarg; break;
        case OPT_GW_THREADS:
            if (!cli_parse_int("serve", "--gateway-threads", optarg, 1, 64, &v))
                return EXIT_USAGE;
            opts.gateway_threads = (int)v;
            break;
        case OPT_MODEL_THREADS:
            if (!cli_parse_int("serve", "--model-threads", optarg, 1, 1024, &v))
                return EXIT_USAGE;
            local.threads = opts.model_threads = (int)v;
            break;
        case OPT_PARALLEL:
            if (!cli_parse_int("serve", "--parallel", optarg, 1, 256, &v))
                return EXIT_USAGE;
            local.slots = (int)v;
            break;
        case OPT_KV_MEMORY:
            if (cli_parse_bytes("serve", "--kv-memory", optarg, &local.kv_memory) != 0)
                return EXIT_USAGE;
            break;
        case OPT_IDLE_EXIT:
            if (!cli_parse_int("serve", "--idle-exit", optarg, 1, 86400 * 365, &v))
                return EXIT_USAGE;
            idle_exit = v;
            break;
        case OPT_KV:
            if (cli_kv_type("serve", optarg, &local.kv_type) != 0)
                return EXIT_USAGE;
            break;
        case OPT_PROMPT_CHUNK:
            if (!cli_parse_int("serve", "--batch-prompt-tokens", optarg, 1, 65536, &v))
                return EXIT_USAGE;
            local.prompt_chunk = (int)v;
            break;
        case OPT_QUEUE:
            if (!cli_parse_int("serve", "--queue", optarg, 1, 100000, &v))
                return EXIT_USAGE;
            opts.queue = (size_t)v;
            break;
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
    /* --alias NAME=FILE names the model served from FILE */
    for (size_t a = 0; a < n_aliases; a++) {
        char *eq = strchr(aliases[a], '=');
        size_t k = 0;
        while (k < n_specs && strcmp(specs[k].path, cli_model_path(eq + 1)))
            k++;
        if (k == n_specs)
            return cli_usage("serve", "--alias %s: '%s' is not a model given with -m or --embed-model",
                             aliases[a], eq + 1);
        *eq = '\0';   /* NAME=FILE: the name ends here */
        specs[k].alias = aliases[a];
    }
    for (size_t k = 0; k < n_specs; k++)
        if (cli_model_exists(specs[k].path) != MAST_OK)
            return cli_fail(MAST_ERR_NOT_FOUND);
    if (local.cache_dir) {   /* made now (with its parents), so a bad one fails here, not at a load */
        struct stat sb;
        if (mast_mkdirs(local.cache_dir) != MAST_OK)
            return cli_usage("serve", "--cache-dir %s", mast_errmsg());
        if (stat(local.cache_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(local.cache_dir, W_OK) != 0)
            return cli_usage("serve", "--cache-dir %s: %s", local.cache_dir,
                             stat(local.cache_dir, &sb) != 0 ? strerror(errno)
                             : !S_ISDIR(sb.st_mode) ? "not a folder" : "not writable");
    }
    opts.models = specs;
    opts.n_models = n_specs;
    opts.local = &local;
    opts.config_path = mast_config_path(opts.config_path);
    /* systemd's socket activation: LISTEN_PID names this process, LISTEN_FDS the sockets from fd 3 */
    const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
    if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid()) {
        long nfds = strtol(lfds, NULL, 10);
        if (nfds != 1)
            return cli_usage("serve", "socket activation passed %ld sockets (LISTEN_FDS); mast "
                             "serves one: give the .socket unit one ListenStream", nfds);
        opts.listen_fd = 3;
        unsetenv("LISTEN_PID");   /* not for the processes mast starts */
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }

    /* Block the stop signals before any thread starts, so that every server
    ** thread inherits the mask and only sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    mast_server *server;
    mast_status st = mast_server_start(&server, &opts);
    if (st != MAST_OK)
        return cli_fail(st);
    if (opts.listen_fd > 0)
        fprintf(stderr, "mast: serving %s on the socket systemd passed (port %d; Ctrl-C to stop)\n",
                opts.db_path, mast_server_port(server));
    else
        fprintf(stderr, "mast: serving %s on http://%s:%d (Ctrl-C to stop)\n", opts.db_path,
                opts.host, mast_server_port(server));
    if (idle_exit)
        fprintf(stderr, "mast: exiting after %ld idle seconds (--idle-exit)\n", idle_exit);
    if (n_specs && opts.preload)
        fprintf(stderr, "mast: loading %zu model%s; GET /health answers 200 once they are ready\n",
                n_specs, n_specs == 1 ? "" : "s");
    else if (n_specs || opts.models_dir)
        fprintf(stderr, "mast: %zu model%s offered%s%s; each loads on its first request\n",
                mast_server_models_count(server), mast_server_models_count(server) == 1 ? "" : "s",
                opts.models_dir ? " from " : "", opts.models_dir ? opts.models_dir : "");
    if (opts.config_path)
        fprintf(stderr, "mast: gateway models from %s (SIGHUP reloads it)\n", opts.config_path);
    int sig = 0;
    for (;;) {
        struct timespec tick = {0, 200 * 1000 * 1000};
        sig = idle_exit ? sigtimedwait(&stop, NULL, &tick) : sigwaitinfo(&stop, NULL);
        if (sig < 0) {   /* a tick (or an interruption): idle long enough? */
            if (idle_exit && mast_server_idle_seconds(server) >= (double)idle_exit)
                break;
            continue;
        }
        if (sig != SIGHUP)
            break;
        if (mast_server_reload(server) == MAST_OK)
            fprintf(stderr, "mast: SIGHUP: reloaded %s\n", opts.config_path);
        else
            fprintf(stderr, "mast: SIGHUP: %s (the previous configuration stays)\n", mast_errmsg());
    }
    if (sig < 0)
        fprintf(stderr, "mast: idle for %ld seconds, stopping (--idle-exit)\n", idle_exit);
    else
        fprintf(stderr, "mast: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mast_server_stop(server);
    return 0;
}
