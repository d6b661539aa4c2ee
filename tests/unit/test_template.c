/* The template language (template.h): every construct, and every error
 * with its file:line message. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "template.h"
#include "util.h"

static struct tpl_value ctx;

static void ctx_build(void)
{
        struct tpl_value *inst, *config, *devices, *dev, *props;

        tpl_map_init(&ctx);
        inst = tpl_map_set_map(&ctx, "instance");
        tpl_map_set_string(inst, "name", "web1");
        tpl_map_set_string(inst, "type", "container");
        tpl_map_set_string(inst, "ephemeral", "false");
        config = tpl_map_set_map(&ctx, "config");
        tpl_map_set_string(config, "user.foo", "bar");
        tpl_map_set_string(config, "user.empty", "");
        tpl_map_set_string(config, "limits.memory", "1GiB");
        devices = tpl_map_set_map(&ctx, "devices");
        dev = tpl_map_set_map(devices, "data");
        tpl_map_set_string(dev, "type", "disk");
        tpl_map_set_string(dev, "path", "/srv");
        props = tpl_map_set_map(&ctx, "properties");
        tpl_map_set_string(props, "default", "1");
        tpl_map_set_string(&ctx, "trigger", "create");
        tpl_map_set_string(&ctx, "path", "/etc/hostname");
        tpl_map_set_bool(&ctx, "yes", true);
        tpl_map_set_map(&ctx, "nothing");
}

/* Render src; NULL (and *msg the error) on error. */
static char *render(const char *src, char **msg)
{
        vessel_error *err = NULL;
        char *out = NULL;
        size_t len;

        if (msg)
                *msg = NULL;
        if (template_render("t.tpl", src, strlen(src), &ctx, &out, &len, &err) < 0) {
                CHECK(out == NULL && err && err->msg);
                if (msg && err)
                        *msg = xstrdup(err->msg);
                vessel_error_free(&err);
                return NULL;
        }
        CHECK(err == NULL && out && strlen(out) == len);
        return out;
}

#define RENDERS(src, want)                                                                         \
        do {                                                                                       \
                char *msg_, *got_ = render((src), &msg_);                                          \
                CHECK_STR(got_, (want));                                                           \
                if (!got_ || strcmp(got_, (want)))                                                 \
                        fprintf(stderr, "  %s -> %s (%s)\n", (src), got_ ? got_ : "(error)",       \
                                msg_ ? msg_ : "");                                                 \
                free(got_);                                                                        \
                free(msg_);                                                                        \
        } while (0)

#define FAILS(src, want)                                                                           \
        do {                                                                                       \
                char *msg_, *got_ = render((src), &msg_);                                          \
                CHECK(got_ == NULL);                                                               \
                CHECK_STR(msg_, (want));                                                           \
                if (!msg_ || strcmp(msg_, (want)))                                                 \
                        fprintf(stderr, "  %s -> %s\n", (src), msg_ ? msg_ : "(no error)");        \
                free(got_);                                                                        \
                free(msg_);                                                                        \
        } while (0)

static void test_text_and_output(void)
{
        RENDERS("", "");
        RENDERS("plain text\n", "plain text\n");
        RENDERS("{ not a tag } {x} %} }}", "{ not a tag } {x} %} }}");
        RENDERS("{{ instance.name }}\n", "web1\n");
        RENDERS("{{instance.name}}", "web1");
        RENDERS("a{{ trigger }}b{{ path }}c", "acreateb/etc/hostnamec");
        RENDERS("{{ 'single' }} {{ \"double\" }}", "single double");
        RENDERS("{{ \"a\\\"b\\\\c\\'d\\ne\\tf\" }}", "a\"b\\c'd\ne\tf");
        RENDERS("{{ \"}}\" }}", "}}");
        RENDERS("{{ 42 }} {{ 0 }}", "42 0");
        RENDERS("{{ true }} {{ false }} {{ yes }}", "True False True");
        RENDERS("[{{ undefined }}][{{ instance.nope }}][{{ trigger.x.y }}]", "[][][]");
        RENDERS("{{ instance\n.name }}", "web1");
}

static void test_lookups(void)
{
        RENDERS("{{ config[\"user.foo\"] }}", "bar");
        RENDERS("{{ config['limits.memory'] }}", "1GiB");
        RENDERS("{{ config[\"user.\" ] }}", "");
        RENDERS("{{ devices.data.path }} {{ devices.data.type }}", "/srv disk");
        RENDERS("{{ devices[\"data\"][\"path\"] }}", "/srv");
        RENDERS("{{ properties.default }} {{ properties[\"default\"] }}", "1 1");
        RENDERS("{{ config[instance.name] }}", "");
        RENDERS("{{ config_get(\"user.foo\", \"dflt\") }}", "bar");
        RENDERS("{{ config_get(\"user.missing\", \"dflt\") }}", "dflt");
        RENDERS("{{ config_get(\"user.empty\", \"dflt\") }}", "");
        RENDERS("{{ config_get('user.missing', 7) }}", "7");
        RENDERS("{{ config_get(instance.name, instance.type) }}", "container");
}

static void test_conditions(void)
{
        RENDERS("{% if instance.name == \"web1\" %}yes{% endif %}", "yes");
        RENDERS("{% if instance.name != \"web1\" %}yes{% else %}no{% endif %}", "no");
        RENDERS("{% if trigger == 'copy' %}c{% elif trigger == 'create' %}n{% else %}e{% endif %}",
                "n");
        RENDERS("{% if 0 %}a{% elif '' %}b{% elif undefined %}c{% else %}d{% endif %}", "d");
        RENDERS("{% if 1 %}i{% endif %}{% if 'x' %}s{% endif %}{% if nothing %}m{% endif %}"
                "{% if instance %}M{% endif %}",
                "isM");
        RENDERS("{% if config.user %}?{% endif %}{% if instance.ephemeral %}str{% endif %}", "str");
        RENDERS("{% if not undefined %}a{% endif %}{% if !yes %}b{% endif %}", "a");
        RENDERS("{% if yes and trigger == 'create' %}a{% endif %}"
                "{% if yes && false %}b{% endif %}",
                "a");
        RENDERS("{% if false or 'x' %}a{% endif %}{% if false || '' %}b{% endif %}", "a");
        RENDERS("{% if not (false or yes) %}a{% else %}b{% endif %}", "b");
        RENDERS("{% if false and undefined.x or yes %}p{% endif %}", "p"); /* and binds tighter */
        RENDERS("{% if not false == true %}q{% endif %}", "q");            /* not (false == true) */
        RENDERS("{{ 1 == 1 }} {{ 1 == '1' }} {{ 'a' != 'b' }} {{ undefined == nope }}",
                "True False True True");
        RENDERS("{{ yes == true }} {{ instance == instance }} {{ instance == config }}",
                "True True False");
        RENDERS("{% if a %}{% if b %}x{% else %}y{% endif %}{% elif yes %}"
                "{% if yes %}{% if trigger %}deep{% endif %}{% endif %}{% endif %}",
                "deep");
}

static void test_comments_and_trimming(void)
{
        RENDERS("a{# a comment {{ with }} {% tags %} #}b", "ab");
        RENDERS("a{# over\ntwo lines #}b", "ab");
        RENDERS("a  \n  {{- instance.name -}}  \n  b", "aweb1b");
        RENDERS("x\n{%- if yes -%}\n  y\n{%- endif -%}\nz", "xyz");
        RENDERS("x \n{#- gone -#}\n y", "xy");
        RENDERS("a {{ instance.name -}} \n b", "a web1b");
        RENDERS("a \n{{- instance.name }} b", "aweb1 b");
        RENDERS("{% if yes %}\nline\n{% endif %}\n", "\nline\n\n");
        RENDERS("{{ \"-\" }}{{-\"x\"-}}", "-x");
}

static void test_syntax_errors(void)
{
        FAILS("a\nb\n{% for x in y %}{% endfor %}", "template t.tpl:3: unknown tag \"for\"");
        FAILS("{% %}", "template t.tpl:1: empty tag \"{% %}\"");
        FAILS("{% 12 %}", "template t.tpl:1: bad tag \"12 \"");
        FAILS("\n{{ }}", "template t.tpl:2: empty \"{{ }}\"");
        FAILS("x\n\n{{ instance.name ", "template t.tpl:3: \"{{\" is not closed");
        FAILS("{% if yes ", "template t.tpl:1: \"{%\" is not closed");
        FAILS("\n{# no end", "template t.tpl:2: \"{#\" is not closed");
        FAILS("\n{% if yes %}a\n{% if yes %}b{% endif %}",
              "template t.tpl:2: {% if %} is not closed by {% endif %}");
        FAILS("a\n{% endif %}", "template t.tpl:2: {% endif %} without {% if %}");
        FAILS("{% else %}", "template t.tpl:1: {% else %} without {% if %}");
        FAILS("{% elif yes %}", "template t.tpl:1: {% elif %} without {% if %}");
        FAILS("{% if a %}{% else %}{% elif b %}{% endif %}",
              "template t.tpl:1: {% elif %} after {% else %}");
        FAILS("{% if a %}\n{% else %}\n{% else %}{% endif %}",
              "template t.tpl:3: {% else %} after {% else %}");
        FAILS("{% if %}{% endif %}", "template t.tpl:1: {% if %} needs a condition");
        FAILS("{% if a %}{% elif %}{% endif %}", "template t.tpl:1: {% elif %} needs a condition");
        FAILS("{% if a %}{% else b %}{% endif %}",
              "template t.tpl:1: {% else %} takes no arguments");
        FAILS("{% if a %}{% endif b %}", "template t.tpl:1: {% endif %} takes no arguments");
        /* A bad branch not taken is still an error, and nothing renders. */
        FAILS("ok\n{% if false %}{% bogus %}{% endif %}",
              "template t.tpl:2: unknown tag \"bogus\"");
}

static void test_expression_errors(void)
{
        FAILS("{{ a == }}", "template t.tpl:1: expected a value, found the end of the expression");
        FAILS("{{ == a }}", "template t.tpl:1: expected a value, found \"==\"");
        FAILS("{{ a b }}", "template t.tpl:1: unexpected \"b\" after the expression");
        FAILS("{{ a == b == c }}", "template t.tpl:1: unexpected \"==\" after the expression");
        FAILS("{{ (a }}", "template t.tpl:1: expected \")\", found the end of the expression");
        FAILS("{{ a) }}", "template t.tpl:1: unexpected \")\" after the expression");
        FAILS("{{ a[\"x\" }}", "template t.tpl:1: expected \"]\", found the end of the expression");
        FAILS("{{ a. }}", "template t.tpl:1: expected a name after \".\", found the end of the "
                          "expression");
        FAILS("{{ a | upper }}", "template t.tpl:1: unexpected character \"|\"");
        FAILS("{{ a < b }}", "template t.tpl:1: unexpected character \"<\"");
        FAILS("{{ 'abc }}", "template t.tpl:1: \"{{\" is not closed");
        FAILS("{{ 'a\\qb' }}", "template t.tpl:1: unknown escape \"\\q\" in a string");
        FAILS("{{ 99999999999999999999 }}", "template t.tpl:1: integer too large");
        FAILS("{{ 12ab }}", "template t.tpl:1: bad number \"12a\"");
        FAILS("{{ upper('x') }}", "template t.tpl:1: unknown function \"upper\"");
        FAILS("{{ config_get('x') }}",
              "template t.tpl:1: config_get takes 2 arguments (a key and a default)");
        FAILS("{{ config_get('x', 'y', 'z') }}",
              "template t.tpl:1: config_get takes 2 arguments (a key and a default)");
        FAILS("{{ config_get('x' 'y') }}", "template t.tpl:1: expected \",\" or \")\", found "
                                           "\"'y'\"");
        FAILS("{{ not }}", "template t.tpl:1: expected a value, found the end of the expression");
        FAILS("{{ a and }}", "template t.tpl:1: expected a value, found the end of the expression");
        FAILS("\n\n{% if a ==\n\n b c %}{% endif %}",
              "template t.tpl:5: unexpected \"c\" after the expression");
        FAILS("{{ devices }}", "template t.tpl:1: \"{{ }}\" of a map (name one of its keys)");
}

static void test_limits(void)
{
        char deep[4096] = "{{ ", ifs[8192] = "";
        size_t n = strlen(deep);

        for (int i = 0; i < TEMPLATE_MAX_DEPTH + 2; i++)
                deep[n++] = '(';
        strcpy(deep + n, "1");
        n++;
        for (int i = 0; i < TEMPLATE_MAX_DEPTH + 2; i++)
                deep[n++] = ')';
        strcpy(deep + n, " }}");
        FAILS(deep, "template t.tpl:1: expression nested too deeply");

        for (int i = 0; i < TEMPLATE_MAX_DEPTH + 1; i++)
                strcat(ifs, "{% if 1 %}");
        FAILS(ifs, "template t.tpl:1: {% if %} nested too deeply");

        /* Just below the limits is fine. */
        ifs[0] = '\0';
        for (int i = 0; i < TEMPLATE_MAX_DEPTH - 1; i++)
                strcat(ifs, "{% if 1 %}");
        strcat(ifs, "in");
        for (int i = 0; i < TEMPLATE_MAX_DEPTH - 1; i++)
                strcat(ifs, "{% endif %}");
        RENDERS(ifs, "in");
}

static void test_binary_text(void)
{
        const char src[] = "a\0b{{ trigger }}";
        vessel_error *err = NULL;
        char *out;
        size_t len;

        CHECK(template_render("t.tpl", src, sizeof(src) - 1, &ctx, &out, &len, &err) == 0);
        CHECK(len == 9 && !memcmp(out, "a\0bcreate", 9));
        free(out);
}

static void test_values(void)
{
        struct tpl_value m;

        tpl_map_init(&m);
        tpl_map_set_string(&m, "b", "1");
        tpl_map_set_string(&m, "a", "2");
        tpl_map_set_string(&m, "b", "3"); /* replaces */
        tpl_map_set_bool(tpl_map_set_map(&m, "c"), "x", true);
        CHECK(m.n == 3 && !strcmp(m.v[0].key, "a") && !strcmp(m.v[2].key, "c"));
        CHECK_STR(tpl_map_get(&m, "b")->s, "3");
        CHECK(tpl_map_get(tpl_map_get(&m, "c"), "x")->b);
        CHECK(tpl_map_get(&m, "nope") == NULL);
        CHECK(tpl_map_get(tpl_map_get(&m, "a"), "x") == NULL); /* not a map */
        tpl_map_set_string(&m, "c", "now a string");
        CHECK(tpl_map_get(&m, "c")->type == TPL_STRING);
        tpl_value_free(&m);
        CHECK(m.n == 0 && m.v == NULL);
}

int main(void)
{
        ctx_build();
        test_text_and_output();
        test_lookups();
        test_conditions();
        test_comments_and_trimming();
        test_syntax_errors();
        test_expression_errors();
        test_limits();
        test_binary_text();
        test_values();
        tpl_value_free(&ctx);
        return check_report("test_template");
}
