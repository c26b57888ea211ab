/*
** base/mmap.h — read-only memory mapping of a whole file.
*/
#ifndef MAST_BASE_MMAP_H
#define MAST_BASE_MMAP_H

#include <stddef.h>
#include <stdint.h>

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

/* Makes the folder and any missing parents (mkdir -p); errors name the part that failed. */
mast_status mast_mkdirs(const char *path);

/* Writing a file atomically: the bytes go to PATH.tmp-PID, which is fsynced
** and renamed over PATH by mast_file_commit, so readers see the old file or
** the whole new one. Errors name the path. */
typedef struct mast_file_out {
    int fd, failed, err;
    const char *path;
    char tmp[4096];
} mast_file_out;

mast_status mast_file_begin(mast_file_out *f, const char *path);
/* Appends; a failure is remembered and reported by mast_file_commit. */
void mast_file_write(mast_file_out *f, const void *data, size_t len);
/* Zero bytes up to the next multiple of `align`, given the bytes written so far. */
void mast_file_pad(mast_file_out *f, uint64_t written, unsigned align);
mast_status mast_file_commit(mast_file_out *f);
void mast_file_abort(mast_file_out *f);

#endif
