/* caps.h: capability sets (bounding, effective, permitted, inheritable,
 * ambient) applied with prctl and capset, no libcap needed. */
#pragma once

#include "spec.h"

/* Drop what is not in the bounding set; call while still privileged,
 * before changing uid. */
int caps_drop_bounding(const struct vessel_capabilities *c, vessel_error **err);
/* Set effective/permitted/inheritable, then ambient; call after setuid
 * (with PR_SET_KEEPCAPS set before it). */
int caps_apply(const struct vessel_capabilities *c, vessel_error **err);
/* Raise a permitted capability into the effective set. */
int caps_raise_effective(int cap, vessel_error **err);
/* The kernel's highest capability number. */
int caps_last_cap(void);
