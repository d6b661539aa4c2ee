/* namespaces.h: namespace types, clone flags, and joining by path. */
#pragma once

#include "spec.h"

int ns_clone_flag(enum vessel_ns_type t);
/* The /proc/<pid>/ns/<name> name of a type ("net" for network). */
const char *ns_proc_name(enum vessel_ns_type t);
/* Open a namespace path and check that it is a namespace of type t. */
int ns_open_checked(const char *path, enum vessel_ns_type t, vessel_error **err);
/* setns() into fd, naming the namespace in errors. */
int ns_join(int fd, enum vessel_ns_type t, const char *path, vessel_error **err);
/* Bring up the loopback interface of the network namespace we are in: a
 * new one starts with lo down, and runc and crun bring it up. */
int ns_loopback_up(vessel_error **err);
