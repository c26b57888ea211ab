/*
** base/progress.h — a progress bar on stderr, drawn only when stderr is a
** terminal and at most ten times a second. Silent otherwise.
*/
#ifndef MAST_BASE_PROGRESS_H
#define MAST_BASE_PROGRESS_H

#include <stdint.h>

typedef struct mast_progress {
    const char *label;
    uint64_t total;       /* 0 = unknown: shows a count instead of a bar */
    uint64_t done;
    int64_t started_us, last_draw_us;
    int enabled;
} mast_progress;

void mast_progress_begin(mast_progress *p, const char *label, uint64_t total);
void mast_progress_update(mast_progress *p, uint64_t done);
/* Clears the bar line (if drawn). */
void mast_progress_end(mast_progress *p);

#endif
