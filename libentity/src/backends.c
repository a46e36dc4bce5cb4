/* The table of backends: every backend the library has, found by name. A new backend is one line
 * here (and its own file). The first one is the default. Calls go nowhere from here: this file
 * only reads the backends' vtables. */
#include <string.h>

#include "backend.h"

static const ent_backend_ops *const backends[] = {
    &ent__backend_lmdb,
    &ent__backend_memory,
    &ent__backend_fault,
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

const ent_backend_ops *ent__backend_find(const char *name, const char **arg)
{
    const char *colon;
    size_t n;
    if (arg) *arg = NULL;
    if (!name) return backends[0];
    colon = strchr(name, ':');
    n = colon ? (size_t)(colon - name) : strlen(name);
    for (size_t i = 0; i < N_BACKENDS; i++) {
        if (strlen(backends[i]->name) == n && memcmp(backends[i]->name, name, n) == 0) {
            if (arg) *arg = colon ? colon + 1 : NULL;
            return backends[i];
        }
    }
    return NULL;
}

const ent_backend_ops *ent__backend_at(size_t i) { return i < N_BACKENDS ? backends[i] : NULL; }

const ent_backend_ops *ent__backend_with(unsigned caps)
{
    for (size_t i = 0; i < N_BACKENDS; i++)
        if ((backends[i]->caps & caps) == caps) return backends[i];
    return NULL;
}

size_t ent__backend_min_key(unsigned caps)
{
    size_t min = 0;
    for (size_t i = 0; i < N_BACKENDS; i++) {
        const ent_backend_ops *b = backends[i];
        if ((b->caps & caps) == caps && b->max_key && (!min || b->max_key < min)) min = b->max_key;
    }
    return min;
}

void ent__backend_names(char *buf, size_t size)
{
    size_t at = 0;
    if (!size) return;
    buf[0] = '\0';
    for (size_t i = 0; i < N_BACKENDS; i++) {
        size_t n = strlen(backends[i]->name);
        if (at + n + 3 > size) break;
        if (i) {
            memcpy(buf + at, ", ", 2);
            at += 2;
        }
        memcpy(buf + at, backends[i]->name, n + 1);
        at += n;
    }
}
