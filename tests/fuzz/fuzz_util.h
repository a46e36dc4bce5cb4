/* Shared pieces of the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput(). Built with clang and -fsanitize=fuzzer it is a
 * fuzzer; built with any compiler and replay_main.c it replays the files of its seed corpus and of
 * its regression directory, so every input that ever failed stays a test in the normal build.
 *
 * A harness checks properties, not only the absence of crashes: FUZZ_CHECK() prints the broken
 * property with the library's last message and aborts, which both libFuzzer and the replay driver
 * report as a failure. It writes to file descriptor 2 directly: the load harness silences the
 * tool's messages on stdio's stderr. */
#ifndef ENT_FUZZ_UTIL_H
#define ENT_FUZZ_UTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entity/entity.h"
#include "../test_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            dprintf(2, "\nfuzz: %s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);       \
            dprintf(2, __VA_ARGS__);                                                               \
            dprintf(2, " (last message: %s)\n", ent_errmsg());                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every code a public call may return; anything else is a bug in itself. */
static inline int fuzz_known_rc(int rc)
{
    return rc <= 0 && rc >= ENT_TRUNCATED; /* the last code of error.h */
}

/* A failing call must say what failed. */
#define FUZZ_CHECK_FAILED_WITH_MESSAGE(rc)                                                         \
    FUZZ_CHECK(fuzz_known_rc(rc) && ((rc) == ENT_OK || ent_errmsg()[0] != '\0'), "rc %d without a message", (rc))

/* Load schemas/<name>.json of the source tree (abort when missing: the harness cannot run). */
static inline ent_schema *fuzz_schema(const char *name)
{
    char path[4096];
    ent_schema *s = NULL;
    snprintf(path, sizeof path, "%s/schemas/%s.json", ENT_SOURCE_DIR, name);
    if (ent_schema_load_file(&s, path) != ENT_OK) {
        fprintf(stderr, "fuzz: cannot load %s: %s\n", path, ent_errmsg());
        abort();
    }
    return s;
}

/* A reader of the fuzzer's bytes: structured choices from the front. Past the end every read
 * returns 0, so any input decodes to some sequence. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline unsigned fuzz_u8(fuzz_in *in)
{
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static inline uint64_t fuzz_u64(fuzz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | fuzz_u8(in);
    return v;
}

/* The next chunk: up to the next 0xff byte (excluded) or the end. *out is not NUL-terminated. */
static inline size_t fuzz_chunk(fuzz_in *in, const uint8_t **out)
{
    const uint8_t *e = memchr(in->p, 0xff, in->n);
    size_t len = e ? (size_t)(e - in->p) : in->n;
    *out = in->p;
    in->p += len;
    in->n -= len;
    if (in->n) {
        in->p++;
        in->n--;
    }
    return len;
}

/* A NUL-terminated copy of [p, p+n); the caller frees it. */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* An LMDB store directory between two inputs: its data and lock files go, the directory stays. */
static inline void fuzz_dir_wipe(const char *dir)
{
    char p[ENT_TEST_PATH_MAX + 16];
    if (ent_test_fmt(p, sizeof p, "%s/data.mdb", dir)) abort(); /* cannot: dir is a test path */
    unlink(p);
    if (ent_test_fmt(p, sizeof p, "%s/lock.mdb", dir)) abort();
    unlink(p);
}

/* The store directory at exit, whatever files the backend made in it (ctest replays and fuzz runs
 * leave nothing behind). */
static inline void fuzz_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[ENT_TEST_PATH_MAX + 256];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (ent_test_fmt(p, sizeof p, "%s/%s", dir, de->d_name)) abort(); /* cannot: room for both */
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

#endif
