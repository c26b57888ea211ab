/*
** model/dtype.h — tensor element types, numbered as ggml numbers them (the
** numbers are stored in GGUF files), with their block geometry.
**
** Quantized types store blocks of `block_size` elements in `type_size`
** bytes; a row's element count must be a multiple of block_size.
*/
#ifndef MAST_MODEL_DTYPE_H
#define MAST_MODEL_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum mast_dtype {
    MAST_F32 = 0,
    MAST_F16 = 1,
    MAST_Q4_0 = 2,
    MAST_Q4_1 = 3,
    MAST_Q5_0 = 6,
    MAST_Q5_1 = 7,
    MAST_Q8_0 = 8,
    MAST_Q8_1 = 9,
    MAST_Q2_K = 10,
    MAST_Q3_K = 11,
    MAST_Q4_K = 12,
    MAST_Q5_K = 13,
    MAST_Q6_K = 14,
    MAST_Q8_K = 15,
    MAST_I8 = 24,
    MAST_I16 = 25,
    MAST_I32 = 26,
    MAST_I64 = 27,
    MAST_F64 = 28,
    MAST_BF16 = 30,
    MAST_DTYPE_COUNT = 40   /* ids below this are looked up in the table */
} mast_dtype;

typedef struct mast_dtype_info {
    const char *name;       /* "q4_K", as ggml spells it; NULL = not supported */
    uint32_t block_size;    /* elements per block */
    uint32_t type_size;     /* bytes per block */
} mast_dtype_info;

/* Geometry of a type id, or NULL when mast does not know it. */
const mast_dtype_info *mast_dtype_get(uint32_t type);

/* Bytes of a row of n elements (n must be a multiple of the block size). */
size_t mast_dtype_row_size(mast_dtype type, int64_t n);

#endif
