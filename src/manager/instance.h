/* instance.h: instances in the catalogue and their directories.
 *
 * An instance is a row (instances, with its own keys and devices, and
 * its profiles in order) and a directory instances/<name>/ holding its
 * rootfs/ (a copy of its image's) and backup.yaml (its configuration,
 * profiles, devices and image, rewritten atomically on every change).
 *
 * init copies the rootfs into a hidden, locked instances/.init-XXXX
 * directory holding no catalogue lock, then in one transaction inserts
 * the rows (state "creating"), writes backup.yaml, renames the directory
 * into place and marks the row "stopped".  Killed at any moment it leaves
 * nothing visible, or a complete instance; instance_recover (at every
 * store open) cleans the rest, with the mechanism images use
 * (store-dirs.c).  Running comes in the next slice of issue 11. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

#define INSTANCE_TMP_PREFIX ".init-"
/* The trigger whose templates the next start applies first (create,
 * copy, rename), as Incus keeps it. */
#define INSTANCE_KEY_APPLY_TEMPLATE "volatile.apply_template"

/* What the runtime's `events --stats` says of a running instance. */
struct instance_stats {
        int64_t processes;
        int64_t memory, memory_nocache, memory_peak, swap; /* bytes */
        int64_t cpu_ns;
};

struct instance {
        int64_t id;
        char *name;
        char *type;         /* "container" */
        char *architecture; /* Incus name, from the image */
        char *image;        /* fingerprint ("" once unknown) */
        char *state;        /* "stopped", "running", "frozen" */
        char *storage_driver;
        int64_t pool_id; /* 0: made before pools, its rootfs in its directory */
        char *pool;      /* the pool's name, or NULL */
        char *volume;    /* its volume's name in the pool (storage.h), or NULL */
        bool ephemeral;
        int64_t created_at, last_used_at; /* unix times, 0: never */
        char **profiles;                  /* in order; never NULL */
        struct confset conf;              /* its own keys, devices, description */
        size_t n_snapshots;
        bool privileged; /* security.privileged of the expanded configuration (set by
                            the list and info commands) */
        /* Filled by instance_refresh (instance-run.h), else 0. */
        int init_pid;
        bool have_stats;
        struct instance_stats stats;
};

/* RFC 1123 label: 1 to 63 letters, digits and '-', not starting or
 * ending with '-'. */
bool instance_name_valid(const char *name);

struct instance_create_opts {
        const char *image; /* alias or fingerprint prefix */
        const char *name;
        char *const *profiles; /* NULL: "default"; with no_profiles: none */
        bool no_profiles;
        const struct kvlist *config; /* -c keys, or NULL */
        const char *description;
        bool ephemeral;
        const char *pool; /* storage pool; NULL: the default pool */
};

int instance_create(struct vessel_store *s, const struct instance_create_opts *o,
                    vessel_error **err);
int instance_get(struct vessel_store *s, const char *name, struct instance *out,
                 vessel_error **err);
/* Every complete instance, by name. */
int instance_list(struct vessel_store *s, struct instance **out, size_t *n, vessel_error **err);
void instance_free(struct instance *i);
void instance_list_free(struct instance *v, size_t n);

/* force: also a running instance (killed first). */
int instance_delete(struct vessel_store *s, const char *name, bool force, vessel_error **err);
/* The end of an ephemeral instance, by its own monitor. */
int instance_delete_by_monitor(struct vessel_store *s, const char *name, vessel_error **err);
int instance_rename(struct vessel_store *s, const char *from, const char *to, vessel_error **err);

/* The profiles in order, then the instance's own keys and devices. */
int instance_expand(struct vessel_store *s, const struct instance *i, struct confset *out,
                    vessel_error **err);
/* instance-oci.c: the OCI config.json that the runtime runs it with
 * (oci-gen.h), with the binds of an lxcfs that lives now (lxcfs.h). */
int instance_oci_config(struct vessel_store *s, const char *name, char **json, vessel_error **err);
/* The same for a start: lxcfs is started first when it is installed but
 * not running (unless security.lxcfs=false), saying so on stderr. */
int instance_oci_config_start(struct vessel_store *s, const char *name, char **json,
                              vessel_error **err);
/* The cgroupsPath it runs under: /vessel/<store key>/<name>. */
char *instance_cgroup_path(struct vessel_store *s, const char *name);
/* Apply e to the instance's own configuration, validate, store, rewrite
 * backup.yaml: one transaction.  profiles (when not NULL) replaces the
 * profile list, in order. */
int instance_edit(struct vessel_store *s, const char *name, const struct conf_edit *e,
                  char *const *profiles, vessel_error **err);

enum profile_op { PROFILES_ASSIGN, PROFILES_ADD, PROFILES_REMOVE };
int instance_profiles_change(struct vessel_store *s, const char *name, enum profile_op op,
                             char *const *profiles, vessel_error **err);

/* Inside a transaction: rewrite an instance's backup.yaml. */
int instance_backup_write_name(struct vessel_store *s, const char *name, vessel_error **err);
/* The same for the row of name (also one still "creating") into
 * instances/<dir>/backup.yaml (an init's or import's staging directory). */
int instance_backup_write_at(struct vessel_store *s, const char *name, const char *dir,
                             vessel_error **err);
/* The text of backup.yaml for an instance (its profiles in full). */
int instance_backup_yaml(struct vessel_store *s, const struct instance *i, char **out,
                         vessel_error **err);

/* Clean what killed commands left in instances/ (called by store_open). */
int instance_recover(struct vessel_store *s, vessel_error **err);

/* instance-copy.c: copies and moves (docs/store.md, "Copies and moves").
 *
 * A copy is made in a hidden, locked instances/.copy-<volume> directory
 * (the volume named after it, so that storage_recover knows it at work)
 * holding no catalogue lock, then one transaction inserts the rows,
 * writes backup.yaml and renames the directory into place, as init does:
 * killed at any moment it leaves nothing visible, or a complete copy. */
struct instance_copy_opts {
        /* An instance, stopped or running (copied as it is on disk), or
         * INSTANCE/SNAPSHOT: a new instance from a snapshot (its files and
         * configuration). */
        const char *source;
        const char *name;   /* the new one */
        const char *pool;   /* NULL: the source's (a clone), else a full transfer */
        bool ephemeral;
        bool instance_only;          /* without snapshots: copies never take them yet */
        const struct kvlist *config; /* -c keys over the source's, or NULL */
        char *const *profiles;       /* NULL: the source's; with no_profiles: none */
        bool no_profiles;
        /* Called with a line saying what a full transfer copies (for a
         * terminal), or NULL. */
        void (*progress)(const char *line, void *data);
        void *progress_data;
        const char *snapshot; /* set by instance_copy from source's /SNAPSHOT */
};
/* The copy gets the source's own keys, devices, profiles and description,
 * not its volatile.* keys but volatile.apply_template=copy (its copy
 * templates at the first start), and its own id range at its first start
 * (its files shifted from where the source's record says they are). */
int instance_copy(struct vessel_store *s, const struct instance_copy_opts *o, vessel_error **err);
/* Rename (to: NULL or from: a no-op rename) and/or move a stopped
 * instance's volume to pool (NULL: stay): the volume is copied, then the
 * row and instances/<name>/rootfs switch in one transaction, and the old
 * volume goes after the commit. */
int instance_move(struct vessel_store *s, const char *from, const char *to, const char *pool,
                  void (*progress)(const char *line, void *data), void *progress_data,
                  vessel_error **err);
/* What killed copies and moves left in instances/ (.copy-* whose lock is
 * free): a move that did not commit gets its rootfs link back.  Called
 * by instance_recover, under the write lock when there is a move. */
int instance_copy_recover(struct vessel_store *s, vessel_error **err);

/* instance-ephemeral.c: ephemeral instances whose monitor died (killed,
 * or the host went down) stopped and deleted (called by store_open). */
int instance_ephemeral_recover(struct vessel_store *s, vessel_error **err);

/* Make the instance's rootfs reachable at instances/<name>/rootfs: its
 * pool attached and mounted, its volume mounted (after a host reboot). */
int instance_storage_ready(struct vessel_store *s, const char *name, vessel_error **err);
/* The image's metadata.yaml and templates/ into the instance directory,
 * so that its templates outlive the image (as Incus keeps them). */
int instance_templates_copy(struct vessel_store *s, const char *fingerprint, int dir_fd,
                            const char *dir_path, vessel_error **err);

/* template-apply.c: render the templates of the instance's metadata.yaml
 * for trigger (one TRIGGER_* bit) into the rootfs at rootfs_path, confined
 * to it.  With TRIGGER_START the pending volatile.apply_template trigger's
 * templates come first, and the key is cleared.  Every template is
 * rendered into a temp file beside its target before any is renamed into
 * place: a syntax error or a bad template leaves the rootfs and the key
 * as they were.  An instance without metadata.yaml has no templates. */
int instance_templates_apply(struct vessel_store *s, const char *name, const char *rootfs_path,
                             enum template_trigger trigger, vessel_error **err);
