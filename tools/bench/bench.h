/* entity bench: CRUD and event-log costs against raw LMDB + msgpack and SQLite. */
#ifndef ENT_BENCH_H
#define ENT_BENCH_H

#include <stdint.h>

/* argv[0] is the program name (ignored). Returns the process exit code (0, 1 on failure, 2 on wrong usage). */
int ent_bench_main(int argc, char **argv);

/* Group commit rows (bench_threads.c): durable creates from 1..16 threads against SQLite, n calls
 * per thread, medians of `runs`; stores under dir, removed with rm. Returns 0 or 1. */
int ent_bench_threads(int runs, int json, uint64_t n, const char *dir, void (*rm)(const char *));

/* bench_readers.c: single-call updates per second of one writer while `readers` threads scan 2000
 * products in read transactions, on a fresh store of `backend` (durability none) at dir. */
int ent_bench_writer_with_readers(double *out_ups, const char *backend, const char *dir, const char *schema_json,
                                  int readers, uint64_t updates);

#endif
