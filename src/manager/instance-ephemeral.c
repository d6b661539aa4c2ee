/* instance-ephemeral.c: ephemeral instances whose monitor died.
 *
 * An ephemeral instance is deleted by its own monitor when it stops
 * (instance_record_exit).  A monitor killed with SIGKILL, or a host that
 * went down, leaves its row saying running: the next command that opens
 * the store ends what is left of the container and deletes it.  One
 * query finds the candidates (ephemeral rows that do not say stopped);
 * each is taken only under its op.lock, which every start, stop and
 * delete holds while it works, and only when no monitor holds its lock:
 * of two commands at it at once, one does it and the other passes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "instance-run.h"
#include "instance.h"
#include "rundir.h"
#include "util.h"

static int candidates(struct vessel_store *s, char ***out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = xmalloc0(sizeof(char *));
        if (store_prepare(s,
                          "SELECT name FROM instances WHERE ephemeral = 1"
                          " AND state IN ('running', 'frozen')",
                          &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                *out = strv_append(*out, (const char *)sqlite3_column_text(st, 0));
        return rc < 0 ? rc : 0;
}

/* Under its op.lock: still an ephemeral instance that says it runs,
 * with no monitor. */
static bool still_dead(struct vessel_store *s, const char *name, const struct rundir *rd)
{
        struct instance i;
        bool dead;

        if (rundir_monitor_alive(rd) || instance_get(s, name, &i, NULL) < 0)
                return false;
        dead = i.ephemeral && strcmp(i.state, "stopped");
        instance_free(&i);
        return dead;
}

static int reap(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char *path = NULL;
        struct rundir rd;
        int r = 0;

        if (instance_monitor_alive(s, name))
                return 0;
        if (rundir_open(s, name, &rd, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        path = xasprintf("%s/op.lock", rd.inst);
        lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock < 0)
                r = vessel_error_sys(err, "instance \"%s\": open %s", name, path);
        else if (flock(lock, LOCK_EX | LOCK_NB) < 0)
                r = errno == EWOULDBLOCK ? 0 : vessel_error_sys(err, "flock %s", path);
        else if (still_dead(s, name, &rd)) {
                fprintf(stderr,
                        "vesselctl: instance %s: ephemeral, and its monitor died: deleting it\n",
                        name);
                r = instance_orphan_reap(s, name, &rd, err);
                /* As its monitor would have (no second look at the lock,
                 * which we hold). */
                if (r == 0)
                        r = instance_delete_by_monitor(s, name, err);
        }
        rundir_free(&rd);
        return r;
}

int instance_ephemeral_recover(struct vessel_store *s, vessel_error **err)
{
        _cleanup_strv_ char **names = NULL;

        if (candidates(s, &names, err) < 0)
                return -EIO;
        for (char **n = names; *n; n++) {
                vessel_error *e = NULL;
                /* One that cannot be cleaned must not stop every command:
                 * said, and tried again by the next. */
                if (reap(s, *n, &e) < 0) {
                        fprintf(stderr, "vesselctl: %s (the next command retries)\n", e->msg);
                        vessel_error_free(&e);
                }
        }
        return 0;
}
