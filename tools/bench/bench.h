/* entity bench: CRUD and event-log costs against raw LMDB + msgpack and SQLite. */
#ifndef ENT_BENCH_H
#define ENT_BENCH_H

/* argv[0] is the program name (ignored). Returns the process exit code (0, 1 on failure, 2 on wrong usage). */
int ent_bench_main(int argc, char **argv);

#endif
