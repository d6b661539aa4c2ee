/* hooks.h: OCI hooks, run with the container state on stdin and an
 * optional timeout. */
#pragma once

#include "spec.h"

/* Run the hooks of one kind in order; the first failure stops and is returned. */
int hooks_run(const struct vessel_spec *spec, enum vessel_hook_kind kind, const char *state_json,
              vessel_error **err);
/* hooks_run() for the hooks that run in the container's namespaces
 * (createContainer, startContainer), from its init: their state's "pid" is
 * the init's pid as the container sees it. */
int hooks_run_in_container(const struct vessel_spec *spec, enum vessel_hook_kind kind,
                           const char *state_json, vessel_error **err);
/* Run them all; each failure is a warning on stderr (poststart, poststop). */
void hooks_run_warn(const struct vessel_spec *spec, enum vessel_hook_kind kind, const char *state_json);
/* Check that every hook binary exists and is executable (before anything is created). */
int hooks_check(const struct vessel_spec *spec, vessel_error **err);
