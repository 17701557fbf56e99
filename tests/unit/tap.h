/* A small TAP harness for C unit tests, read by automake's TAP driver.
 *
 *   TEST(name) { ok(expr, "what"); is_int(a, b, "what"); is_str(a, b, "what"); }
 *   int main(void) { return tap_run(); }
 *
 * Each TEST registers itself; tap_run() prints the plan and one line per check. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tap_test_fn)(void);

struct tap_test {
    const char *name;
    tap_test_fn fn;
};

static struct tap_test tap_tests[256];
static int tap_ntests;
static int tap_count;
static int tap_failed;
static const char *tap_current;

#define TEST(id)                                                                \
    static void test_##id(void);                                                \
    __attribute__((constructor)) static void tap_register_##id(void) {          \
        tap_tests[tap_ntests].name = #id;                                       \
        tap_tests[tap_ntests++].fn = test_##id;                                 \
    }                                                                           \
    static void test_##id(void)

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...) {
    va_list ap;
    tap_count++;
    printf("%s %d - %s: ", cond ? "ok" : "not ok", tap_count, tap_current);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond)
        tap_failed++;
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, what)                                                            \
    do {                                                                                   \
        long long _g = (long long)(got), _w = (long long)(want);                           \
        if (!tap_ok(_g == _w, "%s", what))                                                 \
            printf("# %s:%d: got %lld, want %lld\n", __FILE__, __LINE__, _g, _w);          \
    } while (0)

#define is_str(got, want, what)                                                            \
    do {                                                                                   \
        const char *_g = (got), *_w = (want);                                              \
        int _eq = (_g && _w) ? strcmp(_g, _w) == 0 : _g == _w;                             \
        if (!tap_ok(_eq, "%s", what))                                                      \
            printf("# %s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, _g ? _g : "(null)", \
                   _w ? _w : "(null)");                                                    \
    } while (0)

static inline void tap_diag(const char *msg) { printf("# %s\n", msg); }

static inline int tap_run(void) {
    for (int i = 0; i < tap_ntests; i++) {
        tap_current = tap_tests[i].name;
        tap_tests[i].fn();
    }
    if (tap_count == 0) {
        /* A test file that checks nothing is a failure, not a pass. */
        printf("not ok 1 - no checks ran\n1..1\n");
        return 1;
    }
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}
