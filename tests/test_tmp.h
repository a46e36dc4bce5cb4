/* Scratch files for tests: every test's files go in a directory of its own under $TMPDIR (when set
 * and not empty; else /tmp), so that two runs of the suite at once on one machine, each with its
 * own TMPDIR, never share a file, and a run leaves nothing behind once its tests removed their
 * directories. Plain C (no CUnit): the fuzz harnesses and the benchmarks' helpers use it too;
 * test_util.h adds the CUnit forms (ENT_TEST_MKDTEMP, ENT_TEST_PATH) that fail the test. */
#ifndef ENT_TEST_TMP_H
#define ENT_TEST_TMP_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Room for any path the system takes (PATH_MAX on Linux): a test's path buffers are this size,
 * and a path that does not fit is an error (ent_test_fmt), never cut short. */
#define ENT_TEST_PATH_MAX 4096

/* s as one word for sh, in buf: in single quotes, each quote it holds as '\'' (the build tree or
 * TMPDIR may hold spaces and quotes). 4 * strlen(s) + 3 bytes are always enough; a buf too small
 * is a bug of the test: it says so and aborts. Returns buf. */
static inline const char *ent_test_sh_word(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    if (size < 4 * strlen(s) + 3) {
        fprintf(stderr, "ent_test_sh_word: %zu bytes are too few for %s\n", size, s);
        abort();
    }
    buf[n++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

/* The directory tests make theirs in: $TMPDIR when set and not empty, else "/tmp".
 * Borrowed (the environment's string or a literal), valid while TMPDIR is not changed. */
static inline const char *ent_test_tmpbase(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* snprintf into buf (cap bytes) that refuses to truncate: a result that does not fit is an error.
 * Returns 0, or -1 with a message naming the cut-off text on stderr (buf then holds the prefix). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline int ent_test_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "test path too long (%d bytes, room for %zu): \"%.80s...\"\n", n, cap, buf);
        return -1;
    }
    return 0;
}

/* Make a new empty directory "<ent_test_tmpbase()>/ent-<what>-XXXXXX" (mkdtemp: unique to this
 * call, mode 0700) and write its path into buf (cap bytes, ENT_TEST_PATH_MAX is always enough).
 * The directory is the caller's: remove it with ent_test_rm_rf() when done.
 * Returns 0, or -1 with a message on stderr (the path does not fit, or mkdtemp's errno). */
static inline int ent_test_mkdtemp(char *buf, size_t cap, const char *what)
{
    if (ent_test_fmt(buf, cap, "%s/ent-%s-XXXXXX", ent_test_tmpbase(), what)) return -1;
    if (!mkdtemp(buf)) {
        fprintf(stderr, "cannot make a directory %s: %s\n", buf, strerror(errno));
        return -1;
    }
    return 0;
}

/* The same for loops that open thousands of stores, where the faults or the inputs are under test,
 * not the disk: in /dev/shm when TMPDIR is not set (and /dev/shm is writable), else as
 * ent_test_mkdtemp(). TMPDIR, when set, is always obeyed. (No <unistd.h> here: a suite's own
 * macros may use its names, W_OK in test_memory_lock.c.) */
static inline int ent_test_mkdtemp_fast(char *buf, size_t cap, const char *what)
{
    const char *t = getenv("TMPDIR");
    struct stat st;
    if ((!t || !*t) && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) {
        if (ent_test_fmt(buf, cap, "/dev/shm/ent-%s-XXXXXX", what)) return -1;
        if (mkdtemp(buf)) return 0; /* else (not writable) where TMPDIR would be */
    }
    return ent_test_mkdtemp(buf, cap, what);
}

static inline int ent_test__rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(p) != 0 && errno != ENOENT) {
        fprintf(stderr, "cannot remove %s: %s\n", p, strerror(errno));
        return -1;
    }
    return 0;
}

/* Remove dir and everything in it (rm -rf, without a shell: any character in the path is fine;
 * symbolic links are removed, not followed). A missing dir is not an error.
 * Returns 0, or -1 with a message naming the path on stderr. */
static inline int ent_test_rm_rf(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0 && errno == ENOENT) return 0;
    return nftw(dir, ent_test__rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

#endif
