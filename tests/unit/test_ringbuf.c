/* Unit tests for the monitor's console ring buffer (ringbuf.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ringbuf.h"

/* The held bytes, in order, as one string. */
static char *held(const struct ringbuf *r)
{
        const char *a, *b;
        size_t na, nb;
        char *s;

        ringbuf_pieces(r, &a, &na, &b, &nb);
        s = calloc(1, na + nb + 1);
        memcpy(s, a, na);
        memcpy(s + na, b, nb);
        return s;
}

static void expect(const struct ringbuf *r, const char *want)
{
        char *s = held(r);

        CHECK_STR(s, want);
        CHECK(r->len == strlen(want));
        free(s);
}

int main(void)
{
        struct ringbuf r;

        CHECK(ringbuf_init(&r, 0) < 0);
        CHECK(ringbuf_init(&r, 8) == 0);
        expect(&r, "");
        ringbuf_write(&r, "abc", 3);
        expect(&r, "abc");
        ringbuf_write(&r, "defgh", 5); /* exactly full */
        expect(&r, "abcdefgh");
        ringbuf_write(&r, "ij", 2); /* the oldest two go */
        expect(&r, "cdefghij");
        ringbuf_write(&r, "klmnopq", 7); /* wraps across the end */
        expect(&r, "jklmnopq");
        ringbuf_write(&r, "0123456789", 10); /* more than the ring: its tail */
        expect(&r, "23456789");
        ringbuf_write(&r, "", 0);
        expect(&r, "23456789");
        for (int i = 0; i < 100; i++) /* byte by byte around many times */
                ringbuf_write(&r, &"xyz"[i % 3], 1);
        expect(&r, "zxyzxyzx");
        ringbuf_free(&r);
        CHECK(r.buf == NULL && r.size == 0);
        return check_report("test_ringbuf");
}
