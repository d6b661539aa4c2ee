/* template-apply.c: an instance's templates (its copy of the image's
 * metadata.yaml and templates/) rendered into its rootfs at a trigger.
 *
 * The sequence: read everything and render every template of the
 * trigger(s) in memory (a syntax error, a missing template, a bad uid
 * stop here, having touched nothing); then write each into a temp file
 * beside its target, resolved inside the rootfs by the kernel
 * (resolve.h: openat2 RESOLVE_IN_ROOT, so the image's symlinks cannot
 * lead a write out of it); then rename them all into place; last, clear
 * the pending volatile.apply_template. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "config-db.h"
#include "extract.h"
#include "idrange.h"
#include "idshift.h"
#include "instance.h"
#include "metadata.h"
#include "resolve.h"
#include "template.h"
#include "userns-helper.h"
#include "util.h"

/* Larger template files are refused (Incus's images have a few lines). */
#define TEMPLATE_MAX_SIZE (1024 * 1024)

/* One rendered template, waiting to be written. */
struct planned {
        const struct image_template *t;
        char *clean; /* its path inside the root, cleaned ("etc/hostname") */
        char *out;
        size_t len;
        uid_t uid;
        gid_t gid;
        mode_t mode;
        int parent;   /* O_PATH fd of its directory in the root */
        char tmp[64]; /* the temp file's name in it, once made */
        bool skip;    /* create_only and already there */
};

struct apply {
        struct vessel_store *s;
        const char *name;
        struct instance inst;
        struct confset expanded;
        struct image_metadata md;
        struct tpl_value ctx;
        int templates_fd;
        int root_fd;
        struct planned *v;
        size_t n;
        uint32_t id_base; /* added to the owners (a rootless store's files' block) */
};

static unsigned trigger_bit(const char *name)
{
        for (unsigned bit = TRIGGER_CREATE; bit <= TRIGGER_RENAME; bit <<= 1)
                if (name && !strcmp(name, template_trigger_name(bit)))
                        return bit;
        return 0;
}

static void apply_free(struct apply *a)
{
        for (size_t i = 0; i < a->n; i++) {
                struct planned *p = &a->v[i];
                if (p->tmp[0] && p->parent >= 0)
                        unlinkat(p->parent, p->tmp, 0);
                closep(&p->parent);
                free(p->clean);
                free(p->out);
        }
        free(a->v);
        closep(&a->templates_fd);
        closep(&a->root_fd);
        tpl_value_free(&a->ctx);
        image_metadata_free(&a->md);
        confset_free(&a->expanded);
        instance_free(&a->inst);
}

/* The context every template of the instance shares (Incus's): instance
 * and container, config (expanded), devices (with their type). */
static void context_build(struct apply *a)
{
        static const char *const maps[] = {"instance", "container"};
        const char *priv = kvlist_get(&a->expanded.config, "security.privileged");
        bool privileged = false;
        struct tpl_value *config, *devices;

        if (priv)
                config_parse_bool(priv, &privileged);
        tpl_map_init(&a->ctx);
        for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
                struct tpl_value *m = tpl_map_set_map(&a->ctx, maps[i]);
                tpl_map_set_string(m, "name", a->inst.name);
                tpl_map_set_string(m, "type", a->inst.type);
                tpl_map_set_string(m, "architecture", a->inst.architecture);
                tpl_map_set_string(m, "ephemeral", a->inst.ephemeral ? "true" : "false");
                tpl_map_set_string(m, "privileged", privileged ? "true" : "false");
        }
        config = tpl_map_set_map(&a->ctx, "config");
        for (size_t i = 0; i < a->expanded.config.n; i++)
                tpl_map_set_string(config, a->expanded.config.v[i].key,
                                   a->expanded.config.v[i].value);
        devices = tpl_map_set_map(&a->ctx, "devices");
        for (size_t i = 0; i < a->expanded.devices.n; i++) {
                const struct device *d = &a->expanded.devices.v[i];
                struct tpl_value *m = tpl_map_set_map(devices, d->name);
                for (size_t k = 0; k < d->cfg.n; k++)
                        tpl_map_set_string(m, d->cfg.v[k].key, d->cfg.v[k].value);
                tpl_map_set_string(m, "type", d->type);
        }
}

/* metadata.yaml of the instance; 0 with no templates when it has none. */
static int load(struct apply *a, vessel_error **err)
{
        _cleanup_free_ char *meta = xasprintf("%s/metadata.yaml", a->name);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        if (instance_expand(a->s, &a->inst, &a->expanded, err) < 0)
                return -EIO;
        if (faccessat(a->s->instances_fd, meta, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                return 0;
        r = read_file_at(a->s->instances_fd, meta, &buf, &len, err);
        if (r == 0)
                r = image_metadata_parse(buf, len, &a->md, err);
        if (r < 0)
                return vessel_error_prefix(err, "instances/%s", meta);
        context_build(a);
        return 0;
}

/* A template file, below templates/ and never through a symlink out of it. */
static int read_template(struct apply *a, const char *file, char **out, size_t *len,
                         vessel_error **err)
{
        struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                               .resolve =
                                   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        _cleanup_free_ char *clean = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (path_clean(file, &clean) < 0 || !*clean)
                return vessel_error_msg(err, EINVAL, "\"%s\": not a file name under templates/",
                                        file);
        if (a->templates_fd < 0) {
                _cleanup_free_ char *dir = xasprintf("%s/templates", a->name);
                a->templates_fd = openat(a->s->instances_fd, dir,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (a->templates_fd < 0)
                        return vessel_error_sys(err, "templates/%s", clean);
        }
        do
                fd = (int)syscall(SYS_openat2, a->templates_fd, clean, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        if (fd < 0 && (errno == EXDEV || errno == ELOOP))
                return vessel_error_msg(err, EXDEV, "templates/%s: a symlink (refused)", clean);
        if (fd < 0)
                return vessel_error_sys(err, "templates/%s", clean);
        if (fstat(fd, &st) < 0)
                return vessel_error_sys(err, "templates/%s", clean);
        if (!S_ISREG(st.st_mode))
                return vessel_error_msg(err, EINVAL, "templates/%s: not a regular file", clean);
        if (st.st_size > TEMPLATE_MAX_SIZE)
                return vessel_error_msg(err, EFBIG, "templates/%s: larger than %d bytes", clean,
                                        TEMPLATE_MAX_SIZE);
        *out = xmalloc0((size_t)st.st_size + 1);
        *len = (size_t)read_all(fd, *out, (size_t)st.st_size);
        if (*len != (size_t)st.st_size) {
                free(steal_ptr(out));
                return vessel_error_sys(err, "templates/%s: read", clean);
        }
        return 0;
}

static int parse_id(const char *s, const char *what, unsigned long *out, vessel_error **err)
{
        int64_t v;

        if (!s) {
                *out = 0;
                return 0;
        }
        if (parse_int64(s, &v) < 0 || v < 0 || v >= UINT32_MAX)
                return vessel_error_msg(err, EINVAL, "%s \"%s\" is not a number", what, s);
        *out = (unsigned long)v;
        return 0;
}

/* uid, gid (decimal) and mode (octal), defaults 0, 0 and 0644. */
static int parse_owner(const struct image_template *t, struct planned *p, vessel_error **err)
{
        unsigned long uid, gid;
        char *end;
        long mode = 0644;

        if (parse_id(t->uid, "uid", &uid, err) < 0 || parse_id(t->gid, "gid", &gid, err) < 0)
                return -EINVAL;
        if (t->mode) {
                errno = 0;
                mode = strtol(t->mode, &end, 8);
                if (!*t->mode || *end || errno || mode < 0 || mode > 07777)
                        return vessel_error_msg(
                            err, EINVAL, "mode \"%s\" is not an octal mode (like 0644)", t->mode);
        }
        p->uid = (uid_t)uid;
        p->gid = (gid_t)gid;
        p->mode = (mode_t)mode;
        return 0;
}

static struct planned *plan_slot(struct apply *a, const char *clean, bool create_only)
{
        for (size_t i = 0; i < a->n; i++)
                if (!strcmp(a->v[i].clean, clean)) {
                        if (create_only)
                                return NULL; /* written by an earlier trigger */
                        free(a->v[i].out);
                        free(a->v[i].clean);
                        a->v[i].out = NULL;
                        return &a->v[i];
                }
        a->v = realloc(a->v, (a->n + 1) * sizeof(*a->v));
        if (!a->v)
                abort();
        a->v[a->n] = (struct planned){.parent = -1};
        return &a->v[a->n++];
}

/* Render one template for trigger; a later trigger's render of the same
 * path replaces an earlier one's, as writing them in turn would. */
static int plan_one(struct apply *a, const struct image_template *t, unsigned trigger,
                    vessel_error **err)
{
        _cleanup_free_ char *src = NULL, *clean = NULL, *out = NULL;
        struct planned p = {.t = t, .parent = -1}, *slot;
        struct tpl_value *props;
        size_t len = 0, out_len;

        if (!t->path || t->path[0] != '/' || path_clean(t->path + 1, &clean) < 0 || !*clean)
                return vessel_error_msg(err, EINVAL,
                                        "template \"%s\": not an absolute path in the instance",
                                        t->path ? t->path : "");
        if (parse_owner(t, &p, err) < 0 || read_template(a, t->template, &src, &len, err) < 0)
                return vessel_error_prefix(err, "template %s", t->path);
        tpl_map_set_string(&a->ctx, "trigger", template_trigger_name(trigger));
        tpl_map_set_string(&a->ctx, "path", t->path);
        props = tpl_map_set_map(&a->ctx, "properties");
        for (size_t i = 0; i < t->n_properties; i++)
                tpl_map_set_string(props, t->properties[i].key, t->properties[i].value);
        if (template_render(t->template, src, len, &a->ctx, &out, &out_len, err) < 0)
                return -EINVAL;
        slot = plan_slot(a, clean, t->create_only);
        if (!slot)
                return 0;
        p.clean = steal_ptr(&clean);
        p.out = steal_ptr(&out);
        p.len = out_len;
        *slot = p;
        return 0;
}

static int plan(struct apply *a, const unsigned *triggers, size_t n, vessel_error **err)
{
        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; i < a->md.n_templates; i++)
                        if ((a->md.templates[i].when & triggers[k]) &&
                            plan_one(a, &a->md.templates[i], triggers[k], err) < 0)
                                return -EINVAL;
        return 0;
}

static const char *base_name(const char *clean)
{
        const char *slash = strrchr(clean, '/');
        return slash ? slash + 1 : clean;
}

/* The temp file of p beside its target, with its content and owner. */
static int stage_one(struct apply *a, struct planned *p, vessel_error **err)
{
        _cleanup_free_ char *dir = xstrdup(p->clean);
        _cleanup_close_ int fd = -1;
        const char *base = base_name(p->clean);
        char *slash = strrchr(dir, '/');
        struct stat st;
        uint32_t rnd;

        *(slash ? slash : dir) = '\0';
        p->parent = path_open_in_root(a->root_fd, *dir ? dir : "/", RESOLVE_CREATE_DIR, err);
        if (p->parent < 0)
                return -EIO;
        if (fstatat(p->parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (p->t->create_only) {
                        p->skip = true;
                        return 0;
                }
                if (S_ISDIR(st.st_mode))
                        return vessel_error_msg(err, EISDIR, "/%s: a directory is there", p->clean);
        }
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                return vessel_error_sys(err, "getrandom");
        snprintf(p->tmp, sizeof(p->tmp), ".vessel-template-%08x", rnd);
        fd = openat(p->parent, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                p->tmp[0] = '\0';
                return vessel_error_sys(err, "/%s: creating a temp file beside it", p->clean);
        }
        /* chown before chmod: chown clears the set-id bits. */
        if (write_all(fd, p->out, p->len) < 0 || fchown(fd, a->id_base + p->uid, a->id_base + p->gid) < 0 ||
            fchmod(fd, p->mode) < 0)
                return vessel_error_sys(err, "/%s: writing it", p->clean);
        return 0;
}

static int write_all_planned(struct apply *a, const char *rootfs_path, vessel_error **err)
{
        if (!a->n)
                return 0;
        a->root_fd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->root_fd < 0)
                return vessel_error_sys(err, "%s", rootfs_path);
        for (size_t i = 0; i < a->n; i++)
                if (stage_one(a, &a->v[i], err) < 0)
                        return vessel_error_prefix(err, "template %s", a->v[i].t->path);
        for (size_t i = 0; i < a->n; i++) {
                struct planned *p = &a->v[i];
                if (p->skip)
                        continue;
                if (renameat(p->parent, p->tmp, p->parent, base_name(p->clean)) < 0)
                        return vessel_error_sys(err, "template %s: putting it in place",
                                                p->t->path);
                p->tmp[0] = '\0';
        }
        return 0;
}

struct write_args {
        struct apply *a;
        const char *rootfs_path;
};

/* In the helper's child: what it made is removed there on failure. */
static int write_in_userns(void *arg, vessel_error **err)
{
        struct write_args *w = arg;
        int r = write_all_planned(w->a, w->rootfs_path, err);

        for (size_t i = 0; r < 0 && i < w->a->n; i++) {
                struct planned *p = &w->a->v[i];
                if (p->tmp[0] && p->parent >= 0)
                        unlinkat(p->parent, p->tmp, 0);
        }
        return r;
}

/* A rootless store's rootfs belongs to the user's subordinate ids: the
 * templates are written by root of a user namespace of them, owned by
 * the block the files are in now (idshift.h: the images' block until the
 * first start shifts them). */
static int write_rootless(struct apply *a, const char *rootfs_path, vessel_error **err)
{
        _cleanup_close_ int dfd =
            openat(a->s->instances_fd, a->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct idrange_user u;
        uint64_t base;
        int r;

        if (!a->n)
                return 0;
        if (dfd < 0)
                return vessel_error_sys(err, "open instances/%s", a->name);
        if ((r = idrange_user_read(&u, err)) < 0)
                return r;
        if (idshift_current(dfd, &base) == 0)
                base = idrange_user_image_base(&u);
        a->id_base = (uint32_t)base;
        r = userns_run(&u, "writing templates", write_in_userns,
                       &(struct write_args){a, rootfs_path}, err);
        idrange_user_free(&u);
        return r;
}

/* The pending trigger is cleared only if nobody changed it meanwhile. */
static int clear_pending(struct vessel_store *s, const char *name, const char *applied,
                         vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        struct instance i;
        const char *now;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        now = kvlist_get(&i.conf.config, INSTANCE_KEY_APPLY_TEMPLATE);
        r = now && !strcmp(now, applied) ? 1 : 0;
        if (r)
                r = confdb_key_set(s, OWNER_INSTANCE, i.id, INSTANCE_KEY_APPLY_TEMPLATE, NULL, err);
        instance_free(&i);
        if (r == 0)
                r = instance_backup_write_name(s, name, err);
        if (r == 0)
                r = store_tx_commit(&tx, err);
        return r;
}

int instance_templates_apply(struct vessel_store *s, const char *name, const char *rootfs_path,
                             enum template_trigger trigger, vessel_error **err)
{
        struct apply a = {.s = s, .name = name, .templates_fd = -1, .root_fd = -1};
        _cleanup_free_ char *pending = NULL;
        unsigned triggers[2];
        size_t n = 0;
        int r;

        if (instance_get(s, name, &a.inst, err) < 0)
                return vessel_error_rc(err);
        r = load(&a, err);

        if (r == 0 && trigger == TRIGGER_START) {
                pending = xstrdup(kvlist_get(&a.inst.conf.config, INSTANCE_KEY_APPLY_TEMPLATE));
                if (pending && !trigger_bit(pending))
                        r = vessel_error_msg(err, EINVAL, "%s: unknown trigger \"%s\"",
                                             INSTANCE_KEY_APPLY_TEMPLATE, pending);
                else if (pending)
                        triggers[n++] = trigger_bit(pending);
        }
        triggers[n++] = trigger;
        if (r == 0)
                r = plan(&a, triggers, n, err);
        if (r == 0)
                r = store_is_rootless(s) ? write_rootless(&a, rootfs_path, err)
                                         : write_all_planned(&a, rootfs_path, err);
        apply_free(&a);
        if (r == 0 && pending)
                r = clear_pending(s, name, pending, err);
        if (r < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        return 0;
}
