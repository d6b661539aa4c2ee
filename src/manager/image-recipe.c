/* image-recipe.c: what `vesselctl image build` puts into a Debian image.
 *
 * Everything that decides the image's contents is in this file, and it is
 * summed up in the build key (build_key): a change here that changes the
 * image must bump BUILD_RECIPE_VERSION or change the package list, so
 * that stores and the tests' cache (tests/integration/debian_image.py,
 * which hashes this file) build the image again.
 *
 * Another Debian release is one more row in releases[]. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image-build.h"
#include "util.h"

#define BUILD_RECIPE_VERSION 1
#define BUILD_DEFAULT_VARIANT "minbase"

static const struct build_release releases[] = {
    {"debian", "Debian", "12", "bookworm"},
};

/* mmdebstrap's variants that make a system we can boot: minbase
 * (Priority: required and apt, the default: the smallest system that can
 * install more), apt (Essential: yes and apt), important and standard
 * (what the Debian installer adds).  extract, custom, essential and
 * buildd make no bootable system or are for building packages. */
static const char *const variants[] = {"minbase", "apt", "important", "standard", NULL};

/* What a system container booting systemd needs beyond the variant:
 *   systemd-sysv  systemd as /sbin/init (it brings systemd);
 *   dbus          the system bus: logind, hostnamectl, timedatectl and
 *                 `systemctl --user` talk to systemd through it, and
 *                 without it systemd-logind fails at every boot.
 * Nothing for networking yet (networks come with their own issue). */
static const char *const base_packages[] = {"systemd-sysv", "dbus", NULL};

const struct build_template_file build_template_files[] = {
    {"hostname.tpl", "{{ instance.name }}\n"},
    {"hosts.tpl", "127.0.0.1\tlocalhost\n"
                  "127.0.1.1\t{{ instance.name }}\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "ff02::1\tip6-allnodes\n"
                  "ff02::2\tip6-allrouters\n"},
    {NULL, NULL},
};

/* The files the templates render, at create, copy and rename (as
 * distrobuilder's Debian images do). */
static const struct {
        const char *path, *template;
} templates[] = {
    {"/etc/hostname", "hostname.tpl"},
    {"/etc/hosts", "hosts.tpl"},
};

char *build_releases_supported(void)
{
        _cleanup_strv_ char **v = xmalloc0(sizeof(char *));

        for (size_t i = 0; i < sizeof(releases) / sizeof(releases[0]); i++) {
                _cleanup_free_ char *s = xasprintf("%s/%s (%s)", releases[i].distribution,
                                                   releases[i].version, releases[i].codename);
                v = strv_append(v, s);
        }
        return strv_join(v, ", ");
}

const struct build_release *build_release_find(const char *ref, vessel_error **err)
{
        const char *slash = ref ? strchr(ref, '/') : NULL;
        _cleanup_free_ char *supported = build_releases_supported();

        for (size_t i = 0; slash && i < sizeof(releases) / sizeof(releases[0]); i++) {
                const struct build_release *r = &releases[i];
                size_t dl = strlen(r->distribution);
                if ((size_t)(slash - ref) == dl && !strncmp(ref, r->distribution, dl) &&
                    (!strcmp(slash + 1, r->version) || !strcmp(slash + 1, r->codename)))
                        return r;
        }
        vessel_error_msg(err, ENOENT, "image build \"%s\": cannot build it (supported: %s)",
                         ref ? ref : "", supported);
        return NULL;
}

int build_variant_check(const char *variant, const char **out, vessel_error **err)
{
        if (!variant) {
                *out = BUILD_DEFAULT_VARIANT;
                return 0;
        }
        for (const char *const *v = variants; *v; v++) {
                if (!strcmp(*v, variant)) {
                        *out = *v;
                        return 0;
                }
        }
        return vessel_error_msg(err, EINVAL,
                                "--variant \"%s\": not a variant this can build (minbase, apt, "
                                "important, standard)",
                                variant);
}

/* Debian Policy 5.6.7: at least two characters, lowercase letters,
 * digits, '+', '-' and '.', starting with a letter or digit. */
static bool package_name_valid(const char *n)
{
        if (strlen(n) < 2 || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
                return false;
        return strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789+-.") == strlen(n);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int build_packages(char *const *include, char ***out, vessel_error **err)
{
        _cleanup_strv_ char **v = xmalloc0(sizeof(char *));
        size_t n, k = 0;

        for (const char *const *p = base_packages; *p; p++)
                v = strv_append(v, *p);
        for (char *const *p = include; p && *p; p++) {
                if (!package_name_valid(*p))
                        return vessel_error_msg(err, EINVAL,
                                                "--include \"%s\": not a Debian package name "
                                                "(lowercase letters, digits, '+', '-', '.')",
                                                *p);
                v = strv_append(v, *p);
        }
        n = strv_len(v);
        qsort(v, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (k > 0 && !strcmp(v[k - 1], v[i]))
                        free(v[i]);
                else
                        v[k++] = v[i];
        }
        v[k] = NULL;
        *out = steal_ptr(&v);
        return 0;
}

const char *build_debian_arch(const char *arch)
{
        static const char *const map[][2] = {
            {"x86_64", "amd64"},    {"aarch64", "arm64"},   {"i686", "i386"},
            {"armv7l", "armhf"},    {"ppc64le", "ppc64el"}, {"s390x", "s390x"},
            {"riscv64", "riscv64"}, {"mips64", "mips64el"},
        };

        for (size_t i = 0; arch && i < sizeof(map) / sizeof(map[0]); i++)
                if (!strcmp(map[i][0], arch))
                        return map[i][1];
        return NULL;
}

char *build_key(const struct build_params *p)
{
        _cleanup_free_ char *pkgs = strv_join(p->packages, ",");

        return xasprintf("%s/%s recipe=%d variant=%s arch=%s packages=%s", p->release->distribution,
                         p->release->version, BUILD_RECIPE_VERSION, p->variant, p->arch, pkgs);
}

/* No mirror: for a stable release mmdebstrap takes Debian's archive with
 * -updates and -security (deb.debian.org, security.debian.org), which is
 * also what the host's sources point at; the image keeps those sources.
 * --mode=root: we are root and run it in namespaces of our own
 * (image-build.c).  mmdebstrap already empties /etc/machine-id and
 * removes apt's package lists and cache (its cleanup/apt step). */
char **build_mmdebstrap_argv(const struct build_params *p, const char *target)
{
        _cleanup_free_ char *pkgs = strv_join(p->packages, ",");
        char **v = xmalloc0(sizeof(char *));

        v = strv_append(v, "mmdebstrap");
        v = strv_append(v, "--mode=root");
        v = strv_append(v, "--format=directory");
        {
                _cleanup_free_ char *a = xasprintf("--variant=%s", p->variant);
                _cleanup_free_ char *b =
                    xasprintf("--architectures=%s", build_debian_arch(p->arch));
                _cleanup_free_ char *c = xasprintf("--include=%s", pkgs);
                v = strv_append(v, a);
                v = strv_append(v, b);
                v = strv_append(v, c);
        }
        v = strv_append(v, p->release->codename);
        v = strv_append(v, target);
        return v;
}

static void add_kv(struct kv **v, size_t *n, const char *k, const char *val)
{
        *v = realloc(*v, (*n + 1) * sizeof(**v));
        if (!*v)
                abort();
        (*v)[(*n)++] = (struct kv){xstrdup(k), xstrdup(val)};
}

/* "20261207_01:23" (UTC), as Incus's image servers write serials. */
static void build_serial(int64_t now, char *buf, size_t size)
{
        time_t t = (time_t)now;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y%m%d_%H:%M", &tm);
}

char *build_filename(const struct build_params *p, int64_t now)
{
        const char *darch = build_debian_arch(p->arch);
        char serial[32];

        build_serial(now, serial, sizeof(serial));
        return xasprintf("%s-%s-%s-%s-%s.tar", p->release->distribution, p->release->codename,
                         darch ? darch : p->arch, p->variant, serial);
}

int build_metadata(const struct build_params *p, int64_t now, char **yaml, size_t *len,
                   vessel_error **err)
{
        const char *darch = build_debian_arch(p->arch);
        struct image_metadata md = {.architecture = xstrdup(p->arch), .creation_date = now};
        char serial[32];
        int r;

        if (!darch) {
                free(md.architecture);
                return vessel_error_msg(err, ENOEXEC, "architecture \"%s\": Debian has no port",
                                        p->arch);
        }
        build_serial(now, serial, sizeof(serial));
        _cleanup_free_ char *desc =
            xasprintf("%s %s %s (%s)", p->release->name, p->release->codename, darch, serial);
        _cleanup_free_ char *key = build_key(p);
        /* Sorted by key, as image info prints them. */
        add_kv(&md.properties, &md.n_properties, "architecture", darch);
        add_kv(&md.properties, &md.n_properties, "description", desc);
        add_kv(&md.properties, &md.n_properties, "os", p->release->distribution);
        add_kv(&md.properties, &md.n_properties, "release", p->release->codename);
        add_kv(&md.properties, &md.n_properties, "serial", serial);
        add_kv(&md.properties, &md.n_properties, "variant", p->variant);
        add_kv(&md.properties, &md.n_properties, IMAGE_BUILD_PROPERTY, key);
        md.n_templates = sizeof(templates) / sizeof(templates[0]);
        md.templates = xmalloc0(md.n_templates * sizeof(*md.templates));
        for (size_t i = 0; i < md.n_templates; i++)
                md.templates[i] = (struct image_template){
                    .path = xstrdup(templates[i].path),
                    .when = TRIGGER_CREATE | TRIGGER_COPY | TRIGGER_RENAME,
                    .template = xstrdup(templates[i].template),
                };
        r = image_metadata_emit(&md, yaml, len, err);
        image_metadata_free(&md);
        return r;
}

int build_finish_rootfs(int rootfs_fd, vessel_error **err)
{
        _cleanup_close_ int etc =
            openat(rootfs_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int fd = -1;

        if (etc < 0)
                return vessel_error_sys(err, "rootfs/etc");
        /* Empty: systemd makes the machine id at first boot (an id
         * shared by every instance of the image would confuse journald
         * and DHCP). */
        fd = openat(etc, "machine-id", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return vessel_error_sys(err, "rootfs/etc/machine-id");
        closep(&fd);
        /* mmdebstrap copies the host's, which are no business of an
         * image: the hostname comes from its template at create, DNS
         * from the instance's network. */
        if (unlinkat(etc, "resolv.conf", 0) < 0 && errno != ENOENT)
                return vessel_error_sys(err, "rootfs/etc/resolv.conf");
        fd = openat(etc, "hostname", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, "localhost\n", 10) < 0)
                return vessel_error_sys(err, "rootfs/etc/hostname");
        return 0;
}
