/*
** base/status.h — setting the thread-local error detail (see mast.h).
*/
#ifndef MAST_BASE_STATUS_H
#define MAST_BASE_STATUS_H

#include "mast.h"

/* Stores a printf-style detail for this thread and returns `code`. */
mast_status mast_fail(mast_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current detail with "<formatted>: " and returns `code`; used
** to add context ("docs/a.md: ...") while an error travels up. */
mast_status mast_fail_prefix(mast_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mast_clear_error(void);

/* Propagates a non-OK status. */
#define MAST_TRY(expr) do { mast_status st_ = (expr); if (st_ != MAST_OK) return st_; } while (0)

#endif
