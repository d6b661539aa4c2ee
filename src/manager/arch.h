/* arch.h: architecture names as Incus spells them (x86_64, aarch64, ...)
 * and which of them this host can run. */
#pragma once

#include <stdbool.h>

/* The Incus name for name or one of its aliases (amd64 -> x86_64, arm64 ->
 * aarch64, ...); NULL for an unknown architecture. */
const char *arch_canonical(const char *name);
/* This machine's architecture, Incus name (from uname). */
const char *arch_host(void);
/* Can a host of architecture host run binaries of arch (both Incus
 * names)?  Its own, and the 32-bit personality of some 64-bit ones. */
bool arch_runs_on(const char *arch, const char *host);
