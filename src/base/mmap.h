/*
** base/mmap.h — read-only memory mapping of a whole file.
*/
#ifndef MAST_BASE_MMAP_H
#define MAST_BASE_MMAP_H

#include <stddef.h>

#include "mast.h"

typedef struct mast_mapped {
    const unsigned char *data;  /* NULL for an empty file */
    size_t size;
} mast_mapped;

/* Maps `path` read-only. Errors name the path ("x.gguf: No such file..."). */
mast_status mast_mmap_file(const char *path, mast_mapped *out);
void mast_munmap(mast_mapped *m);

/* Reads a whole file into a malloc'ed, NUL-terminated buffer (for files that
** must be transformed anyway, or are not regular). Limits to max_bytes. */
mast_status mast_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len);

#endif
