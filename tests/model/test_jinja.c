/*
** tests/model/test_jinja.c — the Jinja interpreter (model/jinja.h): every
** shared template against the reference engine's renderings, then the
** language's corners one by one.
*/
#include <jansson.h>

#include "base/buf.h"
#include "base/json.h"
#include "model/jinja.h"
#include "test.h"

static const struct tm fixed_now = {.tm_year = 126, .tm_mon = 0, .tm_mday = 15, .tm_hour = 9,
                                    .tm_min = 30, .tm_sec = 0, .tm_wday = 4, .tm_yday = 14};

static char *data_path(const char *rel)
{
    const char *root = getenv("MAST_SHARED_DATA");
    mast_buf b = {0};
    mast_buf_printf(&b, "%s/%s", root ? root : "../shared/data", rel);
    return mast_buf_detach(&b);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mast_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        mast_buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return mast_buf_detach(&b);
}

/* The vars transformers passes for one shared conversation. */
static json_t *conversation_vars(const json_t *conv)
{
    json_t *vars = json_deep_copy(json_object_get(conv, "variables"));
    json_object_set(vars, "messages", json_object_get(conv, "messages"));
    json_object_set(vars, "add_generation_prompt", json_object_get(conv, "add_generation_prompt"));
    if (json_object_get(conv, "tools"))
        json_object_set(vars, "tools", json_object_get(conv, "tools"));
    return vars;
}

/* The reference's message without its exception class ("UndefinedError: "). */
static const char *strip_class(const char *msg)
{
    const char *colon = strstr(msg, "Error: ");
    return colon ? colon + 7 : msg;
}

static void test_shared_templates(void)
{
    char *dir = data_path("templates");
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *expected = json_load_file(path, 0, NULL);
    snprintf(path, sizeof path, "%s/conversations.json", dir);
    json_t *convs = json_load_file(path, 0, NULL);
    REQUIRE(expected && convs);
    int texts = 0, errors = 0, text_ok = 0, error_ok = 0, shown = 0;
    const char *file;
    json_t *cases;
    json_object_foreach(expected, file, cases) {
        snprintf(path, sizeof path, "%s/%s", dir, file);
        size_t len;
        char *src = read_file(path, &len);
        REQUIRE(src);
        mast_jinja *t = NULL;
        mast_status st = mast_jinja_parse(src, len, file, &t);
        if (st != MAST_OK)
            fprintf(stderr, "  %s: %s\n", file, mast_errmsg());
        size_t i;
        json_t *conv;
        json_array_foreach(convs, i, conv) {
            const char *name = json_string_value(json_object_get(conv, "name"));
            json_t *want = json_object_get(cases, name);
            if (!want)
                continue;
            const char *text = json_string_value(json_object_get(want, "text"));
            const char *err = json_string_value(json_object_get(want, "error"));
            texts += text != NULL;
            errors += err != NULL;
            if (!t)
                continue;
            json_t *vars = conversation_vars(conv);
            mast_buf out = {0};
            mast_jinja_opts o = {&fixed_now};
            st = mast_jinja_render(t, vars, &o, &out);
            if (text && st == MAST_OK && strcmp(mast_buf_cstr(&out), text) == 0) {
                text_ok++;
            } else if (err && st != MAST_OK && strcmp(mast_errmsg(), strip_class(err)) == 0) {
                error_ok++;
            } else if (shown++ < 12) {
                fprintf(stderr, "  %s / %s:\n", file, name);
                if (st != MAST_OK)
                    fprintf(stderr, "    got error: %s\n", mast_errmsg());
                else
                    fprintf(stderr, "    got:  %.600s\n", mast_buf_cstr(&out));
                fprintf(stderr, "    want: %.600s\n", text ? text : err);
            }
            mast_buf_free(&out);
            json_decref(vars);
        }
        mast_jinja_free(t);
        free(src);
    }
    fprintf(stderr, "  renderings: %d of %d; refusals: %d of %d\n", text_ok, texts, error_ok, errors);
    CHECK_EQ_INT(texts, 310);
    CHECK_EQ_INT(text_ok, texts);
    CHECK_EQ_INT(error_ok, errors);
    json_decref(expected);
    json_decref(convs);
    free(dir);
}

/* Renders src with vars (JSON text); returns the text or "ERROR: message". */
static char *render(const char *src, const char *vars_json)
{
    mast_jinja *t = NULL;
    mast_buf out = {0};
    if (mast_jinja_parse(src, strlen(src), "t", &t) != MAST_OK) {
        mast_buf_printf(&out, "PARSE: %s", mast_errmsg());
        return mast_buf_detach(&out);
    }
    json_t *vars = json_loads(vars_json ? vars_json : "{}", 0, NULL);
    mast_jinja_opts o = {&fixed_now};
    if (mast_jinja_render(t, vars, &o, &out) != MAST_OK)
        mast_buf_printf(&out, "ERROR: %s", mast_errmsg());
    json_decref(vars);
    mast_jinja_free(t);
    return mast_buf_detach(&out);
}

#define RENDERS(src, vars, want) do { char *got_ = render(src, vars); \
    CHECK_EQ_STR(got_, want); free(got_); } while (0)

static void test_whitespace(void)
{
    /* trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it */
    RENDERS("{% if true %}\n  yes\n{% endif %}\n", NULL, "  yes\n");
    RENDERS("a\n    {% if true %}b{% endif %}\nc", NULL, "a\nbc");
    RENDERS("a  {%- if true -%}  b  {%- endif %}", NULL, "ab");
    RENDERS("a {{- 'x' -}} b", NULL, "axb");
    RENDERS("  {%+ if true %}x{% endif %}", NULL, "  x");
    RENDERS("a {# note #}\nb", NULL, "a b");
    RENDERS("{{ 'x' }}\n", NULL, "x\n");   /* no trim after an expression */
}

static void test_expressions(void)
{
    RENDERS("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }}", NULL,
            "7 3 -4 1 1024 3.5");
    RENDERS("{{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }}", NULL, "a1None abab [1, 2]");
    RENDERS("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 3 not in [1, 2] }}", NULL, "True True True");
    RENDERS("{{ x if x else 'no' }} {{ y or 'd' }}", "{\"x\": 0}", "no d");
    RENDERS("{{ {'a': 1, 'b': [1, 'x', none, true, 1.5]} }}", NULL,
            "{'a': 1, 'b': [1, 'x', None, True, 1.5]}");
    RENDERS("{{ \"it's\" }} {{ ['it\\'s'] }} {{ (1,) }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }}", NULL,
            "it's [\"it's\"] (1,) 1.0 1e+20 0.30000000000000004");
    RENDERS("{{ s[1:] }}|{{ s[:-1] }}|{{ s[::-1] }}|{{ s[0] }}|{{ l[-1] }}", "{\"s\": \"h\\u00e9llo\", \"l\": [1, 2]}",
            "éllo|héll|olléh|h|2");
    RENDERS("{{ m.content }}{{ m['role'] }}{{ m.items()|list }}", "{\"m\": {\"role\": \"r\", \"content\": \"c\"}}",
            "cr[('role', 'r'), ('content', 'c')]");
}

static void test_statements(void)
{
    RENDERS("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
            "{\"xs\": [\"a\", \"b\"]}", "1a,2b");
    RENDERS("{% for x in xs if x > 1 %}{{ loop.index0 }}:{{ x }}({{ loop.length }}){% endfor %}",
            "{\"xs\": [1, 2, 3]}", "0:2(2)1:3(2)");
    RENDERS("{% for k, v in d.items() %}{{ k }}={{ v }};{% else %}none{% endfor %}",
            "{\"d\": {\"a\": 1, \"b\": 2}}", "a=1;b=2;");
    RENDERS("{% for x in [] %}x{% else %}empty{% endfor %}", NULL, "empty");
    RENDERS("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
            NULL, "13");
    /* a set in a loop does not leak; a namespace carries it out */
    RENDERS("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set n = n + x %}"
            "{% set ns.n = ns.n + x %}{% endfor %}{{ n }} {{ ns.n }}", NULL, "0 3");
    RENDERS("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
            "{{ greet('a') }} {{ greet('b', punct='?') }}", NULL, "Hi a! Hi b?");
    RENDERS("{% set a, b = [1, 2] %}{{ b }}{{ a }}", NULL, "21");
    RENDERS("{% set x %}  body {% endset %}[{{ x }}]{% filter upper %}up{% endfilter %}", NULL,
            "[  body ]UP");
    RENDERS("{% generation %}gen{% endgeneration %}", NULL, "gen");
    RENDERS("{% for m in ms %}{{ loop.previtem is defined }}{{ loop.nextitem|default('-') }}{% endfor %}",
            "{\"ms\": [1, 2]}", "False2True-");
}

static void test_filters_and_tests(void)
{
    RENDERS("{{ '  x '|trim }}|{{ 'a,b'.split(',') }}|{{ ' a  b '.split() }}|{{ 'xaby'.strip('xy') }}",
            NULL, "x|['a', 'b']|['a', 'b']|ab");
    RENDERS("{{ [3, 1, 2]|sort|join('-') }} {{ ['b', 'A', 'a']|unique|list }} {{ 'Hi'|upper }}{{ 'Hi'|lower }}",
            NULL, "1-2-3 ['b', 'A'] HIhi");
    RENDERS("{{ {'b': 1, 'A': 2}|dictsort }} {{ x|default('d') }} {{ ''|default('e', true) }}", NULL,
            "[('A', 2), ('b', 1)] d e");
    RENDERS("{{ ms|selectattr('r', 'equalto', 'u')|map(attribute='c')|join }}{{ ms|rejectattr('r', 'equalto', 'u')|list|length }}",
            "{\"ms\": [{\"r\": \"u\", \"c\": \"1\"}, {\"r\": \"a\", \"c\": \"2\"}, {\"r\": \"u\", \"c\": \"3\"}]}",
            "131");
    RENDERS("{{ '<a>'|safe + '<b>' }} {{ '<a>' ~ '<b>'|safe }} {{ \"'\"|e }}", NULL, "<a>&lt;b&gt; <a><b> &#39;");
    RENDERS("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}", NULL, "a\n  b\n\n  c|  a\n  b");
    RENDERS("{{ {'a': [1, 'é', none, 1.5, true]}|tojson }} {{ {'a': 1}|tojson(indent=2) }}", NULL,
            "{\"a\": [1, \"é\", null, 1.5, true]} {\n  \"a\": 1\n}");
    RENDERS("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true, separators=(',', ':')) }}", NULL,
            "{\"a\":2,\"b\":1}");
    RENDERS("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}"
            "{{ 1 is number }}{{ true is boolean }}{{ 3 is odd }}{{ 4 is divisibleby 2 }}{{ x is not defined }}",
            NULL, "FalseTrueTrueTrueTrueTrueTrueTrueTrueTrue");
    RENDERS("{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'a-b'.replace('-', '+') }}"
            "{{ d.get('k', 'none') }}{{ [1, 2, 3].pop() }}",
            "{\"d\": {}}", "TrueTruea+bnone3");
    RENDERS("{{ strftime_now('%Y-%m-%d %H:%M, %d %b %Y') }} {{ range(3)|list }} {{ range(1, 6, 2)|list }}",
            NULL, "2026-01-15 09:30, 15 Jan 2026 [0, 1, 2] [1, 3, 5]");
}

static void test_errors(void)
{
    RENDERS("{{ raise_exception('no system role') }}", NULL, "ERROR: no system role");
    RENDERS("{{ x.y }}", NULL, "ERROR: 'x' is undefined");
    RENDERS("{{ d.k + 'a' }}", "{\"d\": {}}", "ERROR: 'dict object' has no attribute 'k'");
    RENDERS("{{ d.k }}[{{ x }}]", "{\"d\": {}}", "[]");   /* printing an undefined is not an error */
    RENDERS("{{ 'a' + 1 }}", NULL, "ERROR: can only concatenate str (not \"int\") to str");
    RENDERS("{{ 1 < 'a' }}", NULL, "ERROR: '<' not supported between instances of 'int' and 'str'");
    RENDERS("{{ x|nosuch }}", NULL, "ERROR: No filter named 'nosuch'.");
    /* bounds: a runaway template fails instead of holding its caller */
    RENDERS("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", NULL,
            "ERROR: the template ran for more than 20000000 steps");
    RENDERS("{{ 'x' * 100000000 }}", NULL, "ERROR: the template used more than 64 MiB of memory");
    RENDERS("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            NULL, "ERROR: the template used more than 64 MiB of memory");
    RENDERS("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL,
            "ERROR: macros nested deeper than 100");
    /* parse errors name the line */
    RENDERS("a\n{% if x %}\nb", NULL, "PARSE: template t, line 3: unexpected end of template: '{% endif %}' missing");
    RENDERS("{{ 1 + }}", NULL, "PARSE: template t, line 1: expected an expression, found '}}'");
    RENDERS("{% include 'x' %}", NULL, "PARSE: template t, line 1: unsupported tag 'include'");
    RENDERS("{{ 'abc }}", NULL, "PARSE: template t, line 1: unterminated string");
    RENDERS("{% endif %}", NULL, "PARSE: template t, line 1: unexpected '{% endif %}'");
}

int main(void)
{
    RUN(test_shared_templates);
    RUN(test_whitespace);
    RUN(test_expressions);
    RUN(test_statements);
    RUN(test_filters_and_tests);
    RUN(test_errors);
    return test_summary();
}
