/* Shared scaffolding for the CUnit suites: one suite per executable, run in verbose basic mode,
 * exit status non-zero when any assertion or test failed. */
#ifndef ENT_TEST_UTIL_H
#define ENT_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity/entity.h"
#include "test_tmp.h"

typedef struct ent_test_case {
    const char *name;
    void (*fn)(void);
} ent_test_case;

#define ENT_TEST(fn) {#fn, fn}

/* Register `cases` (terminated by {NULL, NULL}) as suite `suite`, run them, return the exit code. */
static inline int ent_test_run(const char *suite, const ent_test_case *cases)
{
    unsigned failed;
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) return 2;
    /* ENT_TEST_ONLY=name: that case alone (while working on it) */
    const char *only = getenv("ENT_TEST_ONLY");
    for (const ent_test_case *c = cases; c->name; c++)
        if ((!only || !strcmp(only, c->name)) && !CU_add_test(s, c->name, c->fn)) return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* Assert a libentity status; on mismatch print the code's text and the thread's message. */
#define ENT_CHECK_RC(expr, want)                                                                   \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want))                                                                         \
            fprintf(stderr, "\n  %s:%d: %s = %d (%s): %s\n", __FILE__, __LINE__, #expr, rc_,      \
                    ent_strerror(rc_), ent_errmsg());                                              \
        CU_ASSERT_EQUAL_FATAL(rc_, (want));                                                        \
    } while (0)
#define ENT_OK_(expr) ENT_CHECK_RC(expr, ENT_OK)

/* Assert that the last failure's ent_errdetail() is `want` (an ENT_DETAIL_*). */
#define ENT_ASSERT_DETAIL(want)                                                                    \
    do {                                                                                           \
        int d_ = ent_errdetail();                                                                  \
        if (d_ != (want))                                                                          \
            fprintf(stderr, "\n  %s:%d: detail %d, not %s (message \"%s\")\n", __FILE__, __LINE__, \
                    d_, #want, ent_errmsg());                                                      \
        CU_ASSERT_EQUAL(d_, (want));                                                               \
    } while (0)

/* Assert that the last message contains `needle`. */
#define ENT_ASSERT_MSG(needle)                                                                     \
    do {                                                                                           \
        if (!strstr(ent_errmsg(), (needle)))                                                       \
            fprintf(stderr, "\n  %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,       \
                    ent_errmsg(), (needle));                                                       \
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), (needle)));                                    \
    } while (0)

/* A new scratch directory for this test in `arr` (a char array, ENT_TEST_PATH_MAX is enough):
 * "$TMPDIR/ent-<what>-XXXXXX" (see test_tmp.h); the test fails when it cannot be made. The test
 * removes it with ent_test_rm_rf() or ent_test_store_close(). */
#define ENT_TEST_MKDTEMP(arr, what)                                                                \
    do {                                                                                           \
        (void)sizeof(char[sizeof(arr) > sizeof(char *) ? 1 : -1]); /* an array, not a pointer */   \
        CU_ASSERT_FATAL(ent_test_mkdtemp((arr), sizeof(arr), (what)) == 0);                        \
    } while (0)

/* snprintf into the char array `arr`; a result that does not fit fails the test. */
#define ENT_TEST_PATH(arr, ...)                                                                    \
    do {                                                                                           \
        (void)sizeof(char[sizeof(arr) > sizeof(char *) ? 1 : -1]); /* an array, not a pointer */   \
        CU_ASSERT_FATAL(ent_test_fmt((arr), sizeof(arr), __VA_ARGS__) == 0);                       \
    } while (0)

/* path's float in e is a zero whose sign bit is neg (JSON's -0 and -0.0 against 0). */
static inline void ent_test_zero_sign(const ent_entity *e, const char *path, int neg)
{
    double d = 1;
    ENT_OK_(ent_entity_get_float(&d, e, path));
    CU_ASSERT_EQUAL(d, 0);
    if (!!signbit(d) != neg) fprintf(stderr, "\n  %s: sign bit %d, wanted %d\n", path, !!signbit(d), neg);
    CU_ASSERT_EQUAL(!!signbit(d), neg);
}

/* The group commit mode of the suites' stores: ENT_GROUP_ALWAYS, so that their threads meet in
 * groups on every backend (ENT_GROUP_AUTO groups only stores whose commits sync); the default,
 * ENT_GROUP_AUTO, when ENT_TEST_GROUP=auto (ctest runs the threaded suites both ways). */
static inline int ent_test_group_mode(void)
{
    const char *g = getenv("ENT_TEST_GROUP");
    return g && !strcmp(g, "auto") ? ENT_GROUP_AUTO : ENT_GROUP_ALWAYS;
}

/* A contract suite's store: schema_json (named `name`) on `backend` in a new scratch directory
 * written into dir (ENT_TEST_PATH_MAX bytes, see ENT_TEST_MKDTEMP), durability none, calls without a
 * transaction grouped as ent_test_group_mode() says. */
static inline void ent_test_store_open(ent_store **s, ent_schema **sc, char *dir, const char *backend,
                                       const char *schema_json, const char *name)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_NONE;
    CU_ASSERT_FATAL(ent_test_mkdtemp(dir, ENT_TEST_PATH_MAX, name) == 0);
    ENT_OK_(ent_schema_load_json(sc, schema_json, strlen(schema_json), name));
    ENT_OK_(ent_store_open(s, dir, *sc, &o));
    ENT_OK_(ent_store_set_group_commit(*s, ent_test_group_mode()));
}

/* Close it, free its schema (both set to NULL) and remove its directory. */
static inline void ent_test_store_close(ent_store **s, ent_schema **sc, const char *dir)
{
    ent_store_close(*s);
    ent_schema_free(*sc);
    *s = NULL;
    *sc = NULL;
    ent_test_rm_rf(dir);
}


/* A growing text buffer for what a test builds or compares (a generated schema, a store's
 * contents written out): ent_test_buf_add() appends as printf does; free(b.p) at the end. */
typedef struct ent_test_buf {
    char *p;
    size_t n, cap;
} ent_test_buf;
static inline void ent_test_buf_add(ent_test_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void ent_test_buf_add(ent_test_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n >= 0);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b->p);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

#endif
