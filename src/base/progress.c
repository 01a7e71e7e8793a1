/* progress.c: a one-line progress bar on stderr for long scans, drawn only when stderr is a
 * terminal (never in pipes, logs or tests) and at most once per percent. */
#include <stdio.h>
#include <unistd.h>

#include "base/base.h"

void nk_progress_start(nk_progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO) == 1;
    p->label = label ? label : "";
    p->total = total;
    p->last = -1;
}

void nk_progress_update(nk_progress *p, uint64_t done)
{
    if (!p->tty || !p->total) return;
    if (done > p->total) done = p->total;
    int pct = (int)(done * 100 / p->total);
    if (pct == p->last) return;
    p->last = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, pct);
    fflush(stderr);
    p->drawn = true;
}

void nk_progress_end(nk_progress *p)
{
    if (p->tty && p->drawn) {
        fprintf(stderr, "\r%*s\r", (int)strlen(p->label) + 50, "");
        fflush(stderr);
    }
    p->drawn = false;
}
