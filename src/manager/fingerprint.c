/* fingerprint.c: SHA-256 through nettle (the library libarchive already
 * links on Debian, so vesselctl gains no extra one). */
#include "fingerprint.h"

#include <ctype.h>
#include <string.h>

void fingerprint_init(struct fingerprint *f)
{
        sha256_init(&f->sha);
}

void fingerprint_update(struct fingerprint *f, const void *data, size_t len)
{
        sha256_update(&f->sha, len, data);
}

void fingerprint_final(struct fingerprint *f, char hex[FINGERPRINT_HEX_LEN + 1])
{
        static const char digits[] = "0123456789abcdef";
        unsigned char d[SHA256_DIGEST_SIZE];

        sha256_digest(&f->sha, sizeof(d), d);
        for (size_t i = 0; i < sizeof(d); i++) {
                hex[2 * i] = digits[d[i] >> 4];
                hex[2 * i + 1] = digits[d[i] & 0xf];
        }
        hex[FINGERPRINT_HEX_LEN] = '\0';
}

int fingerprint_prefix_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > FINGERPRINT_HEX_LEN)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return 0;
        return 1;
}

int fingerprint_valid(const char *s)
{
        if (strlen(s) != FINGERPRINT_HEX_LEN || !fingerprint_prefix_valid(s))
                return 0;
        for (; *s; s++)
                if (isupper((unsigned char)*s))
                        return 0;
        return 1;
}
