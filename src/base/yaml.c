/*
** base/yaml.c — YAML → JSON values with their lines (see yaml.h).
*/
#include "base/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/mmap.h"
#include "base/status.h"

#define MAX_DEPTH 64

typedef struct node_line {
    const json_t *v;
    int line;
} node_line;

struct mast_yaml {
    char *name;
    json_t *root;
    node_line *lines;
    size_t n_lines, cap_lines;
};

static void remember(mast_yaml *y, const json_t *v, int line)
{
    if (mast_grow_array((void **)&y->lines, &y->cap_lines, y->n_lines + 1, sizeof *y->lines))
        y->lines[y->n_lines++] = (node_line){v, line};
}

/* A plain scalar as YAML's core schema types it. */
static json_t *typed_scalar(const char *s, size_t n, bool plain)
{
    if (!plain)
        return json_stringn(s, n);
    if (n == 0 || (n == 1 && s[0] == '~') || (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
                                                        !memcmp(s, "NULL", 4))))
        return json_null();
    if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))))
        return json_true();
    if ((n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))))
        return json_false();
    char buf[64];
    if (n < sizeof buf) {
        memcpy(buf, s, n);
        buf[n] = 0;
        char *end;
        errno = 0;
        long long i = strtoll(buf, &end, 10);
        if (*end == 0 && errno == 0 && end != buf && (buf[0] != '0' || n == 1 || buf[0] == '-'))
            return json_integer(i);
        double d = strtod(buf, &end);
        bool has_digit = strpbrk(buf, "0123456789") != NULL;
        if (*end == 0 && end != buf && has_digit && isfinite(d) && !strpbrk(buf, "xXpP") &&
            strspn(buf, "+-0123456789.eE") == n)
            return json_real(d);
    }
    return json_stringn(s, n);
}

typedef struct frame {
    json_t *container;
    char *key;           /* a mapping's key waiting for its value */
    int key_line;
} frame;

/* Adds v (taken) to the innermost container, or makes it the root. */
static mast_status place(mast_yaml *y, frame *stack, int depth, json_t *v, int line)
{
    if (!v)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    if (depth == 0) {
        remember(y, v, line);
        if (y->root) {
            json_decref(v);
            return mast_fail(MAST_ERR_FORMAT, "%s:%d: more than one document", y->name, line);
        }
        y->root = v;
        return MAST_OK;
    }
    frame *f = &stack[depth - 1];
    if (json_is_array(f->container)) {
        remember(y, v, line);
        json_array_append_new(f->container, v);
        return MAST_OK;
    }
    if (!f->key) {   /* v is a key */
        if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v)) {
            json_decref(v);
            return mast_fail(MAST_ERR_FORMAT, "%s:%d: a mapping's key must be a plain value", y->name,
                             line);
        }
        char b[32];
        if (json_is_integer(v))
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        f->key = strdup(json_is_string(v) ? json_string_value(v) : json_is_integer(v) ? b
                        : json_is_true(v) ? "true" : "false");
        f->key_line = line;
        json_decref(v);
        if (!f->key)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        if (json_object_get(f->container, f->key))
            return mast_fail(MAST_ERR_FORMAT, "%s:%d: the key '%s' appears twice", y->name, line,
                             f->key);
        return MAST_OK;
    }
    remember(y, v, line);   /* keys are not remembered: they are freed, their addresses reused */
    json_object_set_new(f->container, f->key, v);
    free(f->key);
    f->key = NULL;
    return MAST_OK;
}

mast_status mast_yaml_parse(const char *text, size_t len, const char *name, mast_yaml **out)
{
    *out = NULL;
    mast_yaml *y = calloc(1, sizeof *y);
    if (!y || !(y->name = strdup(name ? name : "(yaml)"))) {
        free(y);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        mast_yaml_free(y);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    frame stack[MAX_DEPTH];
    int depth = 0;
    mast_status st = MAST_OK;
    bool done = false;
    while (st == MAST_OK && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            st = mast_fail(MAST_ERR_FORMAT, "%s:%zu: %s%s%s", y->name, p.problem_mark.line + 1,
                           p.problem ? p.problem : "not YAML", p.context ? " " : "",
                           p.context ? p.context : "");
            break;
        }
        int line = (int)e.start_mark.line + 1;
        switch (e.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            st = mast_fail(MAST_ERR_FORMAT, "%s:%d: aliases (*name) are not supported", y->name, line);
            break;
        case YAML_SCALAR_EVENT:
            if (e.data.scalar.anchor)
                st = mast_fail(MAST_ERR_FORMAT, "%s:%d: anchors (&name) are not supported", y->name, line);
            else
                st = place(y, stack, depth,
                           typed_scalar((const char *)e.data.scalar.value, e.data.scalar.length,
                                        e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE),
                           line);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const unsigned char *anchor = e.type == YAML_SEQUENCE_START_EVENT
                                              ? e.data.sequence_start.anchor : e.data.mapping_start.anchor;
            if (anchor) {
                st = mast_fail(MAST_ERR_FORMAT, "%s:%d: anchors (&name) are not supported", y->name, line);
                break;
            }
            if (depth == MAX_DEPTH) {
                st = mast_fail(MAST_ERR_FORMAT, "%s:%d: nested deeper than %d", y->name, line, MAX_DEPTH);
                break;
            }
            json_t *c = e.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
            json_incref(c);   /* one reference for the stack */
            st = place(y, stack, depth, c, line);
            if (st == MAST_OK)
                stack[depth++] = (frame){c, NULL, 0};
            else
                json_decref(c);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) {
                depth--;
                free(stack[depth].key);
                json_decref(stack[depth].container);
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&e);
    }
    while (depth > 0) {
        depth--;
        free(stack[depth].key);
        json_decref(stack[depth].container);
    }
    yaml_parser_delete(&p);
    if (st == MAST_OK && !y->root)
        y->root = json_null();
    if (st != MAST_OK) {
        mast_yaml_free(y);
        return st;
    }
    *out = y;
    return MAST_OK;
}

mast_status mast_yaml_load(const char *path, mast_yaml **out)
{
    char *text;
    size_t len;
    *out = NULL;
    MAST_TRY(mast_read_file(path, 16 << 20, &text, &len));
    mast_status st = mast_yaml_parse(text, len, path, out);
    free(text);
    return st;
}

void mast_yaml_free(mast_yaml *y)
{
    if (!y)
        return;
    json_decref(y->root);
    free(y->lines);
    free(y->name);
    free(y);
}

json_t *mast_yaml_root(const mast_yaml *y)
{
    return y->root;
}

int mast_yaml_line(const mast_yaml *y, const json_t *v)
{
    for (size_t i = 0; i < y->n_lines; i++)
        if (y->lines[i].v == v)
            return y->lines[i].line;
    return 0;
}

const char *mast_yaml_name(const mast_yaml *y)
{
    return y->name;
}
