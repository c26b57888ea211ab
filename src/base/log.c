/*
** base/log.c — logging and clocks (see log.h).
*/
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static mast_log_level current_level = MAST_LOG_WARN;

void mast_log_set_level(mast_log_level level)
{
    current_level = level;
}

mast_log_level mast_log_get_level(void)
{
    return current_level;
}

void mast_log(mast_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > current_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mast: %s: %s\n", names[level], msg);
}

int64_t mast_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mast_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
