/* ringbuf.h: the console's last bytes, kept by the monitor for
 * `vesselctl console --show-log` (a fixed-size ring: the newest size
 * bytes, the oldest overwritten). */
#pragma once

#include <stddef.h>

struct ringbuf {
        char *buf;
        size_t size; /* capacity */
        size_t head; /* where the next byte goes */
        size_t len;  /* bytes held, <= size */
};

/* size > 0; the buffer is an anonymous mapping, so an idle instance's
 * ring costs no memory until its console writes. */
int ringbuf_init(struct ringbuf *r, size_t size);
void ringbuf_free(struct ringbuf *r);
void ringbuf_write(struct ringbuf *r, const char *data, size_t n);
/* The held bytes in order, as at most two pieces (a, na) then (b, nb). */
void ringbuf_pieces(const struct ringbuf *r, const char **a, size_t *na, const char **b,
                    size_t *nb);
