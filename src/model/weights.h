/*
** model/weights.h — what the model loaders share: a tensor looked up with
** its shape and type checked, and the float copies a model owns.
*/
#ifndef MAST_MODEL_WEIGHTS_H
#define MAST_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

/* The tensor `name` with ne[0] = ne0 and, for ne1 > 0, ne[1] = ne1 (ne1 = 0:
** a vector, ne[1] = 1; ne1 < 0: any). Errors name the file and the tensor:
** missing (MAST_ERR_FORMAT), another shape (MAST_ERR_FORMAT), a type without
** kernels (MAST_ERR_UNSUPPORTED). */
mast_status mast_weights_find(const mast_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                              const mast_tensor_info **out);

/* Buffers a model owns (converted weights), freed together. */
typedef struct mast_owned {
    float **p;
    size_t n, cap;
} mast_owned;

/* Takes p (NULL is an allocation that failed): on failure p is freed and
** MAST_ERR_NOMEM returned. */
mast_status mast_owned_add(mast_owned *o, float *p);
void mast_owned_free(mast_owned *o);

#endif
