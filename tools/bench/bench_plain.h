/* entity bench, plain rows: the library's own cost per create and get against raw LMDB + msgpack
 * doing the same writes (bench_plain.c). */
#ifndef ENT_BENCH_PLAIN_H
#define ENT_BENCH_PLAIN_H

#include <stdint.h>

/* n entities per phase, medians of runs; dir: a scratch directory it creates and removes below.
 * only_backend: NULL, "lmdb" (the library on LMDB and the floor) or "memory" (for profiling one).
 * Prints a table, or JSON lines when json. Returns 0, 1 on failure. */
int ent_bench_plain(uint64_t n, int runs, int json, const char *dir, const char *only_backend);

#endif
