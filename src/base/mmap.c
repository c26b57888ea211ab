/*
** base/mmap.c — file mapping and whole-file reads (see mmap.h).
*/
#include "base/mmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/status.h"

mast_status mast_mmap_file(const char *path, mast_mapped *out)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mast_fail(errno == ENOENT ? MAST_ERR_NOT_FOUND : MAST_ERR_IO, "%s: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mast_fail(MAST_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mast_fail(MAST_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return mast_fail(MAST_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return MAST_OK;
}

void mast_munmap(mast_mapped *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

mast_status mast_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mast_fail(errno == ENOENT ? MAST_ERR_NOT_FOUND : MAST_ERR_IO, "%s: %s", path,
                         strerror(errno));
    size_t cap = 0, len = 0;
    char *data = NULL;
    mast_status st = MAST_OK;
    /* Read up to max_bytes + 1 bytes: one byte more than allowed tells us the
    ** file is over the limit. */
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= max_bytes + 2)
                break;
            size_t new_cap = cap ? cap * 2 : 4096;
            if (new_cap > max_bytes + 2)
                new_cap = max_bytes + 2;
            char *p = realloc(data, new_cap);
            if (!p) {
                st = mast_fail(MAST_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            data = p;
            cap = new_cap;
        }
        size_t n = fread(data + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                st = mast_fail(MAST_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    if (st == MAST_OK && len > max_bytes)
        st = mast_fail(MAST_ERR_LIMIT, "%s: larger than the limit of %zu bytes", path, max_bytes);
    fclose(f);
    if (st != MAST_OK) {
        free(data);
        return st;
    }
    if (!data && !(data = malloc(1)))
        return mast_fail(MAST_ERR_NOMEM, "%s: out of memory", path);
    data[len] = '\0';
    *out = data;
    *out_len = len;
    return MAST_OK;
}
