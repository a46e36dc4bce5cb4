/* The allocation wrappers of the fault-injection suites (test_fault_alloc.c, test_fault_memory.c).
 * Their binaries are linked with -Wl,--wrap=malloc,calloc,realloc,strdup,strndup
 * (tests/CMakeLists.txt): libentity is a static library, so every call its objects make to those
 * functions comes here. While `armed`, each allocation is counted and the one numbered `fail_at`,
 * or every `every`th one, fails with ENOMEM (`failed_n` counts those). strdup and strndup are
 * written over __wrap_malloc so that their allocation is counted and can fail like any other. */
#ifndef ENT_FAULT_ALLOC_WRAP_H
#define ENT_FAULT_ALLOC_WRAP_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static int armed;
static long count, fail_at = -1, every, failed_n;

static int fail_now(void)
{
    if (!armed) return 0;
    ++count;
    if (count != fail_at && !(every && count % every == 0)) return 0;
    failed_n++;
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { return fail_now() ? NULL : __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *__wrap_strndup(const char *s, size_t n)
{
    size_t l = strnlen(s, n);
    char *d = __wrap_malloc(l + 1);
    if (d) {
        memcpy(d, s, l);
        d[l] = '\0';
    }
    return d;
}

#endif
