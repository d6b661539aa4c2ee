/* cgroup-bpf.h: device rules on cgroup v2, where the devices controller is
 * an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
 * cgroup.  The program is built here from the effective rules
 * (cgroup_device_rules()), loaded, and attached with BPF_F_ALLOW_MULTI in
 * place of the programs vessel attached before. */
#pragma once

#include <stddef.h>
#include <linux/bpf.h>

#include "cgroup-values.h"
#include "error.h"

/* The program for rules (pure; malloc'd instructions).
 *
 * Shape: 6 instructions load the device type, the requested access bits,
 * the major and the minor from struct bpf_cgroup_dev_ctx.  Then one block
 * per rule, LAST rule first, since later rules win: the block skips to the
 * next one unless type, major and minor match (one jump for each that is
 * not a wildcard), then
 *   allow: clears the access bits it grants from the pending ones and
 *          returns 1 when none are left (4 instructions);
 *   deny:  returns 0 when it covers any pending bit (5 instructions).
 * So each access bit is decided by the last rule that names it, as the v1
 * devices controller decides; the program ends with "return 0" (2). */
int cgroup_bpf_build(const struct cgroup_dev_rule *rules, size_t n, struct bpf_insn **out,
                     size_t *len);

/* Load the program for rules and attach it to the cgroup directory cgfd,
 * then detach the device programs that were attached to it before.  dir
 * names the cgroup in errors. */
int cgroup_bpf_apply(int cgfd, const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                     vessel_error **err);
