/*
** tests/deploy/test_router.c — mast.yaml (base/yaml.h, deploy/config.h) and
** the router's decisions (deploy/router.h), with attempts that follow a
** script: which deployment is tried, how often, after which wait.
*/
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "base/yaml.h"
#include "deploy/config.h"
#include "deploy/router.h"
#include "test.h"

static void test_yaml_types_and_refusals(void)
{
    const char *text = "a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: hello world\ng: [x, 2]\nh: {k: v}\n";
    mast_yaml *y;
    REQUIRE(mast_yaml_parse(text, strlen(text), "t.yaml", &y) == MAST_OK);
    char *s = json_dumps(mast_yaml_root(y), JSON_COMPACT);
    CHECK_EQ_STR(s, "{\"a\":1,\"b\":1.5,\"c\":true,\"d\":null,\"e\":\"1\",\"f\":\"hello world\",\"g\":[\"x\",2],\"h\":{\"k\":\"v\"}}");
    free(s);
    CHECK_EQ_INT(mast_yaml_line(y, json_object_get(mast_yaml_root(y), "g")), 7);
    mast_yaml_free(y);
    const char *bad[][2] = {
        {"a: 1\na: 2\n", "t.yaml:2: the key 'a' appears twice"},
        {"a: &x 1\nb: *x\n", "t.yaml:1: anchors (&name) are not supported"},
        {"a: [1\n", "t.yaml:2:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(mast_yaml_parse(bad[i][0], strlen(bad[i][0]), "t.yaml", &y), MAST_ERR_FORMAT);
        CHECK(strstr(mast_errmsg(), bad[i][1]) != NULL);
    }
}

static mast_config *load(const char *text)
{
    char buf[4096];
    if (strstr(text, "%s")) {   /* CONFIG: the policy goes in */
        snprintf(buf, sizeof buf, text, "least-busy");
        text = buf;
    }
    mast_config *c = NULL;
    if (mast_config_parse(text, strlen(text), "m.yaml", &c) != MAST_OK)
        fprintf(stderr, "  config: %s\n", mast_errmsg());
    return c;
}

static const char CONFIG[] =
    "models:\n"
    "  - name: a\n"
    "    deployments:\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: a0, price: {input: 1, output: 2}}\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: a1, price: {input: 0.5, output: 1}}\n"
    "  - name: b\n"
    "    deployments:\n"
    "      - {provider: anthropic, base_url: 'http://h', model: b0}\n"
    "  - name: c\n"
    "    deployments:\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: c0}\n"
    "router:\n"
    "  a: {policy: %s, retries: 2, fallbacks: [b], context_window_fallbacks: [c], backoff: 10ms,\n"
    "      allowed_fails: 2, cooldown: 1m}\n";

/* The attempts' script: the class each one returns, in order; the log of ids. */
typedef struct script {
    mast_err_class classes[16];
    double retry_after[16];
    int n, at;
    char log[512];
} script;

static mast_err_class scripted(void *ctx, const mast_gw_model *m, const mast_deployment *d, int attempt,
                               double *retry_after, double *ttft)
{
    script *s = ctx;
    (void)m;
    (void)attempt;
    snprintf(s->log + strlen(s->log), sizeof s->log - strlen(s->log), "%s ", d->model);
    *ttft = 0.01;
    *retry_after = s->at < s->n ? s->retry_after[s->at] : -1;
    return s->at < s->n ? s->classes[s->at++] : MAST_CLASS_OK;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_router_decisions(void)
{
    struct { mast_err_class c[4]; double ra[4]; int n; const char *log; mast_err_class last; const char *model; } rows[] = {
        {{MAST_CLASS_OK}, {-1}, 0, "a0 ", MAST_CLASS_OK, "a"},
        /* a rate limit goes to the other deployment at once */
        {{MAST_CLASS_RATE_LIMIT}, {-1}, 1, "a0 a1 ", MAST_CLASS_OK, "a"},
        /* both fail: the same again (retries 2), then the fallback model */
        {{MAST_CLASS_SERVER, MAST_CLASS_OVERLOADED, MAST_CLASS_SERVER}, {-1, -1, -1}, 3, "a0 a1 a0 b0 ", MAST_CLASS_OK, "b"},
        /* context window: the context fallback, without retrying */
        {{MAST_CLASS_CONTEXT_WINDOW}, {-1}, 1, "a0 c0 ", MAST_CLASS_OK, "c"},
        /* a bad request ends it */
        {{MAST_CLASS_BAD_REQUEST}, {-1}, 1, "a0 ", MAST_CLASS_BAD_REQUEST, "a"},
        /* bytes reached the client: no retry */
        {{MAST_CLASS_STARTED}, {-1}, 1, "a0 ", MAST_CLASS_STARTED, "a"},
        /* authentication: no retry on the model, but its fallback */
        {{MAST_CLASS_AUTH}, {-1}, 1, "a0 b0 ", MAST_CLASS_OK, "b"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        mast_router *r;   /* each row from fresh state: no failures remembered */
        REQUIRE(mast_router_new(load(CONFIG), &r) == MAST_OK);
        const mast_gw_model *a = mast_config_model(mast_router_config(r), "a");
        script s = {.n = rows[i].n};
        memcpy(s.classes, rows[i].c, sizeof rows[i].c);
        memcpy(s.retry_after, rows[i].ra, sizeof rows[i].ra);
        mast_run_result res = mast_router_run(r, a, NULL, scripted, &s, NULL);
        CHECK_EQ_STR(s.log, rows[i].log);
        CHECK_EQ_INT(res.last, rows[i].last);
        CHECK_EQ_STR(res.model->name, rows[i].model);
        mast_router_release(r);
    }
}

static void test_backoff_honours_retry_after(void)
{
    mast_router *r;
    REQUIRE(mast_router_new(load(CONFIG), &r) == MAST_OK);
    const mast_gw_model *a = mast_config_model(mast_router_config(r), "a");
    script s = {.classes = {MAST_CLASS_RATE_LIMIT, MAST_CLASS_RATE_LIMIT}, .retry_after = {0.3, 0.3}, .n = 2};
    double t0 = now();
    mast_run_result res = mast_router_run(r, a, NULL, scripted, &s, NULL);
    double took = now() - t0;
    CHECK_EQ_STR(s.log, "a0 a1 a0 ");   /* both limited: the first again, after Retry-After */
    CHECK_EQ_INT(res.last, MAST_CLASS_OK);
    CHECK(took >= 0.3 && took < 2);
    CHECK_NEAR(res.waited, 0.3, 0.01);
    mast_router_release(r);
}

static void test_breaker_rests_a_failing_deployment(void)
{
    mast_router *r;
    REQUIRE(mast_router_new(load(CONFIG), &r) == MAST_OK);
    const mast_gw_model *a = mast_config_model(mast_router_config(r), "a");
    for (int k = 0; k < 2; k++) {   /* allowed_fails 2: a0 fails twice in a row */
        script s = {.classes = {MAST_CLASS_SERVER}, .retry_after = {-1}, .n = 1};
        mast_router_run(r, a, NULL, scripted, &s, NULL);
    }
    CHECK(mast_router_status(r, &a->deps[0]).resting);
    CHECK(!mast_router_status(r, &a->deps[1]).resting);
    script s = {0};
    mast_router_run(r, a, NULL, scripted, &s, NULL);
    CHECK_EQ_STR(s.log, "a1 ");   /* a0 rests for the cooldown */
    mast_router_release(r);
}

static void test_policies(void)
{
    char text[4096];
    snprintf(text, sizeof text, CONFIG, "lowest-cost");
    mast_router *r;
    mast_config *c = load(text);
    REQUIRE(c);
    REQUIRE(mast_router_new(c, &r) == MAST_OK);
    const mast_gw_model *a = mast_config_model(mast_router_config(r), "a");
    script s = {0};
    mast_router_run(r, a, NULL, scripted, &s, NULL);
    CHECK_EQ_STR(s.log, "a1 ");   /* the cheaper one */
    mast_router_release(r);
}

static const char RULES[] =
    "models:\n"
    "  - name: a\n"
    "    deployments:\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: a0, tags: [eu], supports: [json]}\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: a1}\n"
    "  - name: long\n"
    "    deployments:\n"
    "      - {provider: openai-compatible, base_url: 'http://h/v1', model: long0}\n"
    "  - name: b\n"
    "    deployments:\n"
    "      - {provider: anthropic, base_url: 'http://h', model: b0, supports: []}\n"
    "router:\n"
    "  a:\n"
    "    policy: lowest-cost\n"
    "    rules:\n"
    "      - {if: {prompt_tokens_over: 100}, then: {model: long}}\n"
    "      - {if: {metadata: {tier: premium}}, then: {model: b}}\n"
    "      - {if: {tags: [eu]}, then: {deployment_tags: [eu]}}\n"
    "      - {if: {response_format: json_schema, tools: false}, then: {model: b}}\n"
    "  long:\n"
    "    rules: [{if: {tools: true}, then: {model: a}}]\n";

static void test_rules(void)
{
    mast_router *r;
    REQUIRE(mast_router_new(load(RULES), &r) == MAST_OK);
    const mast_gw_model *a = mast_config_model(mast_router_config(r), "a");
    json_t *premium = json_pack("{s:s}", "tier", "premium"), *basic = json_pack("{s:s}", "tier", "basic");
    struct { mast_route_req q; const char *log; int rule_line; bool none; } rows[] = {
        {{.prompt_tokens = 10}, "a0 ", 0, false},                  /* no rule: the first (equal prices) */
        {{.prompt_tokens = 101}, "long0 ", 16, false},             /* over the threshold */
        {{.prompt_tokens = 100}, "a0 ", 0, false},                 /* "over" is strict */
        {{.prompt_tokens = 101, .tools = true}, "long0 ", 21, false}, /* long would hand it back: cut */
        {{.metadata = premium}, "b0 ", 17, false},
        {{.metadata = premium, .tools = true}, "", 17, true},      /* b0 supports neither tools nor json */
        {{.metadata = basic}, "a0 ", 0, false},
        {{.tags = "x, eu"}, "a0 ", 18, false},                     /* only deployments tagged eu */
        {{.tags = "eu", .tools = true}, "", 18, true},             /* a0 is eu but cannot use tools */
        {{.tools = true}, "a1 ", 0, false},                        /* a0 does not support tools */
        {{.response_format = "json_schema"}, "", 19, true},
        {{.response_format = "json_object"}, "a0 ", 0, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        script s = {0};
        mast_run_result res = mast_router_run(r, a, &rows[i].q, scripted, &s, NULL);
        CHECK_EQ_STR(s.log, rows[i].log);
        CHECK_EQ_INT(res.rule ? res.rule->line : 0, rows[i].rule_line);
        CHECK_EQ_INT(res.none_eligible, rows[i].none);
        CHECK_EQ_INT(res.attempts, rows[i].none ? 0 : 1);
    }
    json_decref(premium);
    json_decref(basic);
    /* the estimate counts the messages' and tools' text, not the JSON around it */
    json_t *body = json_loads("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", "
                              "\"text\": \"one two three four five six\"}]}]}", 0, NULL);
    /* 8 (six words), 2 ("user"), 2 ("text"), and one for each key with a string: role, type, text */
    CHECK_EQ_INT(mast_request_tokens(body), 15);
    json_decref(body);
    mast_router_release(r);
}

static void test_config_refusals(void)
{
    struct { const char *text, *msg; } rows[] = {
        {"models: []\n", "m.yaml:1: models: expected a non-empty list of models"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: grpc, model: m}\n",
         "m.yaml:4: models[0].deployments[0].provider: expected openai, anthropic, openai-compatible or local"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: local}\n",
         "m.yaml:4: models[0].deployments[0]: 'path' is required"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai-compatible, model: m}\n",
         "m.yaml:4: models[0].deployments[0]: 'base_url' is required"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m, rpm: -1}\n",
         "models[0].deployments[0].rpm: -1 is out of range"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m, base_url: ftp://h}\n",
         "models[0].deployments[0].base_url: expected an http:// or https:// URL"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nrouter:\n  y: {}\n",
         "m.yaml:6: router.y: no model is named 'y'"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nextra: 1\n",
         "m.yaml:5: the file: unknown key 'extra' (known: models, router)"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m, supports: [vision]}\n",
         "m.yaml:4: models[0].deployments[0].supports: expected tools or json"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nrouter:\n  x:\n"
         "    rules:\n      - {if: {tools: true}, then: {model: y}}\n",
         "m.yaml:8: router.x.rules[0].then: no model is named 'y'"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nrouter:\n  x:\n"
         "    rules:\n      - {if: {tools: true}}\n",
         "m.yaml:8: router.x.rules[0].then: expected then: {model: NAME} or {deployment_tags: [...]}"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nrouter:\n  x:\n"
         "    rules:\n      - {if: {response_format: xml}, then: {model: x}}\n",
         "router.x.rules[0].if: response_format: expected json_object, json_schema, json or text"},
        {"models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m}\nrouter:\n  x:\n"
         "    rules:\n      - {if: {prompt_tokens: 5}, then: {model: x}}\n",
         "m.yaml:8: router.x.rules[0].if: unknown key 'prompt_tokens' (known: prompt_tokens_over, tools, "
         "response_format, tags, metadata)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        mast_config *c = NULL;
        mast_status st = mast_config_parse(rows[i].text, strlen(rows[i].text), "m.yaml", &c);
        CHECK_EQ_INT(st, MAST_ERR_INVALID);
        if (!strstr(mast_errmsg(), rows[i].msg))
            CHECK_EQ_STR(mast_errmsg(), rows[i].msg);
        mast_config_free(c);
    }
    /* a secret from a file, trimmed, and masked when described */
    FILE *f = fopen("/tmp/mast-test-key", "w");
    fputs("sk-from-a-file-0123456789\n", f);
    fclose(f);
    mast_config *c = load("models:\n  - name: x\n    deployments:\n      - {provider: openai, model: m, "
                          "api_key_file: /tmp/mast-test-key}\n");
    REQUIRE(c);
    CHECK_EQ_STR(c->models[0].deps[0].api_key, "sk-from-a-file-0123456789");
    json_t *desc = mast_config_describe(c);
    char *d = json_dumps(desc, JSON_COMPACT);
    json_decref(desc);
    CHECK(strstr(d, "file /tmp/mast-test-key = …6789") != NULL);
    CHECK(strstr(d, "sk-from-a-file") == NULL);
    free(d);
    mast_config_free(c);
    remove("/tmp/mast-test-key");
}

int main(void)
{
    RUN(test_yaml_types_and_refusals);
    RUN(test_router_decisions);
    RUN(test_backoff_honours_retry_after);
    RUN(test_breaker_rests_a_failing_deployment);
    RUN(test_policies);
    RUN(test_rules);
    RUN(test_config_refusals);
    return test_summary();
}
