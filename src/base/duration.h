/*
** base/duration.h — durations as people write them: a number of seconds
** ("90", "1.5"), or amounts with units ms, s, m, h and d ("250ms", "30s",
** "5m", "1h30m", "30d"), with an optional leading '-'. One parser for
** mast.yaml's timeouts, keep_alive, retention and --since.
*/
#ifndef MAST_BASE_DURATION_H
#define MAST_BASE_DURATION_H

#include "mast.h"

/* The duration in seconds (negative with a leading '-'); MAST_ERR_INVALID
** names the text and what is wrong. */
mast_status mast_parse_duration(const char *text, double *seconds);

#endif
