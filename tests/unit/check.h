/* check.h: the unit tests' tiny assertion macros. */
#pragma once

#include <stdio.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond)                                                                      \
        do {                                                                             \
                checks++;                                                                \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
                                #cond);                                                  \
                        failures++;                                                      \
                }                                                                        \
        } while (0)
#define CHECK_STR(a, b) CHECK((a) && !strcmp((a), (b)))

static inline int check_report(const char *name)
{
        fprintf(stderr, "%s: %d checks, %d failures\n", name, checks, failures);
        return failures ? 1 : 0;
}
