/*
** base/progress.h — a progress bar on stderr, drawn only when stderr is a
** terminal and at most ten times a second. Silent otherwise.
*/
#ifndef MAST_BASE_PROGRESS_H
#define MAST_BASE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mast_progress {
    const char *label;
    uint64_t total;       /* 0 = unknown: shows a count instead of a bar */
    uint64_t done;
    int64_t started_us, last_draw_us;
    int enabled;
    int bytes;            /* amounts are bytes (kB, MB...), else counts (k, M...) */
    uint64_t files, pages;   /* when non-zero, shown with their rates after the amount */
} mast_progress;

void mast_progress_begin(mast_progress *p, const char *label, uint64_t total);
/* The same for an amount of bytes. */
void mast_progress_begin_bytes(mast_progress *p, const char *label, uint64_t total_bytes);
/* The line the bar shows after `secs`: "label [####----]  40% 4.1 MB of 10.2 MB,
** 2.0 MB/s, 12 files (6.0/s), 544 pages (272/s), ETA 3s" (or "label 4.1 MB,
** 2.0 MB/s" with no total; files and pages only when counted). */
void mast_progress_format(const mast_progress *p, double secs, char *out, size_t n);
void mast_progress_update(mast_progress *p, uint64_t done);
/* Clears the bar line (if drawn). */
void mast_progress_end(mast_progress *p);

#endif
