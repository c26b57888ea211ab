/*
** base/log.h — leveled logging to stderr, and monotonic/wall clocks.
**
** The level is process-wide, set once at start-up (mast_log_set_level) before
** threads exist; logging itself is thread-safe (one fprintf per message).
*/
#ifndef MAST_BASE_LOG_H
#define MAST_BASE_LOG_H

#include <stdint.h>

typedef enum { MAST_LOG_ERROR, MAST_LOG_WARN, MAST_LOG_INFO, MAST_LOG_DEBUG } mast_log_level;

void mast_log_set_level(mast_log_level level);
mast_log_level mast_log_get_level(void);
void mast_log(mast_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mast_error(...) mast_log(MAST_LOG_ERROR, __VA_ARGS__)
#define mast_warn(...) mast_log(MAST_LOG_WARN, __VA_ARGS__)
#define mast_info(...) mast_log(MAST_LOG_INFO, __VA_ARGS__)
#define mast_debug(...) mast_log(MAST_LOG_DEBUG, __VA_ARGS__)

/* Microseconds since the Unix epoch (wall clock, for timestamps). */
int64_t mast_now_us(void);
/* Microseconds from a monotonic clock (for durations). */
int64_t mast_mono_us(void);

#endif
