/* oci-gen-seccomp.h: the linux.seccomp section of an instance's
 * config.json (part of oci-gen.c): with security.syscalls.intercept.mknod
 * (by default on when the instance is not privileged), mknod and mknodat
 * go to the monitor's mknod supervisor (mknod-supervisor.h), everything
 * else is allowed. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "oci-gen.h"

/* Whether the expanded configuration asks for the interception. */
bool oci_gen_intercepts_mknod(const struct confset *conf);
/* Add linux.seccomp to linux_ when the interception is on and the input
 * names the supervisor's socket (in->seccomp_listener). */
void oci_gen_seccomp(const struct oci_gen_input *in, json_object *linux_);
