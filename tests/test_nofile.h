/* Out of descriptors, for the suites that test what a call says then (contract_host, nats_threads). */
#ifndef ENT_TEST_NOFILE_H
#define ENT_TEST_NOFILE_H

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

/* The limit set to this process's highest descriptor + 1 and every hole below it filled
 * (ent_test_nofile_begin(), which returns that limit), until ent_test_nofile_end() gives both
 * back. */
typedef struct ent_test_nofile {
    struct rlimit was;
    int fill[1024], n;
} ent_test_nofile;

static inline int ent_test_nofile_begin(ent_test_nofile *f)
{
    struct rlimit low;
    int top = 0;
    f->n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) top = fd;
    CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &f->was) == 0);
    low = f->was;
    low.rlim_cur = (rlim_t)top + 1;
    CU_ASSERT_FATAL(setrlimit(RLIMIT_NOFILE, &low) == 0);
    while (f->n < (int)(sizeof f->fill / sizeof f->fill[0]) && (f->fill[f->n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        f->n++;
    return top + 1;
}

static inline void ent_test_nofile_end(ent_test_nofile *f)
{
    while (f->n > 0) close(f->fill[--f->n]);
    CU_ASSERT(setrlimit(RLIMIT_NOFILE, &f->was) == 0);
}

#endif
