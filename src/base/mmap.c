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
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max_bytes) {
        fclose(f);   /* refused before a byte is read */
        return mast_fail(MAST_ERR_LIMIT, "%s: %llu bytes, larger than the limit of %zu bytes", path,
                         (unsigned long long)sb.st_size, max_bytes);
    }
    size_t cap = 0, len = 0;
    char *data = NULL;
    mast_status st = MAST_OK;
    /* Read up to max_bytes + 1 bytes: one byte more than allowed tells us the
    ** file (or pipe) is over the limit. */
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

mast_status mast_file_begin(mast_file_out *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp-%d", path, (int)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return mast_fail(MAST_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return MAST_OK;
}

void mast_file_write(mast_file_out *f, const void *data, size_t len)
{
    const char *p = data;
    while (len && !f->failed) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            f->failed = 1;
            f->err = errno;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

void mast_file_pad(mast_file_out *f, uint64_t written, unsigned align)
{
    static const char zeros[4096];
    uint64_t pad = (align - written % align) % align;
    while (pad) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        mast_file_write(f, zeros, n);
        pad -= n;
    }
}

mast_status mast_file_commit(mast_file_out *f)
{
    int ok = !f->failed, e = f->err;
    if (ok && fsync(f->fd) != 0) {
        ok = 0;
        e = errno;
    }
    if (close(f->fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    f->fd = -1;
    if (ok && rename(f->tmp, f->path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(f->tmp);
        return mast_fail(MAST_ERR_IO, "%s: cannot write: %s", f->path, strerror(e));
    }
    return MAST_OK;
}

void mast_file_abort(mast_file_out *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}

mast_status mast_mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return mast_fail(MAST_ERR_INVALID, "%s: path too long", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return mast_fail(MAST_ERR_IO, "%s: %s", tmp, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return MAST_OK;
}
