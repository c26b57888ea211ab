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
    p->bytes = 0;
    p->files = p->pages = 0;
    p->started_us = mast_mono_us();
    p->last_draw_us = 0;
    p->enabled = isatty(STDERR_FILENO);
}

void mast_progress_begin_bytes(mast_progress *p, const char *label, uint64_t total_bytes)
{
    mast_progress_begin(p, label, total_bytes);
    p->bytes = 1;
}

/* "812 B", "12.3 kB", "4.5 MB", "1.2 GB" (decimal units, as file managers show) */
static void amount(char *out, size_t n, double v, int bytes)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%.0f%s", v, bytes ? " B" : "");
    else
        snprintf(out, n, "%.1f %s%s", v, units[u], bytes ? "B" : "");
}

static void duration(char *out, size_t n, double secs)
{
    if (secs < 60)
        snprintf(out, n, "%.0fs", secs);
    else if (secs < 3600)
        snprintf(out, n, "%dm%02ds", (int)secs / 60, (int)secs % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)(secs / 3600), (int)secs % 3600 / 60);
}

void mast_progress_format(const mast_progress *p, double secs, char *out, size_t n)
{
    char done[32], total[32], rate[32], eta[32] = "";
    amount(done, sizeof done, (double)p->done, p->bytes);
    amount(total, sizeof total, (double)p->total, p->bytes);
    double per_s = secs > 0 ? (double)p->done / secs : 0;
    amount(rate, sizeof rate, per_s, p->bytes);
    char counts[96] = "";
    if (p->files || p->pages) {
        size_t m = 0;
        const uint64_t v[2] = {p->files, p->pages};
        const char *const what[2] = {"files", "pages"};
        for (int i = 0; i < 2 && m < sizeof counts; i++)
            if (v[i])
                m += (size_t)snprintf(counts + m, sizeof counts - m, ", %llu %s (%.1f/s)",
                                      (unsigned long long)v[i], what[i],
                                      secs > 0 ? (double)v[i] / secs : 0.0);
    }
    if (!p->total) {
        snprintf(out, n, "%s %s, %s/s%s", p->label, done, rate, counts);
        return;
    }
    int width = 24, filled = (int)((double)p->done / (double)p->total * width);
    if (filled > width)
        filled = width;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[width] = '\0';
    if (per_s > 0 && p->done < p->total) {
        char left[24];
        duration(left, sizeof left, (double)(p->total - p->done) / per_s);
        snprintf(eta, sizeof eta, ", ETA %s", left);
    }
    snprintf(out, n, "%s [%s] %3.0f%% %s of %s, %s/s%s%s", p->label, bar,
             100.0 * (double)p->done / (double)p->total, done, total, rate, counts, eta);
}

static void draw(mast_progress *p)
{
    char line[256];
    mast_progress_format(p, (double)(mast_mono_us() - p->started_us) / 1e6, line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
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
