/* rlimits.h: process.rlimits. */
#pragma once

#include "spec.h"

int rlimits_apply(const struct vessel_process *p, vessel_error **err);
