/* Small helpers shared by the files of entity-bench: a clock, medians, scratch-directory removal. */
#ifndef ENT_BENCH_UTIL_H
#define ENT_BENCH_UTIL_H

/* Seconds on the monotonic clock, or with ent_bench_cpu_clock set (--cpu-clock) the CPU time of
 * the process: on a machine shared with other loads, the time this process was not running is
 * not counted (single-threaded rows only: it adds every thread's time; and it leaves out time
 * spent waiting, such as disk syncs). */
double ent_bench_now(void);
extern int ent_bench_cpu_clock;
/* qsort comparison of two doubles. */
int ent_bench_cmp_double(const void *a, const void *b);
/* Sorts v in place and returns its median (the upper middle for an even n; 0 for n == 0). */
double ent_bench_median(double *v, int n);
/* Removes a scratch directory and everything in it; a failure is reported on stderr only. */
void ent_bench_rmrf(const char *d);

/* An option's number: decimal digits only, from min to max, by the rules of the entity tool's own
 * parse_u64() (tools/entity/commands.c): strtoull() alone takes blanks, '+' and '-' (" -1" is
 * 2^64 - 1), and atoi() took "x" as 0, "5x" as 5 and wrapped past 2^31 in silence. 0, or -1 after
 * one line on stderr "PROG: OPT: ..." naming the value (the caller then prints its usage, exit 2). */
int ent_bench_number_arg(unsigned long long *out, const char *text, unsigned long long min, unsigned long long max,
                         const char *prog, const char *opt);

#endif
