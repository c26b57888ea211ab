/*
** base/progress.c — terminal progress bar (see progress.h).
*/
#include "base/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "base/log.h"

void mast_progress_begin(mast_progress *p, const char *label, uint64_t total)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->started_us = mast_mono_us();
    p->last_draw_us = 0;
    p->enabled = isatty(STDERR_FILENO);
}

static void draw(mast_progress *p)
{
    double secs = (double)(mast_mono_us() - p->started_us) / 1e6;
    if (p->total) {
        int width = 30;
        int filled = (int)((double)p->done / (double)p->total * width);
        if (filled > width)
            filled = width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[width] = '\0';
        fprintf(stderr, "\r%s [%s] %llu/%llu %.1fs\033[K", p->label, bar,
                (unsigned long long)p->done, (unsigned long long)p->total, secs);
    } else {
        fprintf(stderr, "\r%s %llu %.1fs\033[K", p->label, (unsigned long long)p->done, secs);
    }
    fflush(stderr);
}

void mast_progress_update(mast_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->enabled)
        return;
    int64_t now = mast_mono_us();
    if (now - p->last_draw_us < 100000)
        return;
    p->last_draw_us = now;
    draw(p);
}

void mast_progress_end(mast_progress *p)
{
    if (p->enabled && p->last_draw_us) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->enabled = 0;
}
