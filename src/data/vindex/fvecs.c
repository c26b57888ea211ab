/*
** data/vindex/fvecs.c — see fvecs.h.
*/
#include "data/vindex/fvecs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mmap.h"
#include "base/status.h"

mast_status mast_fvecs_read(const char *path, float **vecs, size_t *n, int *dim)
{
    *vecs = NULL;
    *n = 0;
    *dim = 0;
    mast_mapped m;
    MAST_TRY(mast_mmap_file(path, &m));
    int32_t d = 0;
    if (m.size >= 4)
        memcpy(&d, m.data, 4);
    if (m.size < 4 || d <= 0 || d > 65536) {
        mast_munmap(&m);
        return mast_fail(MAST_ERR_FORMAT, "%s: not an .fvecs file (first dimension %d)", path, (int)d);
    }
    size_t row = 4 + (size_t)d * 4;
    if (m.size % row) {
        mast_munmap(&m);
        return mast_fail(MAST_ERR_FORMAT, "%s: %zu bytes is not a whole number of %d-dimensional rows",
                         path, m.size, (int)d);
    }
    size_t rows = m.size / row;
    float *out = malloc(rows * (size_t)d * sizeof *out);
    if (!out) {
        mast_munmap(&m);
        return mast_fail(MAST_ERR_NOMEM, "%s: out of memory for %zu vectors", path, rows);
    }
    for (size_t i = 0; i < rows; i++) {
        int32_t di;
        memcpy(&di, m.data + i * row, 4);
        if (di != d) {
            free(out);
            mast_munmap(&m);
            return mast_fail(MAST_ERR_FORMAT, "%s: row %zu has dimension %d, row 0 has %d", path, i,
                             (int)di, (int)d);
        }
        memcpy(out + i * (size_t)d, m.data + i * row + 4, (size_t)d * 4);
    }
    mast_munmap(&m);
    *vecs = out;
    *n = rows;
    *dim = d;
    return MAST_OK;
}

mast_status mast_fvecs_write(const char *path, const float *vecs, size_t n, int dim)
{
    mast_file_out f;
    MAST_TRY(mast_file_begin(&f, path));
    int32_t d = dim;
    for (size_t i = 0; i < n; i++) {
        mast_file_write(&f, &d, 4);
        mast_file_write(&f, vecs + i * (size_t)dim, (size_t)dim * 4);
    }
    return mast_file_commit(&f);
}
