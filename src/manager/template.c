/* template.c: the template language (template.h): the source is cut
 * into chunks (text, {{ }} and {% %}; comments dropped, "-" trimming
 * applied), the chunks are parsed into a tree of nodes with their
 * expressions, and only then is the tree rendered, so that a syntax
 * error anywhere fails before any output. */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tpl_parse {
        const char *name; /* the template, for errors */
        vessel_error **err;
};

__attribute__((format(printf, 3, 4))) static int fail(struct tpl_parse *ps, int line,
                                                      const char *fmt, ...)
{
        char what[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return vessel_error_msg(ps->err, EINVAL, "template %s:%d: %s", ps->name, line, what);
}

/* --- chunks ------------------------------------------------------------ */

enum chunk_kind { C_TEXT, C_OUT, C_TAG };

struct chunk {
        enum chunk_kind kind;
        const char *p; /* text, or the tag's content between its delimiters */
        size_t len;
        int line; /* of the opening delimiter */
};

struct chunks {
        struct chunk *v;
        size_t n;
};

static void chunk_add(struct chunks *c, enum chunk_kind kind, const char *p, size_t len, int line)
{
        c->v = realloc(c->v, (c->n + 1) * sizeof(*c->v));
        if (!c->v)
                abort();
        c->v[c->n++] = (struct chunk){kind, p, len, line};
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int count_lines(const char *p, size_t len)
{
        int n = 0;

        for (size_t i = 0; i < len; i++)
                n += p[i] == '\n';
        return n;
}

/* The closing delimiter of a tag whose content starts at p: "}}", "%}" or
 * "#}"; quoted strings are skipped in {{ }} and {% %}. */
static const char *tag_close(const char *p, const char *end, char kind)
{
        char close = kind == '{' ? '}' : kind;
        char quote = 0;

        for (; p + 1 < end; p++) {
                if (quote) {
                        if (*p == '\\')
                                p++;
                        else if (*p == quote)
                                quote = 0;
                        continue;
                }
                if (kind != '#' && (*p == '"' || *p == '\''))
                        quote = *p;
                else if (p[0] == close && p[1] == '}')
                        return p;
        }
        return NULL;
}

static const char *tag_open(const char *p, const char *end)
{
        for (; p + 1 < end; p++)
                if (p[0] == '{' && (p[1] == '{' || p[1] == '%' || p[1] == '#'))
                        return p;
        return NULL;
}

static int cut_chunks(struct tpl_parse *ps, const char *text, size_t len, struct chunks *out)
{
        const char *p = text, *end = text + len;
        bool trim_next = false;
        int line = 1;

        while (p < end) {
                const char *open = tag_open(p, end), *body, *close;
                const char *text_end = open ? open : end;
                char kind;
                bool trim_before, trim_after;

                if (trim_next)
                        while (p < text_end && is_space(*p)) {
                                line += *p == '\n';
                                p++;
                        }
                trim_next = false;
                if (!open) {
                        chunk_add(out, C_TEXT, p, (size_t)(end - p), line);
                        break;
                }
                kind = open[1];
                trim_before = open + 2 < end && open[2] == '-';
                body = open + 2 + trim_before;
                line += count_lines(p, (size_t)(open - p));
                close = tag_close(body, end, kind);
                if (!close)
                        return fail(ps, line, "\"%.2s\" is not closed", open);
                trim_after = close > body && close[-1] == '-';
                {
                        const char *t = open;
                        while (trim_before && t > p && is_space(t[-1]))
                                t--;
                        if (t > p)
                                chunk_add(out, C_TEXT, p, (size_t)(t - p), line);
                }
                if (kind != '#')
                        chunk_add(out, kind == '{' ? C_OUT : C_TAG, body,
                                  (size_t)(close - body) - trim_after, line);
                line += count_lines(open, (size_t)(close - open));
                trim_next = trim_after;
                p = close + 2;
        }
        return 0;
}

/* --- expressions --------------------------------------------------------- */

enum expr_kind { E_LIT, E_NAME, E_ATTR, E_INDEX, E_NOT, E_AND, E_OR, E_EQ, E_NE, E_CONFIG_GET };

struct expr {
        enum expr_kind kind;
        struct tpl_value lit; /* E_LIT */
        char *name;           /* E_NAME, E_ATTR */
        struct expr *a, *b;
};

static void expr_free(struct expr *e)
{
        if (!e)
                return;
        tpl_value_free(&e->lit);
        free(e->name);
        expr_free(e->a);
        expr_free(e->b);
        free(e);
}

static struct expr *expr_new(enum expr_kind kind, struct expr *a, struct expr *b)
{
        struct expr *e = xmalloc0(sizeof(*e));

        e->kind = kind;
        e->a = a;
        e->b = b;
        return e;
}

enum tok_kind {
        T_END,
        T_STR,
        T_INT,
        T_NAME,
        T_DOT,
        T_LBRACKET,
        T_RBRACKET,
        T_LPAREN,
        T_RPAREN,
        T_COMMA,
        T_EQ,
        T_NE,
        T_AND,
        T_OR,
        T_NOT,
};

struct lexer {
        struct tpl_parse *ps;
        const char *p, *end;
        int line;
        /* The current token. */
        enum tok_kind kind;
        const char *tp;
        size_t tlen;
        int tline;
        char *str; /* T_STR, decoded */
        long long num;
};

static bool name_char(char c, bool first)
{
        return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

static int lex_string(struct lexer *lx)
{
        char quote = *lx->p++, *o = xmalloc0((size_t)(lx->end - lx->p) + 1);
        size_t n = 0;

        lx->str = o;
        for (; lx->p < lx->end && *lx->p != quote; lx->p++) {
                if (*lx->p != '\\') {
                        lx->line += *lx->p == '\n';
                        o[n++] = *lx->p;
                        continue;
                }
                if (++lx->p >= lx->end)
                        break;
                switch (*lx->p) {
                case '\\':
                case '"':
                case '\'':
                        o[n++] = *lx->p;
                        break;
                case 'n':
                        o[n++] = '\n';
                        break;
                case 't':
                        o[n++] = '\t';
                        break;
                default:
                        return fail(lx->ps, lx->line, "unknown escape \"\\%c\" in a string",
                                    *lx->p);
                }
        }
        if (lx->p >= lx->end)
                return fail(lx->ps, lx->tline, "a string is not closed");
        lx->p++;
        lx->kind = T_STR;
        return 0;
}

static int lex_number(struct lexer *lx)
{
        long long v = 0;

        for (; lx->p < lx->end && isdigit((unsigned char)*lx->p); lx->p++) {
                if (v > (LLONG_MAX - (*lx->p - '0')) / 10)
                        return fail(lx->ps, lx->line, "integer too large");
                v = v * 10 + (*lx->p - '0');
        }
        if (lx->p < lx->end && name_char(*lx->p, false))
                return fail(lx->ps, lx->line, "bad number \"%.*s\"", (int)(lx->p - lx->tp + 1),
                            lx->tp);
        lx->num = v;
        lx->kind = T_INT;
        return 0;
}

static int lex_word(struct lexer *lx)
{
        static const struct {
                const char *word;
                enum tok_kind kind;
        } words[] = {{"and", T_AND}, {"or", T_OR}, {"not", T_NOT}};

        while (lx->p < lx->end && name_char(*lx->p, false))
                lx->p++;
        lx->kind = T_NAME;
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if ((size_t)(lx->p - lx->tp) == strlen(words[i].word) &&
                    !memcmp(lx->tp, words[i].word, strlen(words[i].word)))
                        lx->kind = words[i].kind;
        return 0;
}

static int lex_next(struct lexer *lx)
{
        static const struct {
                const char *op;
                enum tok_kind kind;
        } ops[] = {{"==", T_EQ},    {"!=", T_NE},    {"&&", T_AND},     {"||", T_OR},
                   {"!", T_NOT},    {".", T_DOT},    {"[", T_LBRACKET}, {"]", T_RBRACKET},
                   {"(", T_LPAREN}, {")", T_RPAREN}, {",", T_COMMA}};
        int r;

        free(lx->str);
        lx->str = NULL;
        while (lx->p < lx->end && is_space(*lx->p))
                lx->line += *lx->p++ == '\n';
        lx->tp = lx->p;
        lx->tline = lx->line;
        if (lx->p >= lx->end) {
                lx->kind = T_END;
                lx->tlen = 0;
                return 0;
        }
        if (*lx->p == '"' || *lx->p == '\'')
                r = lex_string(lx);
        else if (isdigit((unsigned char)*lx->p))
                r = lex_number(lx);
        else if (name_char(*lx->p, true))
                r = lex_word(lx);
        else {
                r = -1;
                for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                        size_t n = strlen(ops[i].op);
                        if ((size_t)(lx->end - lx->p) >= n && !memcmp(lx->p, ops[i].op, n)) {
                                lx->kind = ops[i].kind;
                                lx->p += n;
                                r = 0;
                                break;
                        }
                }
                if (r < 0)
                        return fail(lx->ps, lx->line, "unexpected character \"%c\"", *lx->p);
        }
        lx->tlen = (size_t)(lx->p - lx->tp);
        return r;
}

static int unexpected(struct lexer *lx, const char *wanted)
{
        if (lx->kind == T_END)
                return fail(lx->ps, lx->tline, "expected %s, found the end of the expression",
                            wanted);
        return fail(lx->ps, lx->tline, "expected %s, found \"%.*s\"", wanted,
                    (int)(lx->tlen > 40 ? 40 : lx->tlen), lx->tp);
}

static struct expr *parse_or(struct lexer *lx, int depth);

/* config_get(KEY, DEFAULT): the only function. */
static struct expr *parse_call(struct lexer *lx, const char *name, size_t len, int depth)
{
        struct expr *args[2] = {NULL, NULL};
        size_t n = 0;
        int line = lx->tline;

        if (len != strlen("config_get") || memcmp(name, "config_get", len)) {
                fail(lx->ps, line, "unknown function \"%.*s\"", (int)len, name);
                return NULL;
        }
        if (lex_next(lx) < 0)
                return NULL;
        while (lx->kind != T_RPAREN) {
                struct expr *a;
                if (n && (lx->kind != T_COMMA || lex_next(lx) < 0)) {
                        if (lx->kind != T_COMMA)
                                unexpected(lx, "\",\" or \")\"");
                        goto fail;
                }
                a = parse_or(lx, depth + 1);
                if (!a)
                        goto fail;
                if (n == 2) {
                        expr_free(a);
                        n = 3;
                        break;
                }
                args[n++] = a;
        }
        if (n != 2) {
                fail(lx->ps, line, "config_get takes 2 arguments (a key and a default)");
                goto fail;
        }
        if (lex_next(lx) < 0)
                goto fail;
        return expr_new(E_CONFIG_GET, args[0], args[1]);
fail:
        expr_free(args[0]);
        expr_free(args[1]);
        return NULL;
}

static struct expr *parse_primary(struct lexer *lx, int depth)
{
        struct expr *e;

        switch (lx->kind) {
        case T_STR:
                e = expr_new(E_LIT, NULL, NULL);
                e->lit = (struct tpl_value){.type = TPL_STRING, .s = steal_ptr(&lx->str)};
                break;
        case T_INT:
                e = expr_new(E_LIT, NULL, NULL);
                e->lit = (struct tpl_value){.type = TPL_INT, .i = lx->num};
                break;
        case T_NAME: {
                const char *name = lx->tp;
                size_t len = lx->tlen;
                if (lex_next(lx) < 0)
                        return NULL;
                if (lx->kind == T_LPAREN)
                        return parse_call(lx, name, len, depth);
                if ((len == 4 && !memcmp(name, "true", 4)) ||
                    (len == 5 && !memcmp(name, "false", 5))) {
                        e = expr_new(E_LIT, NULL, NULL);
                        e->lit = (struct tpl_value){.type = TPL_BOOL, .b = len == 4};
                } else {
                        e = expr_new(E_NAME, NULL, NULL);
                        e->name = strndup(name, len);
                }
                return e;
        }
        case T_LPAREN:
                if (lex_next(lx) < 0)
                        return NULL;
                e = parse_or(lx, depth + 1);
                if (!e)
                        return NULL;
                if (lx->kind != T_RPAREN) {
                        unexpected(lx, "\")\"");
                        expr_free(e);
                        return NULL;
                }
                break;
        default:
                unexpected(lx, "a value");
                return NULL;
        }
        if (lex_next(lx) < 0) {
                expr_free(e);
                return NULL;
        }
        return e;
}

/* primary, then .name, .0 and [expr] lookups. */
static struct expr *parse_postfix(struct lexer *lx, int depth)
{
        struct expr *e = parse_primary(lx, depth);

        while (e && (lx->kind == T_DOT || lx->kind == T_LBRACKET)) {
                if (lx->kind == T_DOT) {
                        if (lex_next(lx) < 0)
                                goto fail;
                        if (lx->kind != T_NAME && lx->kind != T_INT) {
                                unexpected(lx, "a name after \".\"");
                                goto fail;
                        }
                        e = expr_new(E_ATTR, e, NULL);
                        e->name = strndup(lx->tp, lx->tlen);
                        if (lex_next(lx) < 0)
                                goto fail;
                        continue;
                }
                if (lex_next(lx) < 0)
                        goto fail;
                e = expr_new(E_INDEX, e, parse_or(lx, depth + 1));
                if (!e->b)
                        goto fail;
                if (lx->kind != T_RBRACKET) {
                        unexpected(lx, "\"]\"");
                        goto fail;
                }
                if (lex_next(lx) < 0)
                        goto fail;
        }
        return e;
fail:
        expr_free(e);
        return NULL;
}

static struct expr *parse_cmp(struct lexer *lx, int depth)
{
        struct expr *e = parse_postfix(lx, depth);

        if (e && (lx->kind == T_EQ || lx->kind == T_NE)) {
                enum expr_kind k = lx->kind == T_EQ ? E_EQ : E_NE;
                if (lex_next(lx) < 0) {
                        expr_free(e);
                        return NULL;
                }
                e = expr_new(k, e, parse_postfix(lx, depth));
                if (!e->b) {
                        expr_free(e);
                        return NULL;
                }
        }
        return e;
}

static struct expr *parse_not(struct lexer *lx, int depth)
{
        struct expr *a;

        if (depth > TEMPLATE_MAX_DEPTH) {
                fail(lx->ps, lx->tline, "expression nested too deeply");
                return NULL;
        }
        if (lx->kind != T_NOT)
                return parse_cmp(lx, depth);
        if (lex_next(lx) < 0)
                return NULL;
        a = parse_not(lx, depth + 1);
        return a ? expr_new(E_NOT, a, NULL) : NULL;
}

static struct expr *parse_binary(struct lexer *lx, int depth, enum tok_kind op)
{
        struct expr *e = op == T_OR ? parse_binary(lx, depth, T_AND) : parse_not(lx, depth);

        while (e && lx->kind == op) {
                struct expr *b;
                if (lex_next(lx) < 0) {
                        expr_free(e);
                        return NULL;
                }
                b = op == T_OR ? parse_binary(lx, depth, T_AND) : parse_not(lx, depth);
                e = expr_new(op == T_OR ? E_OR : E_AND, e, b);
                if (!b) {
                        expr_free(e);
                        return NULL;
                }
        }
        return e;
}

static struct expr *parse_or(struct lexer *lx, int depth)
{
        if (depth > TEMPLATE_MAX_DEPTH) {
                fail(lx->ps, lx->tline, "expression nested too deeply");
                return NULL;
        }
        return parse_binary(lx, depth, T_OR);
}

/* A whole expression: all of [p, p + len). */
static struct expr *parse_expr(struct tpl_parse *ps, const char *p, size_t len, int line)
{
        struct lexer lx = {.ps = ps, .p = p, .end = p + len, .line = line};
        struct expr *e = NULL;

        if (lex_next(&lx) == 0) {
                e = parse_or(&lx, 0);
                if (e && lx.kind != T_END) {
                        fail(ps, lx.tline, "unexpected \"%.*s\" after the expression",
                             (int)(lx.tlen > 40 ? 40 : lx.tlen), lx.tp);
                        expr_free(e);
                        e = NULL;
                }
        }
        free(lx.str);
        return e;
}

/* --- the tree ------------------------------------------------------------ */

enum node_kind { N_TEXT, N_OUT, N_IF };

struct branch;

struct node {
        enum node_kind kind;
        const char *text; /* N_TEXT, into the source */
        size_t len;
        struct expr *e; /* N_OUT */
        int line;
        struct branch *branches; /* N_IF: if, elifs, then an else (cond NULL) */
        size_t n_branches;
};

struct block {
        struct node *v;
        size_t n;
};

struct branch {
        struct expr *cond;
        struct block body;
};

static void block_free(struct block *b)
{
        for (size_t i = 0; i < b->n; i++) {
                struct node *n = &b->v[i];
                expr_free(n->e);
                for (size_t k = 0; k < n->n_branches; k++) {
                        expr_free(n->branches[k].cond);
                        block_free(&n->branches[k].body);
                }
                free(n->branches);
        }
        free(b->v);
        *b = (struct block){0};
}

static struct node *block_add(struct block *b, enum node_kind kind, int line)
{
        b->v = realloc(b->v, (b->n + 1) * sizeof(*b->v));
        if (!b->v)
                abort();
        b->v[b->n] = (struct node){.kind = kind, .line = line};
        return &b->v[b->n++];
}

enum tag { TAG_NONE, TAG_IF, TAG_ELIF, TAG_ELSE, TAG_ENDIF };

struct tag_parsed {
        enum tag tag;
        const char *args; /* after the name */
        size_t args_len;
        int line;
};

static bool only_space(const char *p, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!is_space(p[i]))
                        return false;
        return true;
}

static int tag_parse(struct tpl_parse *ps, const struct chunk *c, struct tag_parsed *t)
{
        static const char *const names[] = {
            [TAG_IF] = "if", [TAG_ELIF] = "elif", [TAG_ELSE] = "else", [TAG_ENDIF] = "endif"};
        const char *p = c->p, *end = c->p + c->len, *name;
        size_t len;

        while (p < end && is_space(*p))
                p++;
        name = p;
        while (p < end && name_char(*p, p == name))
                p++;
        len = (size_t)(p - name);
        if (!len && p == end)
                return fail(ps, c->line, "empty tag \"{%% %%}\"");
        if (!len)
                return fail(ps, c->line, "bad tag \"%.*s\"",
                            (int)(end - name > 40 ? 40 : end - name), name);
        *t = (struct tag_parsed){.args = p, .args_len = (size_t)(end - p), .line = c->line};
        for (size_t i = TAG_IF; i < ARRAY_SIZE(names); i++)
                if (strlen(names[i]) == len && !memcmp(names[i], name, len))
                        t->tag = (enum tag)i;
        if (t->tag == TAG_NONE)
                return fail(ps, c->line, "unknown tag \"%.*s\"", (int)(len > 40 ? 40 : len), name);
        if ((t->tag == TAG_ELSE || t->tag == TAG_ENDIF) && !only_space(t->args, t->args_len))
                return fail(ps, c->line, "{%% %s %%} takes no arguments", names[t->tag]);
        if ((t->tag == TAG_IF || t->tag == TAG_ELIF) && only_space(t->args, t->args_len))
                return fail(ps, c->line, "{%% %s %%} needs a condition", names[t->tag]);
        return 0;
}

struct tree_parse {
        struct tpl_parse *ps;
        const struct chunks *chunks;
        size_t i;
};

static int parse_block(struct tree_parse *tp, struct block *b, int depth, struct tag_parsed *stop);

static int add_branch(struct node *n, struct expr *cond)
{
        n->branches = realloc(n->branches, (n->n_branches + 1) * sizeof(*n->branches));
        if (!n->branches)
                abort();
        n->branches[n->n_branches++] = (struct branch){.cond = cond};
        return 0;
}

/* After {% if %}: its branches up to {% endif %}. */
static int parse_if(struct tree_parse *tp, struct node *n, const struct tag_parsed *t, int depth)
{
        struct expr *cond = parse_expr(tp->ps, t->args, t->args_len, t->line);
        bool in_else = false;

        if (!cond)
                return -EINVAL;
        if (depth >= TEMPLATE_MAX_DEPTH) {
                expr_free(cond);
                return fail(tp->ps, t->line, "{%% if %%} nested too deeply");
        }
        add_branch(n, cond);
        for (;;) {
                struct tag_parsed stop = {0};
                int r = parse_block(tp, &n->branches[n->n_branches - 1].body, depth + 1, &stop);
                if (r < 0)
                        return r;
                switch (stop.tag) {
                case TAG_ENDIF:
                        return 0;
                case TAG_ELIF:
                        if (in_else)
                                return fail(tp->ps, stop.line, "{%% elif %%} after {%% else %%}");
                        cond = parse_expr(tp->ps, stop.args, stop.args_len, stop.line);
                        if (!cond)
                                return -EINVAL;
                        add_branch(n, cond);
                        break;
                case TAG_ELSE:
                        if (in_else)
                                return fail(tp->ps, stop.line, "{%% else %%} after {%% else %%}");
                        in_else = true;
                        add_branch(n, NULL);
                        break;
                default:
                        return fail(tp->ps, t->line, "{%% if %%} is not closed by {%% endif %%}");
                }
        }
}

/* Nodes until the end, or an elif/else/endif tag (returned in *stop). */
static int parse_block(struct tree_parse *tp, struct block *b, int depth, struct tag_parsed *stop)
{
        *stop = (struct tag_parsed){.tag = TAG_NONE};
        while (tp->i < tp->chunks->n) {
                const struct chunk *c = &tp->chunks->v[tp->i++];
                struct tag_parsed t;
                struct node *n;

                if (c->kind == C_TEXT) {
                        n = block_add(b, N_TEXT, c->line);
                        n->text = c->p;
                        n->len = c->len;
                        continue;
                }
                if (c->kind == C_OUT) {
                        if (only_space(c->p, c->len))
                                return fail(tp->ps, c->line, "empty \"{{ }}\"");
                        n = block_add(b, N_OUT, c->line);
                        n->e = parse_expr(tp->ps, c->p, c->len, c->line);
                        if (!n->e)
                                return -EINVAL;
                        continue;
                }
                if (tag_parse(tp->ps, c, &t) < 0)
                        return -EINVAL;
                if (t.tag != TAG_IF) {
                        *stop = t;
                        return 0;
                }
                n = block_add(b, N_IF, c->line);
                if (parse_if(tp, n, &t, depth) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int parse_tree(struct tpl_parse *ps, const char *text, size_t len, struct block *root)
{
        static const char *const what[] = {
            [TAG_ELIF] = "elif", [TAG_ELSE] = "else", [TAG_ENDIF] = "endif"};
        struct chunks chunks = {0};
        struct tree_parse tp = {.ps = ps, .chunks = &chunks};
        struct tag_parsed stop;
        int r = cut_chunks(ps, text, len, &chunks);

        if (r == 0)
                r = parse_block(&tp, root, 0, &stop);
        if (r == 0 && stop.tag != TAG_NONE)
                r = fail(ps, stop.line, "{%% %s %%} without {%% if %%}", what[stop.tag]);
        free(chunks.v);
        if (r < 0)
                block_free(root);
        return r;
}

/* --- rendering ----------------------------------------------------------- */

struct buf {
        char *p;
        size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

/* What an expression evaluates to: borrowed from the context or the
 * tree (no allocation). */
struct ev {
        enum tpl_type type;
        const char *s;
        bool b;
        long long i;
        const struct tpl_value *map;
};

static struct ev ev_of(const struct tpl_value *v)
{
        if (!v)
                return (struct ev){.type = TPL_NULL};
        return (struct ev){.type = v->type, .s = v->s, .b = v->b, .i = v->i, .map = v};
}

static struct ev ev_bool(bool b)
{
        return (struct ev){.type = TPL_BOOL, .b = b};
}

static bool truthy(const struct ev *v)
{
        switch (v->type) {
        case TPL_STRING:
                return v->s[0] != '\0';
        case TPL_BOOL:
                return v->b;
        case TPL_INT:
                return v->i != 0;
        case TPL_MAP:
                return v->map->n > 0;
        default:
                return false;
        }
}

static bool equal(const struct ev *a, const struct ev *b)
{
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case TPL_STRING:
                return !strcmp(a->s, b->s);
        case TPL_BOOL:
                return a->b == b->b;
        case TPL_INT:
                return a->i == b->i;
        case TPL_MAP:
                return a->map == b->map;
        default:
                return true;
        }
}

static struct ev lookup(const struct ev *base, const char *key)
{
        return base->type == TPL_MAP ? ev_of(tpl_map_get(base->map, key))
                                     : (struct ev){.type = TPL_NULL};
}

static struct ev eval(const struct expr *e, const struct tpl_value *ctx)
{
        struct ev a, b;
        char num[32];

        switch (e->kind) {
        case E_LIT:
                return ev_of(&e->lit);
        case E_NAME:
                return ev_of(tpl_map_get(ctx, e->name));
        case E_ATTR:
                a = eval(e->a, ctx);
                return lookup(&a, e->name);
        case E_INDEX:
                a = eval(e->a, ctx);
                b = eval(e->b, ctx);
                if (b.type == TPL_INT) {
                        snprintf(num, sizeof(num), "%lld", b.i);
                        return lookup(&a, num);
                }
                return b.type == TPL_STRING ? lookup(&a, b.s) : (struct ev){.type = TPL_NULL};
        case E_NOT:
                a = eval(e->a, ctx);
                return ev_bool(!truthy(&a));
        case E_AND:
                a = eval(e->a, ctx);
                if (!truthy(&a))
                        return ev_bool(false);
                b = eval(e->b, ctx);
                return ev_bool(truthy(&b));
        case E_OR:
                a = eval(e->a, ctx);
                if (truthy(&a))
                        return ev_bool(true);
                b = eval(e->b, ctx);
                return ev_bool(truthy(&b));
        case E_EQ:
        case E_NE:
                a = eval(e->a, ctx);
                b = eval(e->b, ctx);
                return ev_bool(equal(&a, &b) == (e->kind == E_EQ));
        case E_CONFIG_GET: {
                const struct tpl_value *v = NULL;
                a = eval(e->a, ctx);
                if (a.type == TPL_STRING)
                        v = tpl_map_get(tpl_map_get(ctx, "config"), a.s);
                return v ? ev_of(v) : eval(e->b, ctx);
        }
        }
        return (struct ev){.type = TPL_NULL};
}

static int render_block(struct tpl_parse *ps, const struct block *b, const struct tpl_value *ctx,
                        struct buf *out)
{
        for (size_t i = 0; i < b->n; i++) {
                const struct node *n = &b->v[i];
                struct ev v;
                char num[32];

                switch (n->kind) {
                case N_TEXT:
                        buf_add(out, n->text, n->len);
                        break;
                case N_OUT:
                        v = eval(n->e, ctx);
                        if (v.type == TPL_STRING)
                                buf_add(out, v.s, strlen(v.s));
                        else if (v.type == TPL_BOOL)
                                buf_add(out, v.b ? "True" : "False", v.b ? 4 : 5);
                        else if (v.type == TPL_INT)
                                buf_add(out, num, (size_t)snprintf(num, sizeof(num), "%lld", v.i));
                        else if (v.type == TPL_MAP)
                                return fail(ps, n->line,
                                            "\"{{ }}\" of a map (name one of its keys)");
                        break;
                case N_IF:
                        for (size_t k = 0; k < n->n_branches; k++) {
                                const struct branch *br = &n->branches[k];
                                if (br->cond) {
                                        v = eval(br->cond, ctx);
                                        if (!truthy(&v))
                                                continue;
                                }
                                if (render_block(ps, &br->body, ctx, out) < 0)
                                        return -EINVAL;
                                break;
                        }
                        break;
                }
        }
        return 0;
}

int template_render(const char *name, const char *text, size_t len, const struct tpl_value *ctx,
                    char **out, size_t *out_len, vessel_error **err)
{
        struct tpl_parse ps = {.name = name, .err = err};
        struct block root = {0};
        struct buf b = {0};
        int r;

        *out = NULL;
        *out_len = 0;
        r = parse_tree(&ps, text, len, &root);
        if (r < 0)
                return r;
        buf_add(&b, "", 0);
        r = render_block(&ps, &root, ctx, &b);
        block_free(&root);
        if (r < 0) {
                free(b.p);
                return r;
        }
        *out = b.p;
        *out_len = b.len;
        return 0;
}
