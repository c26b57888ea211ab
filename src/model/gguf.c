/*
** model/gguf.c — GGUF reader and writer (see gguf.h).
**
** File layout (little-endian): magic, version u32, n_tensors u64, n_kv u64;
** n_kv times (key string, value type u32, value); n_tensors times (name
** string, n_dims u32, ne u64[n_dims], type u32, offset u64); padding to the
** alignment (general.alignment, default 32); tensor data, each tensor at its
** offset (a multiple of the alignment) from the start of the data section.
** A string is a u64 length then that many bytes.
*/
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/status.h"

/* ---- reading ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, size;
    const char *name;
} cursor;

static int need(const cursor *c, size_t n)
{
    return n <= c->size - c->pos;
}

static int rd(cursor *c, void *out, size_t n)
{
    if (!need(c, n))
        return 0;
    memcpy(out, c->p + c->pos, n);
    c->pos += n;
    return 1;
}

static int rd_str(cursor *c, mast_gguf_str *s)
{
    uint64_t len;
    if (!rd(c, &len, 8) || !need(c, len))
        return 0;
    s->data = (const char *)c->p + c->pos;
    s->len = (size_t)len;
    c->pos += (size_t)len;
    return 1;
}

static const size_t scalar_size[MAST_GGUF_TYPE_COUNT] = {
    [MAST_GGUF_UINT8] = 1, [MAST_GGUF_INT8] = 1, [MAST_GGUF_UINT16] = 2,
    [MAST_GGUF_INT16] = 2, [MAST_GGUF_UINT32] = 4, [MAST_GGUF_INT32] = 4,
    [MAST_GGUF_FLOAT32] = 4, [MAST_GGUF_BOOL] = 1, [MAST_GGUF_UINT64] = 8,
    [MAST_GGUF_INT64] = 8, [MAST_GGUF_FLOAT64] = 8,
};

const char *mast_gguf_type_name(mast_gguf_type t)
{
    static const char *names[MAST_GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return (unsigned)t < MAST_GGUF_TYPE_COUNT ? names[t] : "?";
}

static void decode_scalar(mast_gguf_kv *kv, const uint8_t *p)
{
    switch (kv->type) {
    case MAST_GGUF_UINT8: kv->v.u = p[0]; break;
    case MAST_GGUF_BOOL: kv->v.u = p[0] != 0; break;
    case MAST_GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
    case MAST_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); kv->v.u = x; break; }
    case MAST_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); kv->v.i = x; break; }
    case MAST_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); kv->v.u = x; break; }
    case MAST_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); kv->v.i = x; break; }
    case MAST_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); kv->v.f = x; break; }
    case MAST_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); kv->v.u = x; break; }
    case MAST_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); kv->v.i = x; break; }
    case MAST_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); kv->v.f = x; break; }
    default: break;
    }
}

/* Skips (validating) one value of type t; depth bounds nested arrays. */
static mast_status skip_value(cursor *c, uint32_t t, int depth, const char *key)
{
    if (t >= MAST_GGUF_TYPE_COUNT)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' has unknown value type %u", c->name, key, t);
    if (t == MAST_GGUF_STRING) {
        mast_gguf_str s;
        if (!rd_str(c, &s))
            return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': string extends past end of file",
                             c->name, key);
        return MAST_OK;
    }
    if (t != MAST_GGUF_ARRAY) {
        if (!need(c, scalar_size[t]))
            return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': value extends past end of file",
                             c->name, key);
        c->pos += scalar_size[t];
        return MAST_OK;
    }
    if (depth >= MAST_GGUF_MAX_ARRAY_DEPTH)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d", c->name,
                         key, MAST_GGUF_MAX_ARRAY_DEPTH);
    uint32_t et;
    uint64_t n;
    if (!rd(c, &et, 4) || !rd(c, &n, 8))
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': array header extends past end of file",
                         c->name, key);
    if (et >= MAST_GGUF_TYPE_COUNT)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': array of unknown type %u", c->name, key,
                         et);
    size_t min = et == MAST_GGUF_STRING ? 8 : et == MAST_GGUF_ARRAY ? 12 : scalar_size[et];
    if (n > (c->size - c->pos) / min)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s': array of %llu elements cannot fit in "
                         "the file", c->name, key, (unsigned long long)n);
    if (et != MAST_GGUF_STRING && et != MAST_GGUF_ARRAY) {
        c->pos += (size_t)n * min;
        return MAST_OK;
    }
    for (uint64_t i = 0; i < n; i++)
        MAST_TRY(skip_value(c, et, depth + 1, key));
    return MAST_OK;
}

static mast_status read_kv(cursor *c, mast_gguf_kv *kv, size_t index)
{
    uint32_t t;
    if (!rd_str(c, &kv->key) || !rd(c, &t, 4))
        return mast_fail(MAST_ERR_FORMAT, "%s: metadata entry %zu extends past end of file",
                         c->name, index);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 100 ? kv->key.len : 100), kv->key.data);
    kv->type = (mast_gguf_type)t;
    size_t start = c->pos;
    if (t == MAST_GGUF_ARRAY) {
        cursor peek = *c;
        uint32_t et = 0;
        uint64_t n = 0;
        if (rd(&peek, &et, 4) && rd(&peek, &n, 8)) {
            kv->arr_type = (mast_gguf_type)et;
            kv->arr_n = n;
            kv->arr_data = c->p + peek.pos;
        }
    }
    MAST_TRY(skip_value(c, t, 0, key));
    kv->raw = c->p + start;
    kv->raw_len = c->pos - start;
    if (t != MAST_GGUF_ARRAY && t != MAST_GGUF_STRING)
        decode_scalar(kv, kv->raw);
    if (t == MAST_GGUF_STRING) {
        cursor s = {c->p, start, c->size, c->name};
        rd_str(&s, &kv->v.s);
    }
    if (t == MAST_GGUF_ARRAY && kv->arr_type == MAST_GGUF_STRING) {
        kv->arr_strs = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *kv->arr_strs);
        if (!kv->arr_strs)
            return mast_fail(MAST_ERR_NOMEM, "%s: out of memory", c->name);
        cursor s = {c->p, (size_t)(kv->arr_data - c->p), c->size, c->name};
        for (uint64_t i = 0; i < kv->arr_n; i++)
            rd_str(&s, &kv->arr_strs[i]);
    }
    return MAST_OK;
}

static mast_status read_tensor(cursor *c, mast_tensor_info *t, size_t index)
{
    mast_gguf_str name;
    uint32_t type;
    if (!rd_str(c, &name) || !rd(c, &t->n_dims, 4))
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor info %zu extends past end of file", c->name,
                         index);
    if (name.len >= MAST_GGUF_MAX_NAME)
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor %zu: name longer than %d bytes", c->name,
                         index, MAST_GGUF_MAX_NAME - 1);
    memcpy(t->name, name.data, name.len);
    t->name[name.len] = '\0';
    if (t->n_dims == 0 || t->n_dims > MAST_GGUF_MAX_DIMS)
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1 to %d allowed)",
                         c->name, t->name, t->n_dims, MAST_GGUF_MAX_DIMS);
    for (int d = 0; d < MAST_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (!rd(c, &ne, 8))
            return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' extends past end of file", c->name,
                             t->name);
        if (ne == 0 || ne > ((uint64_t)1 << 40))
            return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' dimension %u is %llu", c->name,
                             t->name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
    }
    if (!rd(c, &type, 4) || !rd(c, &t->offset, 8))
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' extends past end of file", c->name,
                         t->name);
    const mast_dtype_info *info = mast_dtype_get(type);
    if (!info)
        return mast_fail(MAST_ERR_UNSUPPORTED, "%s: tensor '%s' has type %u, which mast does not "
                         "support", c->name, t->name, type);
    t->type = (mast_dtype)type;
    if (t->ne[0] % info->block_size != 0)
        return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s': row length %lld is not a multiple "
                         "of the %s block size %u", c->name, t->name, (long long)t->ne[0],
                         info->name, info->block_size);
    /* elements: the product of the dimensions must stay below 2^62 */
    uint64_t n = 1, limit = (uint64_t)1 << 62;
    for (int d = 0; d < MAST_GGUF_MAX_DIMS; d++) {
        if (n > limit / (uint64_t)t->ne[d])
            return mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' has too many elements", c->name,
                             t->name);
        n *= (uint64_t)t->ne[d];
    }
    t->nbytes = (size_t)(n / info->block_size * info->type_size);
    return MAST_OK;
}

mast_status mast_gguf_parse(mast_gguf **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    mast_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(name))) {
        free(g);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    g->base = data;
    g->size = size;
    cursor c = {data, 0, size, g->path};
    uint32_t magic;
    uint64_t n_tensors = 0, n_kv = 0;
    mast_status st = MAST_OK;
    if (!rd(&c, &magic, 4) || magic != MAST_GGUF_MAGIC)
        st = mast_fail(MAST_ERR_FORMAT, "%s: not a GGUF file (bad magic)", name);
    else if (!rd(&c, &g->version, 4) || (g->version != 2 && g->version != 3))
        st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 or 3)",
                       name, g->version);
    else if (!rd(&c, &n_tensors, 8) || !rd(&c, &n_kv, 8))
        st = mast_fail(MAST_ERR_FORMAT, "%s: truncated header", name);
    else if (n_kv > (size - c.pos) / 13)
        st = mast_fail(MAST_ERR_FORMAT, "%s: %llu metadata entries cannot fit in %zu bytes", name,
                       (unsigned long long)n_kv, size);
    else if (n_tensors > (size - c.pos) / 32)
        st = mast_fail(MAST_ERR_FORMAT, "%s: %llu tensors cannot fit in %zu bytes", name,
                       (unsigned long long)n_tensors, size);
    if (st == MAST_OK) {
        g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
        g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
        if (!g->kv || !g->tensors)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (uint64_t i = 0; st == MAST_OK && i < n_kv; i++) {
        st = read_kv(&c, &g->kv[i], i);
        g->n_kv = i + 1;
    }
    g->alignment = MAST_GGUF_DEFAULT_ALIGNMENT;
    if (st == MAST_OK) {
        const mast_gguf_kv *a = mast_gguf_find(g, "general.alignment");
        if (a) {
            if (a->type != MAST_GGUF_UINT32 || a->v.u == 0 || (a->v.u & (a->v.u - 1)) ||
                a->v.u > 65536)
                st = mast_fail(MAST_ERR_FORMAT, "%s: general.alignment must be a power of two "
                               "u32 (up to 65536)", name);
            else
                g->alignment = (size_t)a->v.u;
        }
    }
    for (uint64_t i = 0; st == MAST_OK && i < n_tensors; i++) {
        st = read_tensor(&c, &g->tensors[i], i);
        g->n_tensors = i + 1;
    }
    if (st == MAST_OK) {
        size_t data_offset = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
        if (data_offset > size && n_tensors > 0)
            st = mast_fail(MAST_ERR_FORMAT, "%s: data section starts past end of file", name);
        g->data_offset = data_offset;
    }
    size_t data_size = g->data_offset <= size ? size - g->data_offset : 0;
    for (size_t i = 0; st == MAST_OK && i < g->n_tensors; i++) {
        mast_tensor_info *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            st = mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' offset %llu is not aligned to %zu",
                           name, t->name, (unsigned long long)t->offset, g->alignment);
        else if (t->offset > data_size || t->nbytes > data_size - t->offset)
            st = mast_fail(MAST_ERR_FORMAT, "%s: tensor '%s' extends past end of file (offset "
                           "%llu + %zu bytes > %zu bytes of data)", name, t->name,
                           (unsigned long long)t->offset, t->nbytes, data_size);
        else
            t->data = g->base + g->data_offset + t->offset;
        for (size_t j = 0; st == MAST_OK && j < i; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0)
                st = mast_fail(MAST_ERR_FORMAT, "%s: duplicate tensor name '%s'", name, t->name);
    }
    if (st != MAST_OK) {
        mast_gguf_close(g);
        return st;
    }
    *out = g;
    return MAST_OK;
}

mast_status mast_gguf_open(mast_gguf **out, const char *path)
{
    mast_mapped m;
    MAST_TRY(mast_mmap_file(path, &m));
    mast_status st = mast_gguf_parse(out, m.data ? m.data : (const void *)"", m.size, path);
    if (st != MAST_OK) {
        mast_munmap(&m);
        return st;
    }
    (*out)->map = m;
    return MAST_OK;
}

void mast_gguf_close(mast_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++)
        free(g->kv[i].arr_strs);
    free(g->kv);
    free(g->tensors);
    mast_munmap(&g->map);
    free(g->path);
    free(g);
}

const mast_gguf_kv *mast_gguf_find(const mast_gguf *g, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len == n && memcmp(g->kv[i].key.data, key, n) == 0)
            return &g->kv[i];
    return NULL;
}

const mast_tensor_info *mast_gguf_tensor(const mast_gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

static mast_status wrong_type(const mast_gguf *g, const char *key, const char *want,
                              const mast_gguf_kv *kv)
{
    return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' should be %s, not %s", g->path, key, want,
                     mast_gguf_type_name(kv->type));
}

static int is_unsigned(mast_gguf_type t)
{
    return t == MAST_GGUF_UINT8 || t == MAST_GGUF_UINT16 || t == MAST_GGUF_UINT32 ||
           t == MAST_GGUF_UINT64;
}

static int is_signed(mast_gguf_type t)
{
    return t == MAST_GGUF_INT8 || t == MAST_GGUF_INT16 || t == MAST_GGUF_INT32 ||
           t == MAST_GGUF_INT64;
}

mast_status mast_gguf_get_i64(const mast_gguf *g, const char *key, int64_t *out)
{
    const mast_gguf_kv *kv = mast_gguf_find(g, key);
    if (!kv)
        return MAST_ERR_NOT_FOUND;
    if (is_unsigned(kv->type) && kv->v.u <= INT64_MAX)
        *out = (int64_t)kv->v.u;
    else if (is_signed(kv->type))
        *out = kv->v.i;
    else
        return wrong_type(g, key, "an integer", kv);
    return MAST_OK;
}

mast_status mast_gguf_get_u32(const mast_gguf *g, const char *key, uint32_t *out)
{
    int64_t v = 0;
    mast_status st = mast_gguf_get_i64(g, key, &v);
    if (st != MAST_OK)
        return st;
    if (v < 0 || v > UINT32_MAX)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' = %lld is out of range", g->path, key,
                         (long long)v);
    *out = (uint32_t)v;
    return MAST_OK;
}

mast_status mast_gguf_get_f32(const mast_gguf *g, const char *key, float *out)
{
    const mast_gguf_kv *kv = mast_gguf_find(g, key);
    if (!kv)
        return MAST_ERR_NOT_FOUND;
    if (kv->type != MAST_GGUF_FLOAT32 && kv->type != MAST_GGUF_FLOAT64)
        return wrong_type(g, key, "a float", kv);
    *out = (float)kv->v.f;
    return MAST_OK;
}

mast_status mast_gguf_get_bool(const mast_gguf *g, const char *key, bool *out)
{
    const mast_gguf_kv *kv = mast_gguf_find(g, key);
    if (!kv)
        return MAST_ERR_NOT_FOUND;
    if (kv->type != MAST_GGUF_BOOL)
        return wrong_type(g, key, "a bool", kv);
    *out = kv->v.u != 0;
    return MAST_OK;
}

mast_status mast_gguf_get_str(const mast_gguf *g, const char *key, mast_gguf_str *out)
{
    const mast_gguf_kv *kv = mast_gguf_find(g, key);
    if (!kv)
        return MAST_ERR_NOT_FOUND;
    if (kv->type != MAST_GGUF_STRING)
        return wrong_type(g, key, "a string", kv);
    *out = kv->v.s;
    return MAST_OK;
}

mast_status mast_gguf_get_arr(const mast_gguf *g, const char *key, mast_gguf_type elem,
                              const mast_gguf_kv **out)
{
    const mast_gguf_kv *kv = mast_gguf_find(g, key);
    if (!kv)
        return MAST_ERR_NOT_FOUND;
    if (kv->type != MAST_GGUF_ARRAY || kv->arr_type != elem)
        return mast_fail(MAST_ERR_FORMAT, "%s: key '%s' should be an array of %s", g->path, key,
                         mast_gguf_type_name(elem));
    *out = kv;
    return MAST_OK;
}

/* ---- writing ---- */

typedef struct wtensor {
    char name[MAST_GGUF_MAX_NAME];
    mast_dtype type;
    int64_t ne[MAST_GGUF_MAX_DIMS];
    uint32_t n_dims;
    const void *data;
    size_t nbytes;
} wtensor;

struct mast_gguf_writer {
    mast_buf kv;          /* serialized key/values */
    uint64_t n_kv;
    char **keys;
    size_t n_keys, cap_keys;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t alignment;
};

mast_status mast_gguf_writer_new(mast_gguf_writer **out)
{
    mast_gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    w->alignment = MAST_GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return MAST_OK;
}

void mast_gguf_writer_free(mast_gguf_writer *w)
{
    if (!w)
        return;
    mast_buf_free(&w->kv);
    for (size_t i = 0; i < w->n_keys; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w->tensors);
    free(w);
}

static mast_status put_str(mast_buf *b, const char *s, size_t len)
{
    uint64_t n = len;
    MAST_TRY(mast_buf_append(b, &n, 8));
    return mast_buf_append(b, s, len);
}

static mast_status begin_kv(mast_gguf_writer *w, const char *key, mast_gguf_type type)
{
    for (size_t i = 0; i < w->n_keys; i++)
        if (strcmp(w->keys[i], key) == 0)
            return mast_fail(MAST_ERR_EXISTS, "GGUF key '%s' set twice", key);
    char *copy = strdup(key);
    if (!copy || !mast_grow_array((void **)&w->keys, &w->cap_keys, w->n_keys + 1, sizeof *w->keys)) {
        free(copy);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    w->keys[w->n_keys++] = copy;
    w->n_kv++;
    uint32_t t = type;
    MAST_TRY(put_str(&w->kv, key, strlen(key)));
    return mast_buf_append(&w->kv, &t, 4);
}

mast_status mast_gguf_set_scalar(mast_gguf_writer *w, const char *key, mast_gguf_type type,
                                 const void *value)
{
    if (type >= MAST_GGUF_TYPE_COUNT || type == MAST_GGUF_STRING || type == MAST_GGUF_ARRAY)
        return mast_fail(MAST_ERR_INVALID, "GGUF key '%s': not a scalar type", key);
    MAST_TRY(begin_kv(w, key, type));
    if (strcmp(key, "general.alignment") == 0 && type == MAST_GGUF_UINT32)
        memcpy(&w->alignment, value, 4);
    return mast_buf_append(&w->kv, value, scalar_size[type]);
}

mast_status mast_gguf_set_u32(mast_gguf_writer *w, const char *key, uint32_t v)
{
    return mast_gguf_set_scalar(w, key, MAST_GGUF_UINT32, &v);
}

mast_status mast_gguf_set_i32(mast_gguf_writer *w, const char *key, int32_t v)
{
    return mast_gguf_set_scalar(w, key, MAST_GGUF_INT32, &v);
}

mast_status mast_gguf_set_u64(mast_gguf_writer *w, const char *key, uint64_t v)
{
    return mast_gguf_set_scalar(w, key, MAST_GGUF_UINT64, &v);
}

mast_status mast_gguf_set_f32(mast_gguf_writer *w, const char *key, float v)
{
    return mast_gguf_set_scalar(w, key, MAST_GGUF_FLOAT32, &v);
}

mast_status mast_gguf_set_bool(mast_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return mast_gguf_set_scalar(w, key, MAST_GGUF_BOOL, &b);
}

mast_status mast_gguf_set_str(mast_gguf_writer *w, const char *key, const char *v)
{
    MAST_TRY(begin_kv(w, key, MAST_GGUF_STRING));
    return put_str(&w->kv, v, strlen(v));
}

mast_status mast_gguf_set_arr(mast_gguf_writer *w, const char *key, mast_gguf_type elem,
                              const void *data, uint64_t n)
{
    if (elem >= MAST_GGUF_TYPE_COUNT || elem == MAST_GGUF_STRING || elem == MAST_GGUF_ARRAY)
        return mast_fail(MAST_ERR_INVALID, "GGUF key '%s': use set_arr_str for strings", key);
    MAST_TRY(begin_kv(w, key, MAST_GGUF_ARRAY));
    uint32_t t = elem;
    MAST_TRY(mast_buf_append(&w->kv, &t, 4));
    MAST_TRY(mast_buf_append(&w->kv, &n, 8));
    return mast_buf_append(&w->kv, data, (size_t)n * scalar_size[elem]);
}

mast_status mast_gguf_set_arr_str(mast_gguf_writer *w, const char *key,
                                  const mast_gguf_str *strs, uint64_t n)
{
    MAST_TRY(begin_kv(w, key, MAST_GGUF_ARRAY));
    uint32_t t = MAST_GGUF_STRING;
    MAST_TRY(mast_buf_append(&w->kv, &t, 4));
    MAST_TRY(mast_buf_append(&w->kv, &n, 8));
    for (uint64_t i = 0; i < n; i++)
        MAST_TRY(put_str(&w->kv, strs[i].data, strs[i].len));
    return MAST_OK;
}

mast_status mast_gguf_copy_kv(mast_gguf_writer *w, const mast_gguf_kv *kv)
{
    char key[256];
    if (kv->key.len >= sizeof key)
        return mast_fail(MAST_ERR_INVALID, "GGUF key too long");
    memcpy(key, kv->key.data, kv->key.len);
    key[kv->key.len] = '\0';
    MAST_TRY(begin_kv(w, key, kv->type));
    if (strcmp(key, "general.alignment") == 0 && kv->type == MAST_GGUF_UINT32)
        w->alignment = (uint32_t)kv->v.u;
    return mast_buf_append(&w->kv, kv->raw, kv->raw_len);
}

mast_status mast_gguf_add_tensor(mast_gguf_writer *w, const char *name, mast_dtype type,
                                 const int64_t *ne, uint32_t n_dims, const void *data)
{
    const mast_dtype_info *info = mast_dtype_get(type);
    if (!info)
        return mast_fail(MAST_ERR_INVALID, "tensor '%s': unknown type %d", name, (int)type);
    if (strlen(name) >= MAST_GGUF_MAX_NAME || n_dims == 0 || n_dims > MAST_GGUF_MAX_DIMS)
        return mast_fail(MAST_ERR_INVALID, "tensor '%s': bad name or dimension count", name);
    if (ne[0] % info->block_size)
        return mast_fail(MAST_ERR_INVALID, "tensor '%s': row length %lld is not a multiple of %u",
                         name, (long long)ne[0], info->block_size);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return mast_fail(MAST_ERR_EXISTS, "tensor '%s' added twice", name);
    if (!mast_grow_array((void **)&w->tensors, &w->cap_tensors, w->n_tensors + 1,
                         sizeof *w->tensors))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    wtensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    int64_t n = 1;
    for (uint32_t d = 0; d < MAST_GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        n *= t->ne[d];
    }
    t->data = data;
    t->nbytes = (size_t)(n / info->block_size) * info->type_size;
    return MAST_OK;
}

mast_status mast_gguf_write(mast_gguf_writer *w, const char *path)
{
    mast_buf head = {0};
    uint32_t magic = MAST_GGUF_MAGIC, version = 3;
    uint64_t n_tensors = w->n_tensors;
    size_t align = w->alignment ? w->alignment : MAST_GGUF_DEFAULT_ALIGNMENT;
    mast_status st = mast_buf_append(&head, &magic, 4);
    if (st == MAST_OK) st = mast_buf_append(&head, &version, 4);
    if (st == MAST_OK) st = mast_buf_append(&head, &n_tensors, 8);
    if (st == MAST_OK) st = mast_buf_append(&head, &w->n_kv, 8);
    if (st == MAST_OK && w->kv.len) st = mast_buf_append(&head, w->kv.data, w->kv.len);
    uint64_t offset = 0;
    for (size_t i = 0; st == MAST_OK && i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        uint32_t type = t->type;
        st = put_str(&head, t->name, strlen(t->name));
        if (st == MAST_OK) st = mast_buf_append(&head, &t->n_dims, 4);
        for (uint32_t d = 0; st == MAST_OK && d < t->n_dims; d++) {
            uint64_t ne = (uint64_t)t->ne[d];
            st = mast_buf_append(&head, &ne, 8);
        }
        if (st == MAST_OK) st = mast_buf_append(&head, &type, 4);
        if (st == MAST_OK) st = mast_buf_append(&head, &offset, 8);
        offset += (t->nbytes + align - 1) / align * align;
    }
    while (st == MAST_OK && head.len % align)
        st = mast_buf_putc(&head, 0);
    if (st != MAST_OK) {
        mast_buf_free(&head);
        return st;
    }
    mast_file_out f;
    if ((st = mast_file_begin(&f, path)) != MAST_OK) {
        mast_buf_free(&head);
        return st;
    }
    mast_file_write(&f, head.data, head.len);
    mast_buf_free(&head);
    for (size_t i = 0; i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        mast_file_write(&f, t->data, t->nbytes);
        mast_file_pad(&f, t->nbytes, (unsigned)align);
    }
    return mast_file_commit(&f);
}
