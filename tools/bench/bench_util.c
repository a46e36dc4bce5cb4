/* Helpers shared by the files of entity-bench (see bench_util.h). */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

void ent_bench_rmrf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "entity: bench: cannot remove %s\n", d);
}
