/*
** base/status.c — status codes and the thread-local error message.
**
** Every failing function in mast calls mast_fail(code, fmt, ...) which stores
** a formatted detail ("tensor 'x' extends past end of file") for the calling
** thread and returns the code, so that `return mast_fail(...)` is one line.
*/
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errmsg[1024];

const char *mast_strerror(mast_status status)
{
    switch (status) {
    case MAST_OK: return "ok";
    case MAST_ERR_INVALID: return "invalid input";
    case MAST_ERR_NOMEM: return "out of memory";
    case MAST_ERR_IO: return "I/O error";
    case MAST_ERR_NOT_FOUND: return "not found";
    case MAST_ERR_EXISTS: return "already exists";
    case MAST_ERR_FORMAT: return "bad format";
    case MAST_ERR_DB: return "database error";
    case MAST_ERR_LIMIT: return "limit exceeded";
    case MAST_ERR_UNSUPPORTED: return "unsupported";
    case MAST_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *mast_errmsg(void)
{
    return errmsg;
}

const char *mast_version(void)
{
    return MAST_VERSION;
}

mast_status mast_fail(mast_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

mast_status mast_fail_prefix(mast_status code, const char *fmt, ...)
{
    char prefix[512], old[sizeof errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    const char *detail = old[0] ? old : mast_strerror(code);
    size_t n = strlen(prefix);
    if (n > sizeof errmsg - 3)
        n = sizeof errmsg - 3;
    memcpy(errmsg, prefix, n);
    memcpy(errmsg + n, ": ", 2);
    size_t room = sizeof errmsg - n - 3, dlen = strlen(detail);
    if (dlen > room)
        dlen = room;
    memcpy(errmsg + n + 2, detail, dlen);
    errmsg[n + 2 + dlen] = '\0';
    return code;
}

void mast_clear_error(void)
{
    errmsg[0] = '\0';
}
