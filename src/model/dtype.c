/*
** model/dtype.c — the type table (see dtype.h). Sizes are those of ggml's
** block layouts; quant.h's block structs assert them at compile time.
*/
#include "model/dtype.h"

#define QK_K 256

static const mast_dtype_info table[MAST_DTYPE_COUNT] = {
    [MAST_F32] = {"f32", 1, 4},
    [MAST_F16] = {"f16", 1, 2},
    [MAST_Q4_0] = {"q4_0", 32, 2 + 16},
    [MAST_Q4_1] = {"q4_1", 32, 2 + 2 + 16},
    [MAST_Q5_0] = {"q5_0", 32, 2 + 4 + 16},
    [MAST_Q5_1] = {"q5_1", 32, 2 + 2 + 4 + 16},
    [MAST_Q8_0] = {"q8_0", 32, 2 + 32},
    [MAST_Q8_1] = {"q8_1", 32, 4 + 32},
    [MAST_Q2_K] = {"q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2},
    [MAST_Q3_K] = {"q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2},
    [MAST_Q4_K] = {"q4_K", QK_K, 2 + 2 + 12 + QK_K / 2},
    [MAST_Q5_K] = {"q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2},
    [MAST_Q6_K] = {"q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2},
    [MAST_Q8_K] = {"q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2},
    [MAST_I8] = {"i8", 1, 1},
    [MAST_I16] = {"i16", 1, 2},
    [MAST_I32] = {"i32", 1, 4},
    [MAST_I64] = {"i64", 1, 8},
    [MAST_F64] = {"f64", 1, 8},
    [MAST_BF16] = {"bf16", 1, 2},
};

const mast_dtype_info *mast_dtype_get(uint32_t type)
{
    if (type >= MAST_DTYPE_COUNT || !table[type].name)
        return 0;
    return &table[type];
}

size_t mast_dtype_row_size(mast_dtype type, int64_t n)
{
    const mast_dtype_info *t = mast_dtype_get(type);
    return t ? (size_t)(n / t->block_size) * t->type_size : 0;
}
