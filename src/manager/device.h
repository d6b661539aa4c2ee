/* device.h: the devices of instances and profiles and their keys.
 *
 *   disk        source (an absolute host path), path (absolute, in the
 *               instance), readonly (bool): a bind mount
 *   unix-char,  source (a host device node) or major and minor; path
 *   unix-block  (absolute; defaults to source), mode (octal), uid, gid
 *
 * nic and proxy come with networks (a later issue) and are refused with a
 * message saying so.  struct device lives in config.h. */
#pragma once

#include "config.h"

/* A device name: not empty, at most 64 bytes, no '/', whitespace or
 * control characters. */
bool device_name_valid(const char *name);
/* Unknown types and keys, missing required keys and bad values are
 * errors naming the device and the key. */
int device_check(const struct device *d, vessel_error **err);
/* A disk at path "/": the instance's root file system in its storage
 * pool (keys pool and size), not a mount. */
bool device_is_root_disk(const struct device *d);
/* Parse "KEY=VALUE" arguments into a device's keys (type excluded). */
int device_parse_args(struct device *d, char *const *args, size_t n, vessel_error **err);
