/* progress.c: the progress bar of transfers (export, import, image
 * import).  The manager reports bytes through a callback
 * (struct xfer_progress); this draws them on stderr when it is a
 * terminal, at most ten times a second, one line rewritten in place:
 *
 *   Exporting web [=========>          ]  48%  96.0MiB/200.0MiB  48.0MiB/s  0:02 left
 *   Importing web  96.0MiB  48.0MiB/s        (a pipe: no total)
 *
 * When stderr is not a terminal nothing is drawn: the command prints its
 * final line only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "util.h"
#include "vesselctl.h"

#define REDRAW_NS 100000000ull

char *xfer_size(uint64_t bytes)
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double)bytes;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                return xasprintf("%" PRIu64 "B", bytes);
        return xasprintf("%.1f%s", v, units[u]);
}

char *xfer_duration(double secs)
{
        uint64_t s = secs < 0 ? 0 : (uint64_t)(secs + 0.5);

        if (s >= 3600)
                return xasprintf("%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
                                 s % 60);
        return xasprintf("%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
}

char *xfer_bar_format(const char *label, uint64_t done, uint64_t total, double secs, int width)
{
        _cleanup_free_ char *d = xfer_size(done), *t = NULL, *rate = NULL, *left = NULL;
        _cleanup_free_ char *tail = NULL, *bar = NULL;
        double r = secs > 0 ? (double)done / secs : 0;
        int room;

        rate = r > 0 ? xfer_size((uint64_t)r) : xstrdup("-");
        if (!total)
                return xasprintf("%s  %s  %s/s", label, d, rate);
        if (done > total)
                done = total; /* a tree that grew meanwhile */
        t = xfer_size(total);
        left = r > 0 ? xfer_duration((double)(total - done) / r) : xstrdup("-:--");
        tail =
            xasprintf(" %3d%%  %s/%s  %s/s  %s left", (int)(done * 100 / total), d, t, rate, left);
        /* label, " [", the bar, "]", tail: the bar takes what is left. */
        room = width - 1 - (int)strlen(label) - 3 - (int)strlen(tail);
        if (room < 5)
                return xasprintf("%s%s", label, tail);
        if (room > 40)
                room = 40;
        bar = xmalloc0((size_t)room + 1);
        int fill = (int)((double)room * (double)done / (double)total);
        for (int i = 0; i < room; i++)
                bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        return xasprintf("%s [%s]%s", label, bar, tail);
}

void xfer_bar_init(struct xfer_bar *b, const char *verb, const char *what)
{
        *b = (struct xfer_bar){
            .label = what ? xasprintf("%s %s", verb, what) : xstrdup(verb),
            .tty = isatty(STDERR_FILENO) == 1,
            .start_ns = now_ns_monotonic(),
        };
}

static void draw(struct xfer_bar *b, uint64_t now)
{
        struct winsize ws = {0};
        int width = 80;

        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
                width = ws.ws_col;
        _cleanup_free_ char *line =
            xfer_bar_format(b->label, b->done, b->total, (double)(now - b->start_ns) / 1e9, width);
        fprintf(stderr, "\r\033[K%.*s", width - 1, line);
        fflush(stderr);
        b->shown = true;
        b->last_ns = now;
}

void xfer_bar_report(void *data, uint64_t done, uint64_t total)
{
        struct xfer_bar *b = data;
        uint64_t now;

        b->done = done;
        b->total = total;
        if (!b->tty)
                return;
        now = now_ns_monotonic();
        /* The end is always drawn. */
        if (b->shown && now - b->last_ns < REDRAW_NS && !(total && done >= total))
                return;
        draw(b, now);
}

double xfer_bar_seconds(const struct xfer_bar *b)
{
        return (double)(now_ns_monotonic() - b->start_ns) / 1e9;
}

void xfer_bar_end(struct xfer_bar *b)
{
        if (b->shown)
                fputs("\r\033[K", stderr);
        fflush(stderr);
        b->shown = false;
        free(b->label);
        b->label = NULL;
}
