/*
** base/duration.c — parsing durations (see duration.h).
*/
#include "base/duration.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

mast_status mast_parse_duration(const char *text, double *seconds)
{
    const char *p = text ? text : "";
    while (*p == ' ')
        p++;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return mast_fail(MAST_ERR_INVALID, "'%s' is not a duration", text ? text : "");
    double total = 0;
    bool any = false;
    while (*p && *p != ' ') {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0 || !isfinite(v) || *p == '+' || *p == '-')
            return mast_fail(MAST_ERR_INVALID, "'%s' is not a duration (a number of seconds, or like "
                             "30s, 5m, 1h, 1h30m)", text);
        p = end;
        double unit;
        if (!strncmp(p, "ms", 2))
            unit = 1e-3, p += 2;
        else if (*p == 's')
            unit = 1, p++;
        else if (*p == 'm')
            unit = 60, p++;
        else if (*p == 'h')
            unit = 3600, p++;
        else if (*p == 'd')
            unit = 86400, p++;
        else if (!*p && !any)
            unit = 1;   /* a bare number: seconds */
        else
            return mast_fail(MAST_ERR_INVALID, "'%s' is not a duration: its units are ms, s, m, h and d",
                             text);
        any = true;
        total += v * unit;
    }
    while (*p == ' ')
        p++;
    if (*p || total > 1e12)
        return mast_fail(MAST_ERR_INVALID, "'%s' is not a duration", text);
    *seconds = neg ? -total : total;
    return MAST_OK;
}
