/*
** data/vindex/fvecs.h — the .fvecs format of the ANN benchmark sets: per
** vector a little-endian int32 dimension, then that many float32 values.
*/
#ifndef MAST_DATA_VINDEX_FVECS_H
#define MAST_DATA_VINDEX_FVECS_H

#include <stddef.h>

#include "mast.h"

/* Reads every vector (n * dim floats, malloc'ed). A file whose rows do not
** all have the same positive dimension, or that ends inside a row, is
** refused with a message naming the file and the row. */
mast_status mast_fvecs_read(const char *path, float **vecs, size_t *n, int *dim);
mast_status mast_fvecs_write(const char *path, const float *vecs, size_t n, int dim);

#endif
