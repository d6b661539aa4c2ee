/* cgroup-ops.h: the container operations that work on its cgroup, for the
 * CLI: pause, resume, update, stats, events, ps.  Each one finds the
 * container by id under rt->root and its cgroup from state.json. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "container.h"
#include "spec.h"

/* Freeze every process of a running (or created) container and wait until
 * the kernel reports the cgroup frozen; `state` then says "paused". */
int vessel_pause(const struct vessel_runtime *rt, const char *id, vessel_error **err);
int vessel_resume(const struct vessel_runtime *rt, const char *id, vessel_error **err);
/* Apply what r sets (other resources stay as they are). */
int vessel_update(const struct vessel_runtime *rt, const char *id, const struct vessel_resources *r,
                  vessel_error **err);
/* runc's stats event: {"type":"stats","id":ID,"data":{...}} (malloc'd). */
int vessel_stats(const struct vessel_runtime *rt, const char *id, char **json, vessel_error **err);

/* Called with each event as one line of JSON; a negative return stops. */
typedef int (*vessel_event_fn)(const char *json, void *ud);
/* Stream a container's events until it stops: a stats event every
 * interval_ms, and {"type":"oom","id":ID} for every OOM kill. */
int vessel_events(const struct vessel_runtime *rt, const char *id, unsigned interval_ms,
                  vessel_event_fn emit, void *ud, vessel_error **err);
/* The host pids of every process in the container's cgroup (malloc'd). */
int vessel_pids(const struct vessel_runtime *rt, const char *id, pid_t **pids, size_t *n,
                vessel_error **err);
