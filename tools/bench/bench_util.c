/* Helpers shared by the files of entity-bench (see bench_util.h). */
#include "bench_util.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ent_bench_cpu_clock;

double ent_bench_now(void)
{
    struct timespec t;
    clock_gettime(ent_bench_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int ent_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double ent_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, ent_bench_cmp_double);
    return n ? v[n / 2] : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT) {
        fprintf(stderr, "entity: bench: cannot remove %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Without a shell (a quote in the path broke `rm -rf '%s'`) or following links. */
void ent_bench_rmrf(const char *d)
{
    if (nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        fprintf(stderr, "entity: bench: cannot remove %s: %s\n", d, strerror(errno));
}

int ent_bench_number_arg(unsigned long long *out, const char *text, unsigned long long min, unsigned long long max,
                         const char *prog, const char *opt)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (!isdigit((unsigned char)text[0]) || *end || (errno && errno != ERANGE)) {
        fprintf(stderr, "%s: %s: \"%s\" is not a number from %llu to %llu\n", prog, opt, text, min, max);
        return -1;
    }
    if (errno == ERANGE || v > max) { /* a number all the same: say how it is wrong */
        fprintf(stderr, "%s: %s: %s is too large (at most %llu)\n", prog, opt, text, max);
        return -1;
    }
    if (v < min) {
        fprintf(stderr, "%s: %s: %s is too small (at least %llu)\n", prog, opt, text, min);
        return -1;
    }
    *out = v;
    return 0;
}
