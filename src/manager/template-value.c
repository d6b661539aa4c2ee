/* template-value.c: the values of a template's context (template.h). */
#include "template.h"

#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

void tpl_map_init(struct tpl_value *map)
{
        *map = (struct tpl_value){.type = TPL_MAP};
}

static size_t map_find(const struct tpl_value *map, const char *key, bool *found)
{
        return sorted_find(map->v, map->n, sizeof(map->v[0]), offsetof(__typeof__(map->v[0]), key),
                           key, found);
}

/* The slot of key in map, emptied (or new). */
static struct tpl_value *map_slot(struct tpl_value *map, const char *key)
{
        bool found;
        size_t i = map_find(map, key, &found);

        if (found) {
                tpl_value_free(&map->v[i].value);
                return &map->v[i].value;
        }
        map->v = realloc(map->v, (map->n + 1) * sizeof(*map->v));
        if (!map->v)
                abort();
        memmove(map->v + i + 1, map->v + i, (map->n - i) * sizeof(*map->v));
        map->v[i] = (struct tpl_entry){.key = xstrdup(key)};
        map->n++;
        return &map->v[i].value;
}

void tpl_map_set_string(struct tpl_value *map, const char *key, const char *s)
{
        *map_slot(map, key) = (struct tpl_value){.type = TPL_STRING, .s = xstrdup(s)};
}

void tpl_map_set_bool(struct tpl_value *map, const char *key, bool b)
{
        *map_slot(map, key) = (struct tpl_value){.type = TPL_BOOL, .b = b};
}

struct tpl_value *tpl_map_set_map(struct tpl_value *map, const char *key)
{
        struct tpl_value *v = map_slot(map, key);

        tpl_map_init(v);
        return v;
}

const struct tpl_value *tpl_map_get(const struct tpl_value *map, const char *key)
{
        bool found;
        size_t i;

        if (!map || map->type != TPL_MAP)
                return NULL;
        i = map_find(map, key, &found);
        return found ? &map->v[i].value : NULL;
}

void tpl_value_free(struct tpl_value *v)
{
        free(v->s);
        for (size_t i = 0; i < v->n; i++) {
                free(v->v[i].key);
                tpl_value_free(&v->v[i].value);
        }
        free(v->v);
        *v = (struct tpl_value){0};
}
