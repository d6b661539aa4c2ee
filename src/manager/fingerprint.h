/* fingerprint.h: image fingerprints, SHA-256 as Incus computes them (of
 * the unified tarball; of the metadata tarball then the rootfs tarball for
 * a split image), streamed, with nettle's SHA-256. */
#pragma once

#include <stddef.h>
#include <nettle/sha2.h>

#define FINGERPRINT_HEX_LEN 64
#define FINGERPRINT_SHORT_LEN 12

struct fingerprint {
        struct sha256_ctx sha;
};

void fingerprint_init(struct fingerprint *f);
void fingerprint_update(struct fingerprint *f, const void *data, size_t len);
/* Write 64 lower-case hex digits and a NUL into hex[65]. */
void fingerprint_final(struct fingerprint *f, char hex[FINGERPRINT_HEX_LEN + 1]);
/* A full fingerprint: 64 lower-case hex digits. */
int fingerprint_valid(const char *s);
/* A possible prefix of one: 1..64 hex digits (either case). */
int fingerprint_prefix_valid(const char *s);
