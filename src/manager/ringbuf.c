/* ringbuf.c: see ringbuf.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ringbuf.h"

int ringbuf_init(struct ringbuf *r, size_t size)
{
        *r = (struct ringbuf){0};
        if (!size)
                return -EINVAL;
        /* Anonymous pages of our own: untouched ones cost nothing (calloc
         * on the heap would clear, and so touch, all of them). */
        r->buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r->buf == MAP_FAILED) {
                r->buf = NULL;
                return -ENOMEM;
        }
        r->size = size;
        return 0;
}

void ringbuf_free(struct ringbuf *r)
{
        if (r->buf)
                munmap(r->buf, r->size);
        *r = (struct ringbuf){0};
}

void ringbuf_write(struct ringbuf *r, const char *data, size_t n)
{
        if (n >= r->size) { /* only the last size bytes survive */
                memcpy(r->buf, data + n - r->size, r->size);
                r->head = 0;
                r->len = r->size;
                return;
        }
        size_t first = r->size - r->head < n ? r->size - r->head : n;
        memcpy(r->buf + r->head, data, first);
        memcpy(r->buf, data + first, n - first);
        r->head = (r->head + n) % r->size;
        r->len = r->len + n > r->size ? r->size : r->len + n;
}

void ringbuf_pieces(const struct ringbuf *r, const char **a, size_t *na, const char **b, size_t *nb)
{
        size_t start = (r->head + r->size - r->len) % r->size;

        if (r->len == 0) {
                *a = *b = r->buf;
                *na = *nb = 0;
                return;
        }
        *a = r->buf + start;
        if (start + r->len <= r->size) {
                *na = r->len;
                *b = r->buf;
                *nb = 0;
        } else {
                *na = r->size - start;
                *b = r->buf;
                *nb = r->len - *na;
        }
}
