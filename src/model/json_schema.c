/*
** model/json_schema.c — a JSON Schema as a GBNF grammar of compact JSON
** (see grammar.h for what is supported).
**
** Each subschema becomes a rule r<N>; shared pieces (strings, numbers, any
** value) are fixed rules at the end. Objects list their properties in the
** schema's order, each optional one optional, with commas placed by a pair
** of rules per position (one for "something came before", one for
** "nothing yet"). A property not in "properties" is only generated when
** "additionalProperties" asks for it, so the output stays bounded whenever
** the schema bounds it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "model/grammar.h"

#define MAX_SCHEMA_DEPTH 64

typedef struct ref_memo {
    char *ref;
    int rule;
} ref_memo;

typedef struct sctx {
    const json_t *root;
    mast_buf *out;
    int n_rules;
    ref_memo *refs;
    size_t n_refs, cap_refs;
} sctx;

static const char PRIMITIVES[] =
    /* an escaped \\u is never a surrogate: a character then counts once,
    ** as a JSON reader counts it (minLength and maxLength) */
    "char ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-CefEF] xdigit{3} | [dD] [0-7] xdigit{2}))\n"
    "xdigit ::= [0-9a-fA-F]\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "uint ::= \"0\" | [1-9] [0-9]{0,15}\n"
    "integer ::= \"-\"? uint\n"
    "frac ::= \".\" [0-9]{1,15}\n"
    "exp ::= [eE] [-+]? [0-9]{1,3}\n"
    "number ::= \"-\"? uint frac? exp?\n"
    "boolean ::= \"true\" | \"false\"\n"
    "null ::= \"null\"\n"
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" (string \":\" value (\",\" string \":\" value)*)? \"}\"\n"
    "array ::= \"[\" (value (\",\" value)*)? \"]\"\n"
    /* real dates only: years 1000-9999, each month's days (February's 28) */
    "date ::= [1-9] [0-9]{3} \"-\" ((\"0\" [13578] | \"1\" [02]) \"-\" d31 | (\"0\" [469] | \"11\") \"-\" d30 | \"02-\" d28)\n"
    "d28 ::= \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]\n"
    "d30 ::= d28 | \"29\" | \"30\"\n"
    "d31 ::= d30 | \"31\"\n"
    "time ::= ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? "
    "(\"Z\" | [-+] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])\n"
    "hex ::= [0-9a-f]\n"
    "uuid ::= hex{8} \"-\" hex{4} \"-\" hex{4} \"-\" hex{4} \"-\" hex{12}\n";

const char *mast_grammar_json_object_gbnf(void)
{
    static char text[sizeof PRIMITIVES + 32];
    if (!text[0])
        snprintf(text, sizeof text, "root ::= object\n%s", PRIMITIVES);
    return text;
}

static mast_status unsupported(const char *path, const char *what)
{
    return mast_fail(MAST_ERR_UNSUPPORTED, "schema at %s: %s is not supported", path, what);
}

/* A GBNF literal of bytes s[0..n). */
static mast_status literal(mast_buf *b, const char *s, size_t n)
{
    MAST_TRY(mast_buf_putc(b, '"'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            MAST_TRY(mast_buf_printf(b, "\\%c", c));
        else if (c < 0x20 || c == 0x7f)
            MAST_TRY(mast_buf_printf(b, "\\x%02x", c));
        else
            MAST_TRY(mast_buf_putc(b, (char)c));
    }
    return mast_buf_putc(b, '"');
}

/* A JSON value as the literal of its compact text. */
static mast_status json_literal(mast_buf *b, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_status st = literal(b, text, strlen(text));
    free(text);
    return st;
}

static int new_rule(sctx *c)
{
    return ++c->n_rules;
}

static mast_status gen(sctx *c, const json_t *s, const char *path, int depth, int *rule);

/* r ::= open r<subs[0]> sep r<subs[1]> … close */
static mast_status write_rule(mast_buf *b, int r, const char *open, const int *subs, size_t n,
                              const char *sep, const char *close)
{
    MAST_TRY(mast_buf_printf(b, "r%d ::=%s", r, open));
    for (size_t i = 0; i < n; i++)
        MAST_TRY(mast_buf_printf(b, "%s r%d", i ? sep : "", subs[i]));
    return mast_buf_printf(b, "%s\n", close);
}

static const char *const KNOWN[] = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "items",
    "prefixItems", "minItems", "maxItems", "anyOf", "oneOf", "allOf", "minLength", "maxLength",
    "format", "minimum", "exclusiveMinimum", "$ref", "$defs", "definitions", "title",
    "description", "default", "examples", "$schema", "$id", "$comment", "strict", "deprecated",
    "readOnly", "writeOnly", NULL};

static mast_status check_keywords(const json_t *s, const char *path)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v) {
        bool ok = false;
        for (size_t i = 0; KNOWN[i] && !ok; i++)
            ok = strcmp(key, KNOWN[i]) == 0;
        if (!ok) {
            char what[160];
            snprintf(what, sizeof what, "the keyword '%.100s'", key);
            return unsupported(path, what);
        }
    }
    return MAST_OK;
}

static mast_status get_count(const json_t *s, const char *key, const char *path, long dflt, long *out)
{
    const json_t *v = json_object_get(s, key);
    *out = dflt;
    if (!v)
        return MAST_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
        return mast_fail(MAST_ERR_INVALID, "schema at %s: '%s' must be an integer from 0 to 10000",
                         path, key);
    *out = (long)json_integer_value(v);
    return MAST_OK;
}

static mast_status repetition(mast_buf *b, long min, long max)
{
    if (max < 0)
        return min == 0 ? mast_buf_putc(b, '*') : min == 1 ? mast_buf_putc(b, '+')
                                                           : mast_buf_printf(b, "{%ld,}", min);
    if (min == max)
        return min == 1 ? MAST_OK : mast_buf_printf(b, "{%ld}", min);
    return mast_buf_printf(b, "{%ld,%ld}", min, max);
}

static mast_status gen_string(sctx *c, const json_t *s, const char *path, int r)
{
    mast_buf *b = c->out;
    const char *format = mast_json_get_str(s, "format", NULL);
    long min, max;
    MAST_TRY(get_count(s, "minLength", path, 0, &min));
    MAST_TRY(get_count(s, "maxLength", path, -1, &max));
    if (max >= 0 && max < min)
        return mast_fail(MAST_ERR_INVALID, "schema at %s: maxLength is below minLength", path);
    const char *f = NULL;
    if (format && !strcmp(format, "date"))
        f = "date";
    else if (format && !strcmp(format, "time"))
        f = "time";
    else if (format && !strcmp(format, "date-time"))
        f = "date \"T\" time";
    else if (format && !strcmp(format, "uuid"))
        f = "uuid";
    if (f)   /* formats fix their length */
        return mast_buf_printf(b, "r%d ::= \"\\\"\" %s \"\\\"\"\n", r, f);
    if (!min && max < 0)
        return mast_buf_printf(b, "r%d ::= string\n", r);
    MAST_TRY(mast_buf_printf(b, "r%d ::= \"\\\"\" char", r));
    MAST_TRY(repetition(b, min, max));
    return mast_buf_puts(b, " \"\\\"\"\n");
}

static mast_status gen_number(sctx *c, const json_t *s, const char *path, int r, bool integer)
{
    const json_t *min = json_object_get(s, "minimum"), *xmin = json_object_get(s, "exclusiveMinimum");
    const char *body = integer ? "integer" : "number";
    if (min && xmin)
        return unsupported(path, "'minimum' together with 'exclusiveMinimum'");
    if (min) {
        if (!json_is_number(min) || (json_number_value(min) != 0 && json_number_value(min) != 1))
            return unsupported(path, "a 'minimum' other than 0 or 1");
        body = json_number_value(min) == 0 ? (integer ? "uint" : "uint frac? exp?")
                                           : (integer ? "[1-9] [0-9]{0,15}" : "[1-9] [0-9]{0,15} frac? exp?");
    } else if (xmin) {
        if (!json_is_number(xmin) || json_number_value(xmin) != 0 || !integer)
            return unsupported(path, "an 'exclusiveMinimum' other than 0 on an integer");
        body = "[1-9] [0-9]{0,15}";
    }
    return mast_buf_printf(c->out, "r%d ::= %s\n", r, body);
}

static mast_status gen_object(sctx *c, const json_t *s, const char *path, int depth, int r)
{
    const json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    const json_t *addl = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props))
        return mast_fail(MAST_ERR_INVALID, "schema at %s: 'properties' must be an object", path);
    if (req && !json_is_array(req))
        return mast_fail(MAST_ERR_INVALID, "schema at %s: 'required' must be an array", path);
    if (!props && !req && (!addl || json_is_true(addl)))
        return mast_buf_printf(c->out, "r%d ::= object\n", r);
    /* the keys in order: properties, then required names not among them */
    size_t n = (props ? json_object_size(props) : 0) + (req ? json_array_size(req) : 0);
    const char **keys = calloc(n + 1, sizeof *keys);
    int *rules = calloc(n + 1, sizeof *rules);
    bool *must = calloc(n + 1, sizeof *must);
    mast_status st = keys && rules && must ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t k = 0;
    const char *key;
    json_t *sub;
    char sub_path[512];
    if (props && st == MAST_OK)
        json_object_foreach((json_t *)props, key, sub) {
            snprintf(sub_path, sizeof sub_path, "%s/properties/%s", path, key);
            keys[k] = key;
            st = gen(c, sub, sub_path, depth + 1, &rules[k]);
            if (st != MAST_OK)
                break;
            k++;
        }
    for (size_t i = 0; req && st == MAST_OK && i < json_array_size(req); i++) {
        const char *name = json_string_value(json_array_get(req, i));
        if (!name) {
            st = mast_fail(MAST_ERR_INVALID, "schema at %s: 'required' must list strings", path);
            break;
        }
        size_t j = 0;
        while (j < k && strcmp(keys[j], name))
            j++;
        if (j == k) {   /* required but not described: any value */
            keys[k] = name;
            rules[k] = 0;
            k++;
        }
        must[j] = true;
    }
    int extra = -1;   /* the rule of an additional property's value; -1: none */
    if (st == MAST_OK && addl && !json_is_false(addl)) {
        if (json_is_true(addl)) {
            extra = 0;
        } else {
            snprintf(sub_path, sizeof sub_path, "%s/additionalProperties", path);
            st = gen(c, addl, sub_path, depth + 1, &extra);
        }
    }
    /* per position i: A_i = the rest when a member came before (each
    ** member after a comma), F_i = the rest when none came yet */
    int base = c->n_rules;
    c->n_rules += 2 * (int)(k + 1);
    mast_buf *b = c->out;
    for (size_t i = 0; st == MAST_OK && i <= k; i++) {
        int A = base + 1 + 2 * (int)i, F = A + 1, A1 = A + 2, F1 = A + 3;
        if (i == k) {
            if (extra < 0)
                st = mast_buf_printf(b, "r%d ::= \"\"\nr%d ::= \"\"\n", A, F);
            else if (extra == 0)
                st = mast_buf_printf(b, "r%d ::= (\",\" string \":\" value)*\n"
                                        "r%d ::= (string \":\" value (\",\" string \":\" value)*)?\n", A, F);
            else
                st = mast_buf_printf(b, "r%d ::= (\",\" string \":\" r%d)*\n"
                                        "r%d ::= (string \":\" r%d (\",\" string \":\" r%d)*)?\n",
                                     A, extra, F, extra, extra);
            break;
        }
        mast_buf kv = {0};
        json_t *name = json_string(keys[i]);
        st = json_literal(&kv, name);
        json_decref(name);
        if (st == MAST_OK)
            st = rules[i] ? mast_buf_printf(&kv, " \":\" r%d", rules[i])
                          : mast_buf_puts(&kv, " \":\" value");
        if (st == MAST_OK && must[i])
            st = mast_buf_printf(b, "r%d ::= \",\" %s r%d\nr%d ::= %s r%d\n", A, kv.data, A1, F,
                                 kv.data, A1);
        else if (st == MAST_OK)
            st = mast_buf_printf(b, "r%d ::= \",\" %s r%d | r%d\nr%d ::= %s r%d | r%d\n", A, kv.data,
                                 A1, A1, F, kv.data, A1, F1);
        mast_buf_free(&kv);
    }
    if (st == MAST_OK)
        st = mast_buf_printf(b, "r%d ::= \"{\" r%d \"}\"\n", r, base + 2);
    free(keys);
    free(rules);
    free(must);
    return st;
}

static mast_status gen_array(sctx *c, const json_t *s, const char *path, int depth, int r)
{
    long min, max;
    MAST_TRY(get_count(s, "minItems", path, 0, &min));
    MAST_TRY(get_count(s, "maxItems", path, -1, &max));
    if (max >= 0 && max < min)
        return mast_fail(MAST_ERR_INVALID, "schema at %s: maxItems is below minItems", path);
    const json_t *items = json_object_get(s, "items"), *prefix = json_object_get(s, "prefixItems");
    char sub_path[512];
    mast_buf *b = c->out;
    if (prefix) {
        if (!json_is_array(prefix) || !json_array_size(prefix))
            return mast_fail(MAST_ERR_INVALID, "schema at %s: 'prefixItems' must be a non-empty array", path);
        if (items && !json_is_false(items))
            return unsupported(path, "'items' after 'prefixItems' (other than false)");
        if (json_object_get(s, "minItems") || json_object_get(s, "maxItems"))
            return unsupported(path, "'minItems'/'maxItems' with 'prefixItems'");
        size_t n = json_array_size(prefix);
        int *rules = calloc(n, sizeof *rules);
        if (!rules)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        mast_status st = MAST_OK;
        for (size_t i = 0; i < n && st == MAST_OK; i++) {
            snprintf(sub_path, sizeof sub_path, "%s/prefixItems/%zu", path, i);
            st = gen(c, json_array_get(prefix, i), sub_path, depth + 1, &rules[i]);
        }
        if (st == MAST_OK)
            st = write_rule(b, r, " \"[\"", rules, n, " \",\"", " \"]\"");
        free(rules);
        return st;
    }
    int item = 0;
    if (items && !json_is_true(items)) {
        if (json_is_false(items))   /* no items at all */
            return mast_buf_printf(b, "r%d ::= \"[]\"\n", r);
        snprintf(sub_path, sizeof sub_path, "%s/items", path);
        MAST_TRY(gen(c, items, sub_path, depth + 1, &item));
    }
    char it[32];
    if (item)
        snprintf(it, sizeof it, "r%d", item);
    else
        snprintf(it, sizeof it, "value");
    if (max == 0)
        return mast_buf_printf(b, "r%d ::= \"[]\"\n", r);
    if (min == 0) {
        MAST_TRY(mast_buf_printf(b, "r%d ::= \"[\" (%s (\",\" %s)", r, it, it));
        MAST_TRY(repetition(b, 0, max < 0 ? -1 : max - 1));
        return mast_buf_puts(b, ")? \"]\"\n");
    }
    MAST_TRY(mast_buf_printf(b, "r%d ::= \"[\" %s", r, it));
    if (max != 1 || min != 1) {
        MAST_TRY(mast_buf_printf(b, " (\",\" %s)", it));
        MAST_TRY(repetition(b, min - 1, max < 0 ? -1 : max - 1));
    }
    return mast_buf_puts(b, " \"]\"\n");
}

static mast_status gen_typed(sctx *c, const json_t *s, const char *type, const char *path,
                             int depth, int r)
{
    if (!strcmp(type, "string"))
        return gen_string(c, s, path, r);
    if (!strcmp(type, "integer") || !strcmp(type, "number"))
        return gen_number(c, s, path, r, type[0] == 'i');
    if (!strcmp(type, "boolean") || !strcmp(type, "null"))
        return mast_buf_printf(c->out, "r%d ::= %s\n", r, type);
    if (!strcmp(type, "object"))
        return gen_object(c, s, path, depth, r);
    if (!strcmp(type, "array"))
        return gen_array(c, s, path, depth, r);
    return mast_fail(MAST_ERR_INVALID, "schema at %s: unknown type '%s'", path, type);
}

/* The rule of a $ref (made once: recursive schemas refer to themselves). */
static mast_status gen_ref(sctx *c, const char *ref, const char *path, int depth, int *rule)
{
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref)) {
            *rule = c->refs[i].rule;
            return MAST_OK;
        }
    const char *name = NULL;
    const json_t *defs = NULL;
    if (!strncmp(ref, "#/$defs/", 8)) {
        defs = json_object_get(c->root, "$defs");
        name = ref + 8;
    } else if (!strncmp(ref, "#/definitions/", 14)) {
        defs = json_object_get(c->root, "definitions");
        name = ref + 14;
    } else if (!strcmp(ref, "#")) {
        defs = NULL;
    } else {
        return unsupported(path, "a $ref other than #, #/$defs/NAME or #/definitions/NAME");
    }
    const json_t *target = name ? json_object_get(defs, name) : c->root;
    if (!target)
        return mast_fail(MAST_ERR_INVALID, "schema at %s: $ref '%s' names nothing", path, ref);
    if (!mast_grow_array((void **)&c->refs, &c->cap_refs, c->n_refs + 1, sizeof *c->refs) ||
        !(c->refs[c->n_refs].ref = strdup(ref)))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    int r = new_rule(c);
    c->refs[c->n_refs++].rule = r;
    *rule = r;
    int body;
    MAST_TRY(gen(c, target, ref, depth + 1, &body));
    return mast_buf_printf(c->out, "r%d ::= r%d\n", r, body);
}

static mast_status gen(sctx *c, const json_t *s, const char *path, int depth, int *rule)
{
    if (depth > MAX_SCHEMA_DEPTH)
        return mast_fail(MAST_ERR_LIMIT, "schema at %s: nested more than %d deep", path, MAX_SCHEMA_DEPTH);
    if (json_is_true(s) || (json_is_object(s) && !json_object_size(s))) {
        int r = new_rule(c);
        *rule = r;
        return mast_buf_printf(c->out, "r%d ::= value\n", r);
    }
    if (json_is_false(s))
        return unsupported(path, "the schema false (nothing matches it)");
    if (!json_is_object(s))
        return mast_fail(MAST_ERR_INVALID, "schema at %s: a schema must be an object or a boolean", path);
    MAST_TRY(check_keywords(s, path));
    const char *ref = mast_json_get_str(s, "$ref", NULL);
    if (ref) {
        if (json_object_size(s) > 1) {
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)s, key, v)
                if (strcmp(key, "$ref") && strcmp(key, "title") && strcmp(key, "description") &&
                    strcmp(key, "default") && strcmp(key, "$defs") && strcmp(key, "definitions") &&
                    strcmp(key, "$schema"))
                    return unsupported(path, "'$ref' beside other keywords");
        }
        return gen_ref(c, ref, path, depth, rule);
    }
    int r = new_rule(c);
    *rule = r;
    mast_buf *b = c->out;
    const json_t *cst = json_object_get(s, "const"), *en = json_object_get(s, "enum");
    if (cst) {
        MAST_TRY(mast_buf_printf(b, "r%d ::= ", r));
        MAST_TRY(json_literal(b, cst));
        return mast_buf_putc(b, '\n');
    }
    if (en) {
        if (!json_is_array(en) || !json_array_size(en))
            return mast_fail(MAST_ERR_INVALID, "schema at %s: 'enum' must be a non-empty array", path);
        MAST_TRY(mast_buf_printf(b, "r%d ::= ", r));
        for (size_t i = 0; i < json_array_size(en); i++) {
            if (i)
                MAST_TRY(mast_buf_puts(b, " | "));
            MAST_TRY(json_literal(b, json_array_get(en, i)));
        }
        return mast_buf_putc(b, '\n');
    }
    const char *alt_key = json_object_get(s, "anyOf") ? "anyOf" : json_object_get(s, "oneOf") ? "oneOf" : NULL;
    const json_t *all = json_object_get(s, "allOf");
    if (all) {
        if (!json_is_array(all) || json_array_size(all) != 1 || alt_key)
            return unsupported(path, "'allOf' of more than one schema");
        char sub_path[512];
        snprintf(sub_path, sizeof sub_path, "%s/allOf/0", path);
        int sub;
        MAST_TRY(gen(c, json_array_get(all, 0), sub_path, depth + 1, &sub));
        return mast_buf_printf(b, "r%d ::= r%d\n", r, sub);
    }
    if (alt_key) {
        const json_t *alts = json_object_get(s, alt_key);
        if (!json_is_array(alts) || !json_array_size(alts))
            return mast_fail(MAST_ERR_INVALID, "schema at %s: '%s' must be a non-empty array", path, alt_key);
        size_t n = json_array_size(alts);
        int *subs = calloc(n, sizeof *subs);
        if (!subs)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        mast_status st = MAST_OK;
        for (size_t i = 0; i < n && st == MAST_OK; i++) {
            char sub_path[512];
            snprintf(sub_path, sizeof sub_path, "%s/%s/%zu", path, alt_key, i);
            st = gen(c, json_array_get(alts, i), sub_path, depth + 1, &subs[i]);
        }
        if (st == MAST_OK)
            st = write_rule(b, r, "", subs, n, " |", "");
        free(subs);
        return st;
    }
    const json_t *type = json_object_get(s, "type");
    if (!type) {   /* the type the keywords imply */
        const char *t = json_object_get(s, "properties") || json_object_get(s, "required") ||
                                json_object_get(s, "additionalProperties")
                            ? "object"
                        : json_object_get(s, "items") || json_object_get(s, "prefixItems") ? "array"
                        : json_object_get(s, "minLength") || json_object_get(s, "maxLength") ||
                                json_object_get(s, "format")
                            ? "string"
                            : NULL;
        if (!t)
            return mast_buf_printf(b, "r%d ::= value\n", r);
        return gen_typed(c, s, t, path, depth, r);
    }
    if (json_is_string(type))
        return gen_typed(c, s, json_string_value(type), path, depth, r);
    if (!json_is_array(type) || !json_array_size(type))
        return mast_fail(MAST_ERR_INVALID, "schema at %s: 'type' must be a string or an array of "
                         "strings", path);
    size_t n = json_array_size(type);
    int subs[7];   /* the seven JSON Schema types */
    if (n > 7)
        return mast_fail(MAST_ERR_INVALID, "schema at %s: 'type' lists more than the 7 types", path);
    for (size_t i = 0; i < n; i++)
        subs[i] = new_rule(c);
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(type, i));
        if (!t)
            return mast_fail(MAST_ERR_INVALID, "schema at %s: 'type' must list strings", path);
        MAST_TRY(gen_typed(c, s, t, path, depth, subs[i]));
    }
    return write_rule(b, r, "", subs, n, " |", "");
}

mast_status mast_schema_to_gbnf_rules(const json_t *schema, int *n_rules, mast_buf *out, int *root)
{
    sctx c = {schema, out, *n_rules, NULL, 0, 0};
    mast_status st = gen(&c, schema, "#", 0, root);
    *n_rules = c.n_rules;
    for (size_t i = 0; i < c.n_refs; i++)
        free(c.refs[i].ref);
    free(c.refs);
    return st;
}

const char *mast_grammar_primitives_gbnf(void)
{
    return PRIMITIVES;
}

mast_status mast_schema_to_gbnf(const json_t *schema, mast_buf *out)
{
    int n = 0, root;
    MAST_TRY(mast_schema_to_gbnf_rules(schema, &n, out, &root));
    return mast_buf_printf(out, "root ::= r%d\n%s", root, PRIMITIVES);
}
