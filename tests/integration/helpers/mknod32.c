/* mknod32: an i386 program without libc (so that no 32-bit libc is needed
 * to build it) calling mknod("/tmp/n32", char 1:3) and mknodat(AT_FDCWD,
 * "/tmp/n32at", block 8:0) through int $0x80, for test_vesselctl_mknod.py.
 * Exit status 0 when both made their node, else the failing one's errno
 * (+100 for mknodat). */
static long sys4(long nr, long a, long b, long c, long d)
{
        long r;
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
                         : "memory");
        return r;
}

void _start(void)
{
        long r = sys4(14, (long)"/tmp/n32", 0020000 | 0600, (1 << 8) | 3, 0);
        long st = -r;

        if (!st) {
                r = sys4(297, -100, (long)"/tmp/n32at", 0060000 | 0600, 8 << 8);
                st = r ? 100 - r : 0;
        }
        sys4(1, st, 0, 0, 0);
        for (;;)
                ;
}
