/* process.h: what turns the container's init (or an exec'd process) into
 * the configured process: rlimits, personality, cwd, identity,
 * capabilities, no_new_privs, and finally execve. */
#pragma once

#include <stdbool.h>
#include "seccomp_filter.h"
#include "spec.h"

/* Before pivot_root: things that need the host's /proc (oom_score_adj). */
int process_prepare_host(const struct vessel_process *p, vessel_error **err);
/* Inside the root: HOME (added to p->env from the container's /etc/passwd
 * when the environment has none), rlimits, personality, umask, cwd (created
 * when missing if create_cwd: init does, as runc and crun do; exec does
 * not); resolves args[0] through the process's PATH into *exe. */
int process_prepare(struct vessel_process *p, const struct vessel_linux *lx, bool create_cwd,
                    char **exe, vessel_error **err);
/* Is an LSM label asked for that this host cannot apply?  (Checked before
 * anything is created.) */
int process_check_lsm(const struct vessel_process *p, vessel_error **err);
/* Label the next execve: AppArmor profile, SELinux label. */
int process_apply_lsm(const struct vessel_process *p, vessel_error **err);
/* Nothing of the runtime's survives execve: every fd above 2 +
 * preserve_fds is marked close-on-exec and ignored signals go back to
 * their default.  Called before process_set_identity, so that none of it
 * runs under the seccomp filter. */
int process_drop_inherited(int preserve_fds, vessel_error **err);
/* Drop to the configured identity in the safe order: stdio pipes and files
 * handed to the user, bounding set, groups, gid, uid, capabilities,
 * no_new_privs, and the seccomp filter last.
 * Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so then
 * it goes in after the uid and gid change but before the capabilities are
 * set: only capset (and raising ambient capabilities) runs under it before
 * execve, which a profile must allow then (runc and crun run more). */
int process_set_identity(const struct vessel_process *p, bool in_userns,
                         const struct vessel_bpf *seccomp, vessel_error **err);
/* execve. Returns only on error. */
int process_exec(const struct vessel_process *p, const char *exe, vessel_error **err);
/* Set KEY=VALUE in the process's environment, replacing an existing KEY. */
void process_env_set(struct vessel_process *p, const char *kv);
/* systemd socket activation: when the caller handed us LISTEN_FDS for our
 * own pid, the number of fds (from 3) to pass on; 0 otherwise. */
int process_listen_fds(void);
/* Look up a command in PATH as execvp would, but with the container's PATH. */
int process_find_exe(const char *cmd, char *const *env, char **out, vessel_error **err);
