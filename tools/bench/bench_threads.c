/* entity bench, group commit: durable single-mutation creates (txn NULL) from 1, 2, 4, 8 and 16
 * threads sharing one store, against SQLite (WAL, synchronous=FULL, one connection per thread,
 * busy timeout) from the same number of threads, in the same run. What is counted is acknowledged
 * commits per second: calls that returned ENT_OK (SQLite: COMMIT done) over the wall time of the
 * whole run. Beside it, the bytes each acknowledged commit had written (Linux: this process's
 * write_bytes in /proc/self/io over the run, the pages it dirtied and the kernel then wrote): on a
 * disk that charges per page written, what a group saves shows there first. */
#include <entity/entity.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"

static const char thr_schema[] =
    "{\"schema\":\"bench\",\"version\":1,\"types\":{\"product\":{\"key\":\"string\",\"fields\":{"
    "\"ean\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"name\":{\"id\":2,\"type\":\"string\",\"required\":true},"
    "\"price\":{\"id\":3,\"type\":\"float\",\"min\":0,\"indexed\":true},"
    "\"stock\":{\"id\":4,\"type\":\"int\",\"indexed\":true}}}}}";

typedef struct worker {
    ent_store *s;
    sqlite3 *db;
    const char *path;
    int id;
    char prefix;   /* of its keys: 't' measured, 'A' to 'Z' the warm-up's rounds */
    uint64_t n, done;
    int failed;
    double *lat; /* per call, seconds */
    pthread_barrier_t *go;
} worker;

static void *lib_worker(void *p)
{
    worker *w = p;
    const ent_type *t = ent_store_type(w->s, "product");
    ent_entity *e = NULL;
    if (ent_entity_new(&e, t)) {
        w->failed = 1;
        pthread_barrier_wait(w->go);
        return NULL;
    }
    pthread_barrier_wait(w->go);
    for (uint64_t i = 0; i < w->n; i++) {
        char k[48], ean[48];
        ent_key key;
        double t0 = ent_bench_now();
        snprintf(k, sizeof k, "%c%02d-%08llu", w->prefix, w->id, (unsigned long long)i);
        snprintf(ean, sizeof ean, "%c%02d%011llu", w->prefix, w->id, (unsigned long long)i);
        key = ent_key_str(k);
        ent_entity_set_key(e, &key);
        ent_entity_set_string(e, "ean", ean);
        ent_entity_set_string(e, "name", "Organic green tea, loose leaf");
        ent_entity_set_float(e, "price", (double)(i % 1000) * 0.25);
        ent_entity_set_int(e, "stock", (int64_t)(i % 500));
        if (ent_create(w->s, NULL, e) != ENT_OK) {
            fprintf(stderr, "entity: bench: group: %s\n", ent_errmsg());
            w->failed = 1;
            break;
        }
        w->lat[w->done++] = ent_bench_now() - t0;
    }
    ent_entity_free(e);
    return NULL;
}

static void *sqlite_worker(void *p)
{
    worker *w = p;
    sqlite3_stmt *ins = NULL;
    int rc = sqlite3_open(w->path, &w->db);
    if (!rc) rc = sqlite3_busy_timeout(w->db, 60000);
    if (!rc) rc = sqlite3_exec(w->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if (!rc) rc = sqlite3_prepare_v2(w->db, "INSERT INTO product VALUES(?,?,?,?,?)", -1, &ins, NULL);
    if (rc) w->failed = 1;
    pthread_barrier_wait(w->go);
    for (uint64_t i = 0; i < w->n && !w->failed; i++) {
        char k[48], ean[48];
        double t0 = ent_bench_now();
        snprintf(k, sizeof k, "%c%02d-%08llu", w->prefix, w->id, (unsigned long long)i);
        snprintf(ean, sizeof ean, "%c%02d%011llu", w->prefix, w->id, (unsigned long long)i);
        sqlite3_bind_text(ins, 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, ean, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, "Organic green tea, loose leaf", -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 4, (double)(i % 1000) * 0.25);
        sqlite3_bind_int64(ins, 5, (int64_t)(i % 500));
        /* autocommit: one transaction, one WAL sync per row, as a single ent_create() */
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "entity: bench: group: sqlite: %s\n", sqlite3_errmsg(w->db));
            w->failed = 1;
            break;
        }
        sqlite3_reset(ins);
        w->lat[w->done++] = ent_bench_now() - t0;
    }
    sqlite3_finalize(ins);
    sqlite3_close(w->db);
    return NULL;
}

/* This process's bytes sent to storage so far (-1: unknown, not Linux). */
static double written_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    double v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "write_bytes:", 12)) v = strtod(line + 12, NULL);
    fclose(f);
    return v;
}

/* threads workers doing per creates each with keys of prefix, on s (lib) or the SQLite file path;
 * each keeping its calls' latencies (w[i].lat, the caller frees). *t_el: the wall time from
 * their common start; *w_bytes: what this process wrote meanwhile (-1: unknown). 0, or 1 when one
 * failed. */
static int run_workers(worker *w, int lib, int threads, uint64_t per, char prefix, ent_store *s, const char *path,
                       double *t_el, double *w_bytes)
{
    pthread_t th[64];
    pthread_barrier_t go;
    double t0, w0, w1;
    int rc = 0;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = s;
        w[i].path = path;
        w[i].id = i;
        w[i].prefix = prefix;
        w[i].n = per;
        w[i].go = &go;
        w[i].lat = malloc((size_t)(per ? per : 1) * sizeof *w[i].lat);
        pthread_create(&th[i], NULL, lib ? lib_worker : sqlite_worker, &w[i]);
    }
    pthread_barrier_wait(&go);
    w0 = written_bytes();
    t0 = ent_bench_now();
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    *t_el = ent_bench_now() - t0;
    w1 = written_bytes();
    *w_bytes = w0 >= 0 && w1 >= w0 ? w1 - w0 : -1;
    pthread_barrier_destroy(&go);
    for (int i = 0; i < threads; i++)
        if (w[i].failed) rc = 1;
    return rc;
}

/* The size at which the write-ahead file of a durable LMDB store stops growing and is written
 * over (WAL_CKPT_BYTES in backend_lmdb_wal.h): until then each of its 1 MiB growth steps adds a
 * sync of 1 MiB of zeros to one group's commit. */
#define WAL_GROWN ((double)(64 << 20))
#define WARM_ROUND 256

static double file_size(const char *dir, const char *name)
{
    char p[800];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (double)st.st_size : -1;
}

/* One run of `threads` threads doing n creates in all; ops/s, p50/p99 latency (us) and KiB written
 * per acknowledged commit (-1: unknown). lib: 0 SQLite, 1 the library durable, 2 the library with
 * durability none (no sync: the library's own ceiling on this CPU, what the disk leaves out).
 * warm (not NULL): first, unmeasured, creates of other keys from as many threads, as a store that
 * has run a while has had: for the library until its write-ahead file has grown whole (*warm
 * says how many that took), for SQLite *warm of them (its WAL file is then grown too). */
/* For lib 2: the backend ("memory", or NULL: LMDB) and ent_store_set_group_commit()'s mode. */
static const char *nosync_backend;
static int nosync_group = ENT_GROUP_AUTO;

/* out: ops/s, p50 us, p99 us, KiB/op; for the library's durable runs (lib 1) also, per group of
 * the measured run (ent_store_group_stats()), calls, then us of wait, begin, run, commit, sync and
 * wake (else 0). */
#define RT_OUT 11
static int run_threads(double out[RT_OUT], int lib, int threads, uint64_t n, const char *dir, uint64_t *warm)
{
    worker w[64];
    char path[700];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    sqlite3 *db = NULL; /* SQLite: a connection held from the table's creation to the end */
    uint64_t per = n / (uint64_t)threads, total = 0;
    double el, *all, wb;
    int rc = 0;
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    if (lib) {
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        o.durability = lib == 2 ? ENT_NONE : ENT_DURABLE;
        if (lib == 2) o.backend = nosync_backend;
        if ((rc = ent_schema_load_json(&sc, thr_schema, strlen(thr_schema), "bench")) ||
            (rc = ent_store_open(&s, dir, sc, &o)) ||
            (rc = ent_store_set_group_commit(s, lib == 2 ? nosync_group : ENT_GROUP_AUTO))) {
            fprintf(stderr, "entity: bench: group: %s\n", ent_errmsg());
            ent_schema_free(sc);
            return 1;
        }
    } else {
        /* Kept open to the end: SQLite checkpoints and deletes the WAL file when its last
         * connection closes, and each round's workers close theirs, so a warm-up without it left
         * the measured run a WAL file to grow from nothing, which the library's was spared. */
        rc = sqlite3_open(path, &db);
        if (!rc) rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
                                       "CREATE TABLE product(key TEXT PRIMARY KEY, ean TEXT UNIQUE NOT NULL, name TEXT, price REAL, stock INTEGER);"
                                       "CREATE INDEX product_price ON product(price); CREATE INDEX product_stock ON product(stock);",
                                   NULL, NULL, NULL);
        if (rc) {
            fprintf(stderr, "entity: bench: group: sqlite: %s\n", sqlite3_errmsg(db));
            sqlite3_close(db);
            return 1;
        }
    }
    if (warm) {
        /* rounds of WARM_ROUND per thread, each round's keys of a letter of its own */
        uint64_t done = 0;
        for (int r = 0; r < 26 && (lib ? file_size(dir, "wal") < WAL_GROWN : done < *warm); r++) {
            rc = run_workers(w, lib, threads, WARM_ROUND, (char)('A' + r), s, path, &el, &wb);
            for (int i = 0; i < threads; i++) free(w[i].lat);
            done += WARM_ROUND * (uint64_t)threads;
            if (rc) break;
        }
        if (lib) *warm = done;
        /* what the warm rows say they had: else they would be new stores under another name */
        if (!rc && lib && file_size(dir, "wal") < WAL_GROWN) {
            fprintf(stderr, "entity: bench: group: the warm-up's %llu creates left %s/wal at %.0f bytes, short of the "
                            "64 MiB it was to reach\n", (unsigned long long)done, dir, file_size(dir, "wal"));
            rc = 1;
        } else if (!rc && !lib && file_size(dir, "bench.sqlite-wal") <= 0) {
            fprintf(stderr, "entity: bench: group: the warm-up's %llu creates left no %s/bench.sqlite-wal\n",
                    (unsigned long long)done, dir);
            rc = 1;
        }
    }
    if (rc) {
        if (lib) {
            ent_store_close(s);
            ent_schema_free(sc);
        }
        sqlite3_close(db);
        return rc;
    }
    ent_group_stats g0 = {0}, g1 = {0};
    for (int i = 4; i < RT_OUT; i++) out[i] = 0;
    if (lib == 1) ent_store_group_stats(s, &g0);
    rc = run_workers(w, lib, threads, per, 't', s, path, &el, &wb);
    if (lib == 1 && !ent_store_group_stats(s, &g1) && g1.groups > g0.groups) {
        double ng = (double)(g1.groups - g0.groups);
        out[4] = (double)(g1.calls - g0.calls) / ng;
        out[5] = (double)(g1.wait_ns - g0.wait_ns) / ng / 1e3;
        out[6] = (double)(g1.begin_ns - g0.begin_ns) / ng / 1e3;
        out[7] = (double)(g1.run_ns - g0.run_ns) / ng / 1e3;
        out[8] = (double)(g1.commit_ns - g0.commit_ns) / ng / 1e3;
        out[9] = (double)(g1.sync_ns - g0.sync_ns) / ng / 1e3;
        out[10] = (double)(g1.wake_ns - g0.wake_ns) / ng / 1e3;
    }
    all = malloc((size_t)n * sizeof *all);
    for (int i = 0; i < threads; i++) {
        memcpy(all + total, w[i].lat, (size_t)w[i].done * sizeof *all);
        total += w[i].done;
        free(w[i].lat);
    }
    qsort(all, (size_t)total, sizeof *all, ent_bench_cmp_double);
    out[0] = (double)total / el;
    out[1] = total ? all[total / 2] * 1e6 : 0;
    out[2] = total ? all[(size_t)((double)total * 0.99)] * 1e6 : 0;
    out[3] = total && wb >= 0 ? wb / 1024.0 / (double)total : -1;
    free(all);
    if (lib) {
        ent_store_close(s);
        ent_schema_free(sc);
    }
    sqlite3_close(db);
    return rc;
}

/* What a durable commit pays the disk: one fdatasync after writing `pages` pages of 4 KiB, side by
 * side or each at a random place in a 64 MiB file (LMDB writes the pages a commit copied wherever
 * its free list had room: a group's ~20-30 pages are mostly apart). Median of `reps`, in us. */
static double sync_probe(const char *dir, int pages, int apart, int reps)
{
    enum { FILE_PAGES = 16384 };
    char path[700];
    double *t = calloc((size_t)reps, sizeof *t), med = -1;
    unsigned char *buf = malloc((size_t)pages * 4096);
    uint64_t r = 0x2545f4914f6cdd1dULL;
    int fd, ok = 1;
    snprintf(path, sizeof path, "%s/sync-probe", dir);
    mkdir(dir, 0755);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || !t || !buf) goto out;
    memset(buf, 0x5a, (size_t)pages * 4096);
    /* the file's blocks exist before the timing: no allocation in the measured syncs */
    for (int p = 0; p < FILE_PAGES && ok; p += 64) {
        unsigned char z[64 * 4096];
        memset(z, 0, sizeof z);
        ok = pwrite(fd, z, sizeof z, (off_t)p * 4096) == (ssize_t)sizeof z;
    }
    if (!ok || fdatasync(fd)) goto out;
    for (int i = 0; i < reps && ok; i++) {
        double t0 = ent_bench_now();
        if (apart) {
            for (int p = 0; p < pages && ok; p++) {
                r ^= r >> 12, r ^= r << 25, r ^= r >> 27;
                ok = pwrite(fd, buf + (size_t)p * 4096, 4096, (off_t)((r * 2685821657736338717ULL) % FILE_PAGES) * 4096) == 4096;
            }
        } else {
            off_t at = (off_t)(((uint64_t)i * (uint64_t)pages) % (FILE_PAGES - (uint64_t)pages)) * 4096;
            ok = pwrite(fd, buf, (size_t)pages * 4096, at) == (ssize_t)pages * 4096;
        }
        ok = ok && fdatasync(fd) == 0;
        t[i] = (ent_bench_now() - t0) * 1e6;
    }
    if (ok) {
        qsort(t, (size_t)reps, sizeof *t, ent_bench_cmp_double);
        med = t[reps / 2];
    }
out:
    if (fd >= 0) close(fd);
    unlink(path);
    free(t);
    free(buf);
    return med;
}

static double median3(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, ent_bench_cmp_double);
    return v[n / 2];
}

int ent_bench_threads(int runs, int json, uint64_t n, const char *dir, void (*rm)(const char *))
{
    static const int counts[] = {1, 2, 4, 8, 16};
    enum { NC = sizeof counts / sizeof counts[0] };
    char d[400];
    /* per thread count, kind and phase (calls, wait ... wake), each run's: the table after */
    size_t R = (size_t)(runs > 0 ? runs : 1);
    double *phv = calloc((size_t)NC * 2 * 7 * R, sizeof *phv);
#define PH(c, k, i) (phv + (((size_t)(c) * 2 + (size_t)(k)) * 7 + (size_t)(i)) * R)
    int failed = 0;
    if (!phv) return 1;
    if (!json) printf("\ngroup commit: durable single-mutation creates (txn NULL) from T threads on one store, "
                      "against SQLite WAL synchronous=FULL with one connection per thread; acknowledged commits/s\n"
                      "(none op/s: the same calls with durability none, no sync, each committed alone (ENT_GROUP_AUTO);\n"
                      " _warm: both stores first take other creates from as many threads, unmeasured, until the library's\n"
                      " write-ahead file has grown to its 64 MiB, then SQLite as many: a store that has run a while)\n"
                      "%-21s %7s %8s %12s %9s %9s %9s %12s %9s %9s %9s %8s %11s\n",
                      "op", "threads", "n", "lib ops/s", "p50 us", "p99 us", "KiB/op", "sqlite op/s", "p50 us", "p99 us", "KiB/op",
                      "x sqlite", "none op/s");
    for (size_t c = 0; c < NC; c++) {
        int T = counts[c];
        /* per kind (0 a new store, 1 a warm one) and run: the library's ops/s, p50, p99, KiB/op,
         * then SQLite's */
        double *m[2][8], *no = calloc((size_t)runs, sizeof *no);
        uint64_t warmed = 0;
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 8; i++) m[k][i] = calloc((size_t)runs, sizeof *m[k][i]);
        /* enough calls per thread for groups to form, and a run of a few seconds at most */
        uint64_t nn = n * (uint64_t)T;
        for (int r = 0; r < runs; r++) {
            for (int k = 0; k < 2; k++) {
                double a[RT_OUT], b[RT_OUT];
                snprintf(d, sizeof d, "%s/group-lib", dir);
                if (run_threads(a, 1, T, nn, d, k ? &warmed : NULL)) { failed = 1; goto row_done; }
                rm(d);
                snprintf(d, sizeof d, "%s/group-sqlite", dir);
                if (run_threads(b, 0, T, nn, d, k ? &warmed : NULL)) { failed = 1; goto row_done; }
                rm(d);
                for (int i = 0; i < 4; i++) m[k][i][r] = a[i], m[k][4 + i][r] = b[i];
                for (int i = 0; i < 7; i++) PH(c, k, i)[r] = a[4 + i];
            }
            double z[RT_OUT];
            snprintf(d, sizeof d, "%s/group-lib", dir);
            if (run_threads(z, 2, T, nn, d, NULL)) { failed = 1; goto row_done; }
            rm(d);
            no[r] = z[0];
        }
    row_done:
        for (int k = 0; k < 2 && !failed; k++) {
            double v[8], NO = median3(no, runs);
            for (int i = 0; i < 8; i++) v[i] = median3(m[k][i], runs);
            const char *op = k ? "create_threads_warm" : "create_threads";
            if (json)
                printf("{\"op\":\"%s\",\"backend\":\"lmdb\",\"durability\":\"durable\",\"threads\":%d,\"n\":%llu,"
                       "\"warm_creates\":%llu,\"ops_per_s\":%.0f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"sqlite_ops_per_s\":%.0f,"
                       "\"sqlite_p50_us\":%.2f,\"sqlite_p99_us\":%.2f,\"kib_per_op\":%.2f,\"sqlite_kib_per_op\":%.2f,"
                       "\"none_ops_per_s\":%.0f}\n",
                       op, T, (unsigned long long)nn, (unsigned long long)(k ? warmed : 0), v[0], v[1], v[2], v[4], v[5], v[6],
                       v[3], v[7], NO);
            else
                printf("%-21s %7d %8llu %12.0f %9.2f %9.2f %9.2f %12.0f %9.2f %9.2f %9.2f %7.2fx %11.0f\n", op, T,
                       (unsigned long long)nn, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[4] > 0 ? v[0] / v[4] : 0, NO);
            fflush(stdout);
        }
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 8; i++) free(m[k][i]);
        free(no);
        if (failed) {
            free(phv);
            return 1;
        }
    }
    /* Where a group's time goes: what limits the rows above (ent_store_group_stats()). */
    if (!json) printf("\ngroup commit: where a group's time goes, the durable rows above (ent_store_group_stats(); us per "
                      "group, medians of the runs):\n wait for company, begin (the writer), run the calls, commit (LMDB's and "
                      "the write-ahead record's write), sync (its flush), wake the callers\n"
                      "%-21s %7s %9s %9s %9s %9s %9s %9s %9s %9s\n",
                      "op", "threads", "calls/grp", "wait us", "begin us", "run us", "commit us", "sync us", "wake us", "sum us");
    for (size_t c = 0; c < NC; c++)
        for (int k = 0; k < 2; k++) {
            double v[7], sum = 0;
            for (int i = 0; i < 7; i++) {
                v[i] = median3(PH(c, k, i), runs);
                if (i) sum += v[i];
            }
            const char *op = k ? "group_phases_warm" : "group_phases";
            if (json)
                printf("{\"op\":\"%s\",\"backend\":\"lmdb\",\"durability\":\"durable\",\"threads\":%d,"
                       "\"calls_per_group\":%.2f,\"wait_us\":%.1f,\"begin_us\":%.1f,\"run_us\":%.1f,\"commit_us\":%.1f,"
                       "\"sync_us\":%.1f,\"wake_us\":%.1f}\n",
                       op, counts[c], v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
            else
                printf("%-21s %7d %9.2f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", op, counts[c], v[0], v[1], v[2], v[3],
                       v[4], v[5], v[6], sum);
        }
    free(phv);
#undef PH
    fflush(stdout);
    /* Where nothing is synced, grouping only adds a sleep and a wake-up per call: what
     * ENT_GROUP_AUTO's choice there (each call alone) gains over grouping them (ENT_GROUP_ALWAYS). */
    if (!json) printf("\nwhere nothing syncs: the same creates from T threads, LMDB durability none and memory, each call\n"
                      "committed alone (ENT_GROUP_AUTO's choice there) against grouped (ENT_GROUP_ALWAYS); calls/s\n"
                      "%-21s %-7s %7s %8s %12s %12s %9s\n", "op", "backend", "threads", "n", "alone op/s", "grouped op/s",
                      "alone/grp");
    for (int b = 0; b < 2; b++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            int T = counts[c];
            uint64_t nn = n * (uint64_t)T * (b ? 8 : 4); /* enough for a run of 50 ms or more */
            double *v[2];
            for (int g = 0; g < 2; g++) v[g] = calloc((size_t)runs, sizeof *v[g]);
            nosync_backend = b ? "memory" : NULL;
            for (int r = 0; r < runs; r++)
                for (int g = 0; g < 2; g++) { /* alternated, so that a slow spell meets both */
                    double z[RT_OUT];
                    nosync_group = g ? ENT_GROUP_ALWAYS : ENT_GROUP_AUTO;
                    snprintf(d, sizeof d, "%s/group-nosync", dir);
                    if (run_threads(z, 2, T, nn, d, NULL)) {
                        free(v[0]);
                        free(v[1]);
                        return 1;
                    }
                    rm(d);
                    v[g][r] = z[0];
                }
            double alone = median3(v[0], runs), grouped = median3(v[1], runs);
            if (json)
                printf("{\"op\":\"create_threads_nosync\",\"backend\":\"%s\",\"durability\":\"none\",\"threads\":%d,"
                       "\"n\":%llu,\"alone_ops_per_s\":%.0f,\"grouped_ops_per_s\":%.0f}\n",
                       b ? "memory" : "lmdb", T, (unsigned long long)nn, alone, grouped);
            else
                printf("%-21s %-7s %7d %8llu %12.0f %12.0f %8.2fx\n", "create_threads_nosync", b ? "memory" : "lmdb", T,
                       (unsigned long long)nn, alone, grouped, grouped > 0 ? alone / grouped : 0);
            fflush(stdout);
            for (int g = 0; g < 2; g++) free(v[g]);
        }
    nosync_backend = NULL;
    nosync_group = ENT_GROUP_AUTO;
    {
        static const int sizes[] = {1, 8, 32};
        if (!json) printf("\ndisk: one fdatasync after writing P pages of 4 KiB, side by side or each at a random place "
                          "(median of 100, us): what limits the rows above\n%-21s %7s %12s %12s %12s\n",
                          "op", "pages", "together us", "apart us", "apart/page");
        snprintf(d, sizeof d, "%s/group-disk", dir);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            double c = sync_probe(d, sizes[i], 0, 100), a = sync_probe(d, sizes[i], 1, 100);
            if (json)
                printf("{\"op\":\"disk_sync\",\"pages\":%d,\"together_us\":%.1f,\"apart_us\":%.1f}\n", sizes[i], c, a);
            else
                printf("%-21s %7d %12.1f %12.1f %12.1f\n", "disk_sync", sizes[i], c, a, a / sizes[i]);
        }
        rm(d);
    }
    return 0;
}
