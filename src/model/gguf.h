/*
** model/gguf.h — GGUF v2/v3 files: a validating reader over a memory map and
** a writer that llama.cpp can read.
**
** Reader: every count, length, offset and size is checked against the file
** before it is used; a bad file is refused with a message naming the file and
** what is wrong ("x.gguf: tensor 'blk.3.attn_q.weight' extends past end of
** file (...)"), never a crash. Strings in the file are not NUL-terminated:
** they are (pointer, length) pairs into the mapping, valid until close.
** A mast_gguf is read-only after open and may be shared between threads.
**
** Writer: collects key/values and tensors (whose data the caller keeps alive
** until write) and writes header, metadata, tensor infos and aligned data to
** a temporary file, fsyncs it and renames it into place.
*/
#ifndef MAST_MODEL_GGUF_H
#define MAST_MODEL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mmap.h"
#include "model/dtype.h"

#define MAST_GGUF_MAGIC 0x46554747u   /* "GGUF" little-endian */
#define MAST_GGUF_DEFAULT_ALIGNMENT 32
#define MAST_GGUF_MAX_DIMS 4
#define MAST_GGUF_MAX_NAME 64           /* tensor names, as ggml */
#define MAST_GGUF_MAX_ARRAY_DEPTH 8

typedef enum mast_gguf_type {
    MAST_GGUF_UINT8 = 0,
    MAST_GGUF_INT8 = 1,
    MAST_GGUF_UINT16 = 2,
    MAST_GGUF_INT16 = 3,
    MAST_GGUF_UINT32 = 4,
    MAST_GGUF_INT32 = 5,
    MAST_GGUF_FLOAT32 = 6,
    MAST_GGUF_BOOL = 7,
    MAST_GGUF_STRING = 8,
    MAST_GGUF_ARRAY = 9,
    MAST_GGUF_UINT64 = 10,
    MAST_GGUF_INT64 = 11,
    MAST_GGUF_FLOAT64 = 12,
    MAST_GGUF_TYPE_COUNT
} mast_gguf_type;

typedef struct mast_gguf_str {
    const char *data;
    size_t len;
} mast_gguf_str;

typedef struct mast_gguf_kv {
    mast_gguf_str key;
    mast_gguf_type type;
    union {
        uint64_t u;           /* UINT8..UINT64, BOOL */
        int64_t i;            /* INT8..INT64 */
        double f;             /* FLOAT32, FLOAT64 */
        mast_gguf_str s;      /* STRING */
    } v;
    /* ARRAY: element type, count and the raw first element. String arrays
    ** are also decoded into arr_strs; nested arrays only validated. */
    mast_gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    mast_gguf_str *arr_strs;
    const uint8_t *raw;       /* the value's bytes in the file (after its type) */
    size_t raw_len;
} mast_gguf_kv;

typedef struct mast_tensor_info {
    char name[MAST_GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[MAST_GGUF_MAX_DIMS];   /* ne[0] is the row length; unused dims are 1 */
    mast_dtype type;
    uint64_t offset;                  /* from the start of the data section */
    size_t nbytes;
    const void *data;                 /* into the mapping */
} mast_tensor_info;

typedef struct mast_gguf {
    char *path;
    mast_mapped map;          /* empty when parsed from memory */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    mast_gguf_kv *kv;
    size_t n_kv;
    mast_tensor_info *tensors;
    size_t n_tensors;
    size_t alignment;
    size_t data_offset;
} mast_gguf;

/* Maps and parses a file. The caller frees *out with mast_gguf_close. */
mast_status mast_gguf_open(mast_gguf **out, const char *path);
/* Parses a buffer that outlives the result (used by tests and the fuzzer);
** `name` is used in error messages. */
mast_status mast_gguf_parse(mast_gguf **out, const void *data, size_t size, const char *name);
void mast_gguf_close(mast_gguf *g);

const mast_gguf_kv *mast_gguf_find(const mast_gguf *g, const char *key);
const mast_tensor_info *mast_gguf_tensor(const mast_gguf *g, const char *name);
const char *mast_gguf_type_name(mast_gguf_type t);

/* Typed getters. Integers accept any integer type whose value fits; they
** return MAST_ERR_NOT_FOUND when the key is absent (without a message) and
** MAST_ERR_FORMAT (with one) when it has the wrong type. */
mast_status mast_gguf_get_u32(const mast_gguf *g, const char *key, uint32_t *out);
mast_status mast_gguf_get_i64(const mast_gguf *g, const char *key, int64_t *out);
mast_status mast_gguf_get_f32(const mast_gguf *g, const char *key, float *out);
mast_status mast_gguf_get_bool(const mast_gguf *g, const char *key, bool *out);
mast_status mast_gguf_get_str(const mast_gguf *g, const char *key, mast_gguf_str *out);
/* An array with elements of `elem` type (any type for strings: use arr_strs). */
mast_status mast_gguf_get_arr(const mast_gguf *g, const char *key, mast_gguf_type elem,
                              const mast_gguf_kv **out);

/* ---- writer ---- */

typedef struct mast_gguf_writer mast_gguf_writer;

mast_status mast_gguf_writer_new(mast_gguf_writer **out);
void mast_gguf_writer_free(mast_gguf_writer *w);

mast_status mast_gguf_set_u32(mast_gguf_writer *w, const char *key, uint32_t v);
mast_status mast_gguf_set_i32(mast_gguf_writer *w, const char *key, int32_t v);
mast_status mast_gguf_set_u64(mast_gguf_writer *w, const char *key, uint64_t v);
mast_status mast_gguf_set_f32(mast_gguf_writer *w, const char *key, float v);
mast_status mast_gguf_set_bool(mast_gguf_writer *w, const char *key, bool v);
mast_status mast_gguf_set_str(mast_gguf_writer *w, const char *key, const char *v);
/* A scalar of any type from raw little-endian bytes of its size. */
mast_status mast_gguf_set_scalar(mast_gguf_writer *w, const char *key, mast_gguf_type type,
                                 const void *value);
/* An array of fixed-size elements (not STRING or ARRAY). */
mast_status mast_gguf_set_arr(mast_gguf_writer *w, const char *key, mast_gguf_type elem,
                              const void *data, uint64_t n);
mast_status mast_gguf_set_arr_str(mast_gguf_writer *w, const char *key,
                                  const mast_gguf_str *strs, uint64_t n);
/* Copies a key/value read from another file (any type, nested arrays too). */
mast_status mast_gguf_copy_kv(mast_gguf_writer *w, const mast_gguf_kv *kv);

/* Adds a tensor; `data` (nbytes of the given type and shape) is borrowed
** until mast_gguf_write returns. */
mast_status mast_gguf_add_tensor(mast_gguf_writer *w, const char *name, mast_dtype type,
                                 const int64_t *ne, uint32_t n_dims, const void *data);

/* Writes the file atomically (temp file, fsync, rename). */
mast_status mast_gguf_write(mast_gguf_writer *w, const char *path);

#endif
