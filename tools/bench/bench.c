/* entity bench: what libentity costs, against the floor of the same work in raw LMDB + msgpack
 * and against SQLite, measured in the same run on the same machine.
 *
 * Entity: a shop-like product (string key, 8 fields, ~150 bytes of msgpack: a unique "ean",
 * indexed "price" and "stock"). Each measurement is the median of --runs runs. */
#include <entity/entity.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <lmdb.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"
#include "bench_plain.h"

static const char bench_schema[] =
    "{\"schema\":\"bench\",\"version\":1,\"types\":{\"product\":{\"key\":\"string\",\"fields\":{"
    "\"ean\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"name\":{\"id\":2,\"type\":\"string\",\"required\":true},"
    "\"price\":{\"id\":3,\"type\":\"float\",\"min\":0,\"indexed\":true},"
    "\"stock\":{\"id\":4,\"type\":\"int\",\"indexed\":true},"
    "\"active\":{\"id\":5,\"type\":\"bool\"},"
    "\"tags\":{\"id\":6,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"dims\":{\"id\":7,\"type\":\"map\",\"fields\":{\"w\":{\"id\":1,\"type\":\"float\"},\"h\":{\"id\":2,\"type\":\"float\"}}},"
    "\"attrs\":{\"id\":8,\"type\":\"map\"}}}}}";

typedef struct opts {
    uint64_t n;
    int runs, quick, json;
    int plain;                /* 1: only the plain-entity rows (bench_plain.c) */
    int threads_only;         /* --threads: only the group commit rows */
    int only_batch;           /* 0: both */
    const char *only_backend; /* NULL: both */
    int only_dur;             /* -1: every mode */
    char dir[256];
} opts;

/* Per-operation latencies of one run: batch 1 records each op, batch B records batch time / B. */
typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double s)
{
    if (l->n == l->cap) l->v = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 1024) * sizeof *l->v);
    l->v[l->n++] = s;
}

typedef struct result {
    double ops_per_s, p50_us, p99_us;
} result;

static result lat_result(lat *l, double total_s, uint64_t ops)
{
    result r;
    qsort(l->v, l->n, sizeof *l->v, ent_bench_cmp_double);
    r.ops_per_s = total_s > 0 ? (double)ops / total_s : 0;
    r.p50_us = l->n ? l->v[l->n / 2] * 1e6 : 0;
    r.p99_us = l->n ? l->v[(size_t)((double)l->n * 0.99)] * 1e6 : 0;
    l->n = 0;
    return r;
}

/* ---- libentity --------------------------------------------------------------------------------- */

static const char *dur_name(int d) { return d == ENT_DURABLE ? "durable" : d == ENT_LAZY ? "lazy" : "none"; }

static void fill_product(ent_entity *p, const ent_type *t, uint64_t i)
{
    char k[32], ean[40], name[64];
    ent_key key;
    snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)i);
    snprintf(ean, sizeof ean, "40%011llu", (unsigned long long)i);
    snprintf(name, sizeof name, "Organic green tea, loose leaf #%llu", (unsigned long long)i);
    key = ent_key_str(k);
    ent_entity_set_key(p, &key);
    ent_entity_field_set_string(p, ent_type_field(t, "ean"), ean, strlen(ean));
    ent_entity_field_set_string(p, ent_type_field(t, "name"), name, strlen(name));
    ent_entity_field_set_float(p, ent_type_field(t, "price"), (double)(i % 1000) * 0.25);
    ent_entity_field_set_int(p, ent_type_field(t, "stock"), (int64_t)(i % 500));
    ent_entity_field_set_bool(p, ent_type_field(t, "active"), 1);
    ent_entity_set_string(p, "tags[0]", "tea");
    ent_entity_set_string(p, "tags[1]", "organic");
    ent_entity_set_float(p, "dims.w", 10.5);
    ent_entity_set_float(p, "dims.h", 4.0);
    ent_entity_set_string(p, "attrs.origin", "uji");
}

typedef struct lib_results {
    result create, get, update, del, unique, range, log_read;
    double disk_bytes; /* data file bytes per entity after the creates (LMDB) */
} lib_results;

static int lib_run(lib_results *out, const char *backend, int dur, int batch, uint64_t n, const char *dir)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    const ent_type *t;
    ent_txn *w = NULL;
    lat l = {0};
    double t0, tb;
    int rc;
    o.backend = backend;
    o.durability = dur;
    o.map_size = (size_t)1 << 30;
    if ((rc = ent_schema_load_json(&sc, bench_schema, strlen(bench_schema), "bench")) ||
        (rc = ent_store_open(&s, dir, sc, &o)))
        goto out;
    t = ent_store_type(s, "product");
#define BATCHED(OPS_BODY, RES)                                                                      \
    t0 = tb = ent_bench_now();                                                                              \
    for (uint64_t i = 0; i < n; i++) {                                                              \
        double ts = ent_bench_now();                                                                        \
        if (batch > 1 && i % (uint64_t)batch == 0 && (rc = ent_txn_begin(&w, s, ENT_TXN_WRITE))) goto out; \
        OPS_BODY;                                                                                   \
        if (batch > 1 && (i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1)) {              \
            if ((rc = ent_txn_commit(w))) goto out;                                                 \
            w = NULL;                                                                               \
            lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));                                            \
            tb = ent_bench_now();                                                                           \
        } else if (batch == 1) {                                                                    \
            lat_add(&l, ent_bench_now() - ts);                                                              \
        }                                                                                           \
    }                                                                                               \
    RES = lat_result(&l, ent_bench_now() - t0, n);

    BATCHED({
        ent_entity *p = NULL;
        if ((rc = ent_entity_new(&p, t))) goto out;
        fill_product(p, t, i);
        rc = ent_create(s, batch > 1 ? w : NULL, p);
        ent_entity_free(p);
        if (rc) goto out;
    }, out->create)
    {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        out->disk_bytes = stat(path, &st) == 0 ? (double)st.st_blocks * 512.0 / (double)n : 0;
    }

    /* reads: batch 1 = one read txn per get, batch B = B gets per read txn */
    t0 = tb = ent_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        ent_entity *p = NULL;
        char k[32];
        ent_key key;
        double ts = ent_bench_now();
        if (batch > 1 && i % (uint64_t)batch == 0 && (rc = ent_txn_begin(&w, s, ENT_TXN_READ))) goto out;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)((i * 7919) % n));
        key = ent_key_str(k);
        if ((rc = ent_get(&p, s, batch > 1 ? w : NULL, t, &key))) goto out;
        ent_entity_free(p);
        if (batch > 1 && (i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1)) {
            ent_txn_abort(w);
            w = NULL;
            lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));
            tb = ent_bench_now();
        } else if (batch == 1) {
            lat_add(&l, ent_bench_now() - ts);
        }
    }
    out->get = lat_result(&l, ent_bench_now() - t0, n);

    /* unique look-ups, and range scans of 100: batch 1 = a read txn each, batch B = B per read txn */
#define READ_BATCHED(COUNT, OPS_BODY, RES)                                                          \
    t0 = tb = ent_bench_now();                                                                              \
    for (uint64_t i = 0; i < (COUNT); i++) {                                                        \
        double ts = ent_bench_now();                                                                        \
        if (batch > 1 && i % (uint64_t)batch == 0 && (rc = ent_txn_begin(&w, s, ENT_TXN_READ))) goto out; \
        OPS_BODY;                                                                                   \
        if (batch > 1 && (i % (uint64_t)batch == (uint64_t)batch - 1 || i == (COUNT) - 1)) {        \
            ent_txn_abort(w);                                                                       \
            w = NULL;                                                                               \
            lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));                        \
            tb = ent_bench_now();                                                                           \
        } else if (batch == 1) {                                                                    \
            lat_add(&l, ent_bench_now() - ts);                                                              \
        }                                                                                           \
    }                                                                                               \
    RES = lat_result(&l, ent_bench_now() - t0, (COUNT));

    READ_BATCHED(n, {
        char ean[40];
        ent_value v;
        ent_entity *p = NULL;
        snprintf(ean, sizeof ean, "40%011llu", (unsigned long long)((i * 7919) % n));
        v = ent_value_string(ean);
        if ((rc = ent_find_unique(&p, s, batch > 1 ? w : NULL, ent_type_field(t, "ean"), &v))) goto out;
        ent_entity_free(p);
    }, out->unique)
    {
        uint64_t scans = n / 100 ? n / 100 : 1;
        READ_BATCHED(scans, {
            ent_value lo = ent_value_float((double)(i % 900) * 0.25);
            ent_range_opts r = ENT_RANGE_OPTS_INIT;
            ent_iter *it = NULL;
            ent_entity *p;
            r.from = &lo;
            r.limit = 100;
            if ((rc = ent_range(&it, s, batch > 1 ? w : NULL, ent_type_field(t, "price"), &r))) goto out;
            while (ent_iter_next(&p, it) == ENT_OK) ent_entity_free(p);
            ent_iter_free(it);
        }, out->range)
    }
#undef READ_BATCHED

    BATCHED({
        ent_entity *p = NULL;
        char k[32];
        ent_key key;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)i);
        key = ent_key_str(k);
        if ((rc = ent_entity_new(&p, t))) goto out;
        ent_entity_set_key(p, &key);
        ent_entity_field_set_int(p, ent_type_field(t, "stock"), (int64_t)(i % 500) + 1000);
        rc = ent_update(s, batch > 1 ? w : NULL, p, ENT_VERSION_ANY);
        ent_entity_free(p);
        if (rc) goto out;
    }, out->update)

    BATCHED({
        char k[32];
        ent_key key;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)i);
        key = ent_key_str(k);
        if ((rc = ent_delete(s, batch > 1 ? w : NULL, t, &key, ENT_VERSION_ANY))) goto out;
    }, out->del)
#undef BATCHED

    /* read the whole log back: n creates, n updates, n deletes */
    {
        ent_log_cursor *c = NULL;
        ent_event *ev;
        uint64_t events = 0;
        t0 = ent_bench_now();
        if ((rc = ent_log_cursor_open(&c, s, 1, NULL, 0))) goto out;
        while ((rc = ent_log_next(&ev, c)) == ENT_OK) {
            events++;
            ent_event_free(ev);
        }
        ent_log_cursor_free(c);
        if (rc != ENT_NOTFOUND) goto out;
        rc = ENT_OK;
        out->log_read = lat_result(&l, ent_bench_now() - t0, events);
    }
out:
    if (rc) fprintf(stderr, "entity: bench: %s: %s\n", ent_strerror(rc), ent_errmsg());
    if (w) ent_txn_abort(w);
    free(l.v);
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

/* ---- the floor: raw LMDB + msgpack, no schema, no validation --------------------------------------- */

static void pack_product(msgpack_sbuffer *sb, uint64_t i)
{
    msgpack_packer pk;
    char ean[40], name[64];
    snprintf(ean, sizeof ean, "40%011llu", (unsigned long long)i);
    snprintf(name, sizeof name, "Organic green tea, loose leaf #%llu", (unsigned long long)i);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_map(&pk, 8);
    msgpack_pack_uint8(&pk, 1); msgpack_pack_str(&pk, strlen(ean)); msgpack_pack_str_body(&pk, ean, strlen(ean));
    msgpack_pack_uint8(&pk, 2); msgpack_pack_str(&pk, strlen(name)); msgpack_pack_str_body(&pk, name, strlen(name));
    msgpack_pack_uint8(&pk, 3); msgpack_pack_double(&pk, (double)(i % 1000) * 0.25);
    msgpack_pack_uint8(&pk, 4); msgpack_pack_int64(&pk, (int64_t)(i % 500));
    msgpack_pack_uint8(&pk, 5); msgpack_pack_true(&pk);
    msgpack_pack_uint8(&pk, 6); msgpack_pack_array(&pk, 2);
    msgpack_pack_str(&pk, 3); msgpack_pack_str_body(&pk, "tea", 3);
    msgpack_pack_str(&pk, 7); msgpack_pack_str_body(&pk, "organic", 7);
    msgpack_pack_uint8(&pk, 7); msgpack_pack_map(&pk, 2);
    msgpack_pack_uint8(&pk, 1); msgpack_pack_double(&pk, 10.5);
    msgpack_pack_uint8(&pk, 2); msgpack_pack_double(&pk, 4.0);
    msgpack_pack_uint8(&pk, 8); msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 6); msgpack_pack_str_body(&pk, "origin", 6);
    msgpack_pack_str(&pk, 3); msgpack_pack_str_body(&pk, "uji", 3);
}

typedef struct floor_results {
    result create, get, create_nolog, create_same;
    size_t record_bytes;
    double disk_bytes; /* data file bytes per entity (record + index + log entry) */
} floor_results;

/* Order-preserving 8-byte encodings, as an index needs them. */
static void be64(uint8_t *o, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) o[i] = (uint8_t)v;
}

static void be_f64(uint8_t *o, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    u = (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
    be64(o, u);
}

enum { FLOOR_NOLOG, FLOOR_ISSUE, FLOOR_SAME_WRITES };

/* mode FLOOR_ISSUE: record + unique index entry + log entry (the floor of the issue);
 * FLOOR_NOLOG: the same without the log entry; FLOOR_SAME_WRITES: every write the library makes
 * for this entity (record, the unique and both non-unique index entries, log entry), to tell
 * the cost of the work from the cost of the library. */
static int floor_run(floor_results *out, int dur, int batch, uint64_t n, const char *dir, int mode)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi data, idx, log, ip, is;
    int with_log = mode != FLOOR_NOLOG;
    msgpack_sbuffer sb;
    lat l = {0};
    double t0, tb;
    int rc;
    unsigned flags = MDB_NOTLS | (dur == ENT_LAZY ? MDB_NOMETASYNC : 0) | (dur == ENT_NONE ? MDB_NOSYNC : 0);
    msgpack_sbuffer_init(&sb);
    mkdir(dir, 0755);
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 8)) || (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) ||
        (rc = mdb_env_open(env, dir, flags, 0644)))
        goto out;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, "d", MDB_CREATE, &data)) ||
        (rc = mdb_dbi_open(txn, "i", MDB_CREATE, &idx)) || (rc = mdb_dbi_open(txn, "l", MDB_CREATE | MDB_INTEGERKEY, &log)) ||
        (rc = mdb_dbi_open(txn, "p", MDB_CREATE | MDB_DUPSORT, &ip)) || (rc = mdb_dbi_open(txn, "s", MDB_CREATE | MDB_DUPSORT, &is)) ||
        (rc = mdb_txn_commit(txn)))
        goto out;
    txn = NULL;
    t0 = tb = ent_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        char k[32], ean[40];
        uint64_t seq = i + 1;
        MDB_val mk, mv, ik, lk = {sizeof seq, &seq};
        double ts = ent_bench_now();
        if ((batch == 1 || i % (uint64_t)batch == 0) && (rc = mdb_txn_begin(env, NULL, 0, &txn))) goto out;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)i);
        snprintf(ean, sizeof ean, "40%011llu", (unsigned long long)i);
        sb.size = 0;
        pack_product(&sb, i);
        out->record_bytes = sb.size;
        mk.mv_size = strlen(k);
        mk.mv_data = k;
        mv.mv_size = sb.size;
        mv.mv_data = sb.data;
        ik.mv_size = strlen(ean);
        ik.mv_data = ean;
        if ((rc = mdb_put(txn, data, &mk, &mv, MDB_NOOVERWRITE)) || (rc = mdb_put(txn, idx, &ik, &mk, MDB_NOOVERWRITE)) ||
            (with_log && (rc = mdb_put(txn, log, &lk, &mv, MDB_APPEND))))
            goto out;
        if (mode == FLOOR_SAME_WRITES) {
            uint8_t pb[8], sb8[8];
            MDB_val pk = {8, pb}, sk = {8, sb8};
            be_f64(pb, (double)(i % 1000) * 0.25);
            be64(sb8, (uint64_t)(int64_t)(i % 500) ^ ((uint64_t)1 << 63));
            if ((rc = mdb_put(txn, ip, &pk, &mk, MDB_NODUPDATA)) || (rc = mdb_put(txn, is, &sk, &mk, MDB_NODUPDATA))) goto out;
        }
        if (batch == 1 || i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1) {
            if ((rc = mdb_txn_commit(txn))) goto out;
            txn = NULL;
            if (batch == 1) lat_add(&l, ent_bench_now() - ts);
            else {
                lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));
                tb = ent_bench_now();
            }
        }
    }
    if (mode != FLOOR_ISSUE) {
        if (mode == FLOOR_NOLOG) out->create_nolog = lat_result(&l, ent_bench_now() - t0, n);
        else out->create_same = lat_result(&l, ent_bench_now() - t0, n);
        goto out;
    }
    out->create = lat_result(&l, ent_bench_now() - t0, n);
    {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        out->disk_bytes = stat(path, &st) == 0 ? (double)st.st_blocks * 512.0 / (double)n : 0;
    }
    t0 = tb = ent_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        char k[32];
        MDB_val mk, mv;
        msgpack_unpacked u;
        size_t off = 0;
        double ts = ent_bench_now();
        if ((batch == 1 || i % (uint64_t)batch == 0) && (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) goto out;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)((i * 7919) % n));
        mk.mv_size = strlen(k);
        mk.mv_data = k;
        if ((rc = mdb_get(txn, data, &mk, &mv))) goto out;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, mv.mv_data, mv.mv_size, &off) != MSGPACK_UNPACK_SUCCESS) rc = EINVAL;
        msgpack_unpacked_destroy(&u);
        if (rc) goto out;
        if (batch == 1 || i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1) {
            mdb_txn_abort(txn);
            txn = NULL;
            if (batch == 1) lat_add(&l, ent_bench_now() - ts);
            else {
                lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));
                tb = ent_bench_now();
            }
        }
    }
    out->get = lat_result(&l, ent_bench_now() - t0, n);
out:
    if (rc) fprintf(stderr, "entity: bench: floor: %s\n", mdb_strerror(rc));
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    msgpack_sbuffer_destroy(&sb);
    free(l.v);
    return rc;
}

/* ---- the peer: SQLite, WAL, a row per entity with its indexed columns, events in the same txn ---- */

typedef struct sqlite_results {
    result create, get;
} sqlite_results;

static int sqlite_run(sqlite_results *out, int dur, int batch, uint64_t n, const char *dir)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *ev = NULL, *get = NULL;
    char path[512];
    msgpack_sbuffer sb;
    lat l = {0};
    double t0, tb;
    int rc;
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    msgpack_sbuffer_init(&sb);
    if ((rc = sqlite3_open(path, &db))) goto out;
    rc = sqlite3_exec(db, dur == ENT_DURABLE ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          : dur == ENT_LAZY ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
                      NULL, NULL, NULL);
    if (!rc) rc = sqlite3_exec(db, "CREATE TABLE product(key TEXT PRIMARY KEY, ean TEXT UNIQUE NOT NULL, price REAL, stock INTEGER, body BLOB);"
                               "CREATE INDEX product_price ON product(price); CREATE INDEX product_stock ON product(stock);"
                               "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER, key TEXT, op INTEGER, data BLOB);", NULL, NULL, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO product VALUES(?,?,?,?,?)", -1, &ins, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO events(ts,key,op,data) VALUES(?,?,1,?)", -1, &ev, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, "SELECT body FROM product WHERE key=?", -1, &get, NULL);
    if (rc) goto out;
    t0 = tb = ent_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        char k[32], ean[40];
        double ts = ent_bench_now();
        if ((batch == 1 || i % (uint64_t)batch == 0) && (rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL))) goto out;
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)i);
        snprintf(ean, sizeof ean, "40%011llu", (unsigned long long)i);
        sb.size = 0;
        pack_product(&sb, i);
        sqlite3_bind_text(ins, 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, ean, -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 3, (double)(i % 1000) * 0.25);
        sqlite3_bind_int64(ins, 4, (int64_t)(i % 500));
        sqlite3_bind_blob(ins, 5, sb.data, (int)sb.size, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = 1;
            goto out;
        }
        sqlite3_reset(ins);
        sqlite3_bind_int64(ev, 1, (int64_t)(ts * 1e9));
        sqlite3_bind_text(ev, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ev, 3, sb.data, (int)sb.size, SQLITE_STATIC);
        if (sqlite3_step(ev) != SQLITE_DONE) {
            rc = 1;
            goto out;
        }
        sqlite3_reset(ev);
        if (batch == 1 || i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1) {
            if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))) goto out;
            if (batch == 1) lat_add(&l, ent_bench_now() - ts);
            else {
                lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));
                tb = ent_bench_now();
            }
        }
    }
    out->create = lat_result(&l, ent_bench_now() - t0, n);
    t0 = tb = ent_bench_now();
    for (uint64_t i = 0; i < n; i++) {
        char k[32];
        msgpack_unpacked u;
        size_t off = 0;
        double ts = ent_bench_now();
        if (batch > 1 && i % (uint64_t)batch == 0) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        snprintf(k, sizeof k, "sku-%08llu", (unsigned long long)((i * 7919) % n));
        sqlite3_bind_text(get, 1, k, -1, SQLITE_STATIC);
        if (sqlite3_step(get) != SQLITE_ROW) {
            rc = 1;
            goto out;
        }
        msgpack_unpacked_init(&u);
        msgpack_unpack_next(&u, sqlite3_column_blob(get, 0), (size_t)sqlite3_column_bytes(get, 0), &off);
        msgpack_unpacked_destroy(&u);
        sqlite3_reset(get);
        if (batch > 1 && (i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1)) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            lat_add(&l, (ent_bench_now() - tb) / (double)(i % (uint64_t)batch + 1));
            tb = ent_bench_now();
        } else if (batch == 1) {
            lat_add(&l, ent_bench_now() - ts);
        }
    }
    out->get = lat_result(&l, ent_bench_now() - t0, n);
out:
    if (rc) fprintf(stderr, "entity: bench: sqlite: %s\n", db ? sqlite3_errmsg(db) : "open failed");
    sqlite3_finalize(ins);
    sqlite3_finalize(ev);
    sqlite3_finalize(get);
    sqlite3_close(db);
    msgpack_sbuffer_destroy(&sb);
    free(l.v);
    return rc;
}

/* ---- in-process subscribers: the cost of delivering an event to 1 and to 8 callbacks ------------ */

static void count_cb(const ent_event *ev, void *payload)
{
    (void)ev;
    ++*(uint64_t *)payload;
}

/* Creates n entities in a memory store, batches of 1000, with `subs` subscribers; returns the time
 * spent in ent_txn_commit() (where delivery happens) in *commit_s. */
static int notify_pass(double *commit_s, int subs, uint64_t n)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    const ent_type *t;
    ent_txn *w = NULL;
    uint64_t seen = 0;
    int rc;
    *commit_s = 0;
    o.backend = "memory";
    o.durability = ENT_NONE;
    if ((rc = ent_schema_load_json(&sc, bench_schema, strlen(bench_schema), "bench")) ||
        (rc = ent_store_open(&s, NULL, sc, &o)))
        goto out;
    t = ent_store_type(s, "product");
    for (int k = 0; k < subs; k++) {
        ent_subscriber *sub;
        if ((rc = ent_subscribe(&sub, s, NULL, 0, count_cb, &seen))) goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        ent_entity *p = NULL;
        if (i % 1000 == 0 && (rc = ent_txn_begin(&w, s, ENT_TXN_WRITE))) goto out;
        if ((rc = ent_entity_new(&p, t))) goto out;
        fill_product(p, t, i);
        rc = ent_create(s, w, p);
        ent_entity_free(p);
        if (rc) goto out;
        if (i % 1000 == 999 || i == n - 1) {
            double t0 = ent_bench_now();
            rc = ent_txn_commit(w);
            w = NULL;
            *commit_s += ent_bench_now() - t0;
            if (rc) goto out;
        }
    }
    if (seen != n * (uint64_t)subs) {
        fprintf(stderr, "entity: bench: %d subscribers saw %llu events, not %llu\n", subs, (unsigned long long)seen,
                (unsigned long long)(n * (uint64_t)subs));
        rc = ENT_CORRUPT;
    }
out:
    if (rc && rc != ENT_CORRUPT) fprintf(stderr, "entity: bench: notify: %s: %s\n", ent_strerror(rc), ent_errmsg());
    if (w) ent_txn_abort(w);
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

/* ---- cross-process follow: a child waits with ent_log_wait(), the parent commits --------------- */

static double real_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int follow_open(ent_store **s, ent_schema **sc, const char *dir)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.backend = "lmdb";
    o.durability = ENT_NONE;
    o.map_size = (size_t)64 << 20;
    if ((rc = ent_schema_load_json(sc, bench_schema, strlen(bench_schema), "bench"))) return rc;
    return ent_store_open(s, dir, *sc, &o);
}

/* Latency from the writer calling ent_create() (a commit of its own) to the follower waking in
 * ent_log_wait(), over `events` commits 2 ms apart. */
static int follow_run(result *out, const char *dir, int events)
{
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    double *wake, *stamp = calloc((size_t)events + 1, sizeof *stamp);
    lat l = {0};
    int p[2], st = 0, rc, missed = 0;
    char ready;
    pid_t pid;
    wake = mmap(NULL, ((size_t)events + 1) * sizeof *wake, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!stamp || wake == MAP_FAILED || pipe(p)) {
        fprintf(stderr, "entity: bench: follow: %s\n", strerror(errno));
        free(stamp);
        return 1;
    }
    if ((rc = follow_open(&s, &sc, dir))) goto out;
    ent_store_close(s); /* a handle is not carried across fork() */
    ent_schema_free(sc);
    s = NULL;
    sc = NULL;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        uint64_t last = 0;
        close(p[0]);
        if (follow_open(&s, &sc, dir) || write(p[1], "r", 1) != 1) _exit(3);
        while (last < (uint64_t)events) {
            uint64_t now_last = 0;
            double t;
            if (ent_log_wait(&now_last, s, last, 5000) != ENT_OK) _exit(4);
            t = real_s();
            for (uint64_t q = last + 1; q <= now_last && q <= (uint64_t)events; q++) wake[q] = t;
            last = now_last;
        }
        ent_store_close(s);
        ent_schema_free(sc);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0 || read(p[0], &ready, 1) != 1) {
        fprintf(stderr, "entity: bench: follow: the follower did not start\n");
        rc = 1;
        goto out;
    }
    if ((rc = follow_open(&s, &sc, dir))) goto out;
    for (int i = 1; i <= events; i++) {
        ent_entity *e = NULL;
        struct timespec gap = {0, 2 * 1000000};
        const ent_type *t = ent_store_type(s, "product");
        if ((rc = ent_entity_new(&e, t))) goto out;
        fill_product(e, t, (uint64_t)i);
        stamp[i] = real_s();
        rc = ent_create(s, NULL, e);
        ent_entity_free(e);
        if (rc) goto out;
        nanosleep(&gap, NULL);
    }
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "entity: bench: follow: the follower failed (status %d)\n", st);
        rc = 1;
        goto out;
    }
    for (int i = 1; i <= events; i++) {
        if (wake[i] == 0) missed++;
        else lat_add(&l, wake[i] - stamp[i]);
    }
    if (missed) {
        fprintf(stderr, "entity: bench: follow: %d of %d commits never woke the follower\n", missed, events);
        rc = 1;
        goto out;
    }
    *out = lat_result(&l, (double)events, (uint64_t)events);
out:
    if (rc && rc != 1) fprintf(stderr, "entity: bench: follow: %s: %s\n", ent_strerror(rc), ent_errmsg());
    close(p[0]);
    ent_store_close(s);
    ent_schema_free(sc);
    munmap(wake, ((size_t)events + 1) * sizeof *wake);
    free(stamp);
    free(l.v);
    return rc;
}

/* ---- reporting ---------------------------------------------------------------------------------- */

static void report(const opts *o, const char *op, const char *backend, const char *dur, int batch, uint64_t n, result r,
                   double floor_ops, double sqlite_ops)
{
    if (o->json) {
        printf("{\"op\":\"%s\",\"backend\":\"%s\",\"durability\":\"%s\",\"batch\":%d,\"n\":%llu,", op, backend, dur,
               batch, (unsigned long long)n);
        if (r.ops_per_s > 0) printf("\"ops_per_s\":%.0f,", r.ops_per_s);
        else printf("\"ops_per_s\":null,");
        printf("\"p50_us\":%.2f,\"p99_us\":%.2f,", r.p50_us, r.p99_us);
        if (floor_ops > 0) printf("\"floor_ops_per_s\":%.0f,\"ratio_to_floor\":%.2f,", floor_ops, floor_ops / r.ops_per_s);
        else printf("\"floor_ops_per_s\":null,\"ratio_to_floor\":null,");
        if (sqlite_ops > 0) printf("\"sqlite_ops_per_s\":%.0f}\n", sqlite_ops);
        else printf("\"sqlite_ops_per_s\":null}\n");
        return;
    }
    printf("%-21s %-7s %-8s %5d %8llu %12.0f %9.2f %9.2f", op, backend, dur, batch, (unsigned long long)n, r.ops_per_s,
           r.p50_us, r.p99_us);
    if (floor_ops > 0) printf(" %12.0f %7.2fx", floor_ops, floor_ops / r.ops_per_s);
    else printf(" %12s %8s", "-", "-");
    if (sqlite_ops > 0) printf(" %12.0f %7.2fx\n", sqlite_ops, r.ops_per_s / sqlite_ops);
    else printf(" %12s %8s\n", "-", "-");
}

/* The median over runs of one double field of an array of per-run results. */
static double med_field(const void *base, size_t stride, size_t off, int runs, double *tmp)
{
    for (int k = 0; k < runs; k++) memcpy(&tmp[k], (const char *)base + (size_t)k * stride + off, sizeof tmp[k]);
    return ent_bench_median(tmp, runs);
}

static void header(const opts *o)
{
    char cpu[256] = "unknown CPU", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    time_t t = time(NULL);
    char date[64];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) snprintf(cpu, sizeof cpu, "%s", c + 2);
            cpu[strcspn(cpu, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
    if (o->json) return;
    printf("entity bench — %s, %ld cores, %s; n=%llu (durable, lazy: n/20), medians of %d runs\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
           date, (unsigned long long)o->n, o->runs);
    printf("entity: product with string key, 8 fields (~150 B msgpack), unique ean, indexed price and stock; every write logs an event\n");
    printf("floor: raw LMDB + msgpack (record + unique index entry + log entry), same durability and batch\n");
    printf("sqlite: WAL, synchronous FULL/NORMAL/OFF for durable/lazy/none, row with indexed columns + events row per create\n");
    printf("create_vs_nolog_floor: library (log on) against the floor without its log entry; floor_create_log: the floor's\n"
           "  own log share (with vs without); create_vs_same_writes: against raw LMDB doing every write the library does\n"
           "  (record, unique + 2 non-unique index entries, log entry); log_read: events/s through a log cursor;\n"
           "  notify_Nsub: cost per event per subscriber (us) of N in-process callbacks; follow_xproc: ent_create() in one\n"
           "  process to ent_log_wait() waking in another (us); update_Nreaders: single-call updates of one writer while N\n"
           "  threads scan 2000 products in read transactions (p50 us = mean time per update)\n\n");
    printf("%-21s %-7s %-8s %5s %8s %12s %9s %9s %12s %8s %12s %8s\n", "op", "backend", "durab.", "batch", "n", "ops/s", "p50 us",
           "p99 us", "floor ops/s", "lib/flr", "sqlite op/s", "x sqlite");
}

/* A positive count of at most 10^9: digits only (strtoull() would take "-1" as 2^64 - 1). */
static int count_arg(uint64_t *out, const char *text, const char *what)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (!isdigit((unsigned char)text[0]) || *end || (errno && errno != ERANGE) || (v == 0 && !errno)) {
        fprintf(stderr, "entity: bench: %s: \"%s\" is not a count from 1 to 10^9\n", what, text);
        return 0;
    }
    if (errno == ERANGE || v > 1000000000ULL) { /* a number all the same: it was "not a count" */
        fprintf(stderr, "entity: bench: %s: %s is too large (a count from 1 to 10^9)\n", what, text);
        return 0;
    }
    *out = v;
    return 1;
}

/* The options that take a value: the word after one is its value, whatever it says. */
static int bench_valued(const char *w)
{
    static const char *const valued[] = {"--n", "--runs", "--dir", "--backend", "--batch", "--durability"};
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
        if (!strcmp(w, valued[k])) return 1;
    return 0;
}

/* Whether option argv[i] came before it among the option words (values skipped), as the tool's
 * given_before() reads its commands' words. */
static int bench_given_before(int i, char **argv)
{
    for (int j = 1; j < i; j++) {
        if (!strcmp(argv[j], argv[i])) return 1;
        if (bench_valued(argv[j])) j++;
    }
    return 0;
}

/* bench's usage, as the entity tool's list has it (tools/entity/main.c, usage_text; the cli test
 * holds the two to the same words): --help said "--backend B" where wrong usage said "--backend
 * memory|lmdb", in another order; and `entity-bench --help` was "unknown option --help". */
static const char bench_usage_1[] = "bench [--n N] [--runs R] [--quick] [--json] [--plain] [--threads] [--backend memory|lmdb]",
                  bench_usage_2[] = "[--durability durable|lazy|none] [--batch 1|1000] [--dir DIR] [--cpu-clock]";

static int bench_usage(void)
{
    fprintf(stderr, "entity: usage: entity [-s DIR] %s\nentity: usage: %*s%s\n", bench_usage_1,
            (int)(sizeof "entity [-s DIR] bench " - 1), "", bench_usage_2);
    return 2;
}

/* --help, -h: as `entity bench --help` prints it (the tool shows it without running this program) */
static int bench_help(void)
{
    static const char prefix[] = "usage: entity [-s DIR | --store DIR] ";
    printf("%s%s\n%*s%s\n  measure CRUD and log costs against raw LMDB and SQLite\n"
           "the store is -s DIR, else $ENTITY_STORE, else ./entity-store\n",
           prefix, bench_usage_1, (int)(sizeof prefix - 1 + sizeof "bench " - 1), "", bench_usage_2);
    return fflush(stdout) == EOF || ferror(stdout) ? 1 : 0;
}

int ent_bench_main(int argc, char **argv)
{
    opts o;
    char disk_buf[512];
    int disk_line = 0, n_given = 0, runs_given = 0;
    const char *dur_text = "", *batch_text = "";
    static const struct {
        const char *backend;
        int dur;
    } configs[] = {{"memory", ENT_NONE}, {"lmdb", ENT_NONE}, {"lmdb", ENT_LAZY}, {"lmdb", ENT_DURABLE}};
    static const int batches[] = {1, 1000};
    memset(&o, 0, sizeof o);
    o.n = 100000;
    o.runs = 5;
    o.only_dur = -1;
    for (int i = 1; i < argc; i++) /* before any other word is judged, as the tool's commands take it */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return bench_help();
    for (int i = 1; i < argc; i++) {
        /* An option given twice is wrong usage, as for every other command of the tool: the last
         * one won without a word (--n 100 --n 1000000 ran the long bench; --backend memory
         * --backend lmdb measured lmdb alone), and a flag twice was taken as once. */
        if (!strncmp(argv[i], "--", 2) && bench_given_before(i, argv)) {
            if (bench_valued(argv[i])) fprintf(stderr, "entity: bench: %s given twice (the last one would win): give it once\n", argv[i]);
            else fprintf(stderr, "entity: bench: %s given twice: give it once\n", argv[i]);
            return bench_usage();
        }
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            if (!count_arg(&o.n, argv[++i], "--n")) return 2;
            n_given = 1;
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            uint64_t r;
            if (!count_arg(&r, argv[++i], "--runs")) return 2;
            if (r > 1000) { /* it ran 1000 without a word, and reported them as the runs asked for */
                fprintf(stderr, "entity: bench: --runs: %s is too many (at most 1000)\n", argv[i]);
                return 2;
            }
            o.runs = (int)r;
            runs_given = 1;
        }
        else if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--threads")) o.threads_only = 1;
        else if (!strcmp(argv[i], "--json")) o.json = 1;
        else if (!strcmp(argv[i], "--plain")) o.plain = 1;
        else if (!strcmp(argv[i], "--cpu-clock")) ent_bench_cpu_clock = 1;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) snprintf(o.dir, sizeof o.dir, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) o.only_backend = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            /* exactly "1" or "1000": atoi() took "x" as 0 (every batch) and "1000x" as 1000 */
            const char *b = batch_text = argv[++i];
            o.only_batch = !strcmp(b, "1") ? 1 : !strcmp(b, "1000") ? 1000 : -1;
        }
        else if (!strcmp(argv[i], "--durability") && i + 1 < argc) {
            const char *d = dur_text = argv[++i];
            o.only_dur = !strcmp(d, "durable") ? ENT_DURABLE : !strcmp(d, "lazy") ? ENT_LAZY : !strcmp(d, "none") ? ENT_NONE : -2;
        } else {
            /* the word at fault first, as the tool's other commands name it (a usage alone said not which) */
            const char *known = " --n --runs --dir --backend --batch --durability ";
            char opt[64];
            snprintf(opt, sizeof opt, " %s ", argv[i]);
            if (strstr(known, opt)) fprintf(stderr, "entity: bench: %s needs a value\n", argv[i]);
            else if (argv[i][0] == '-') fprintf(stderr, "entity: bench: unknown option %s\n", argv[i]);
            else fprintf(stderr, "entity: bench: unexpected word %s\n", argv[i]);
            return bench_usage();
        }
    }
    if (o.quick) { /* smaller defaults: an --n or --runs given stands */
        if (!n_given) o.n = 2000;
        if (!runs_given) o.runs = 1;
    }
    /* each named alone: one line said all three rules whichever was broken */
    if (o.only_backend && strcmp(o.only_backend, "memory") && strcmp(o.only_backend, "lmdb")) {
        fprintf(stderr, "entity: bench: --backend must be memory or lmdb, not \"%s\"\n", o.only_backend);
        return 2;
    }
    if (o.only_dur == -2) {
        fprintf(stderr, "entity: bench: --durability must be durable, lazy or none, not \"%s\"\n", dur_text);
        return 2;
    }
    if (o.only_batch < 0) {
        fprintf(stderr, "entity: bench: --batch must be 1 or 1000, not \"%s\"\n", batch_text);
        return 2;
    }
    if (ent_bench_cpu_clock && !o.plain) {
        /* the other rows have threads, waits for disk syncs and other processes: wall time */
        fprintf(stderr, "entity: bench: --cpu-clock goes with --plain only (single-threaded, no syncs)\n");
        return 2;
    }
    if (o.n < 100) { /* --runs is a count from 1 (count_arg): this one rule alone, not both */
        fprintf(stderr, "entity: bench: --n must be at least 100, not %llu\n", (unsigned long long)o.n);
        return 2;
    }
    {
        /* The stores go in a new directory of the bench's own, inside --dir (default $TMPDIR or
         * /tmp), removed at the end: never the directory given, nor anything already in it. */
        const char *tmp = getenv("TMPDIR"), *in = o.dir[0] ? o.dir : tmp && *tmp ? tmp : "/tmp";
        char given[sizeof o.dir];
        snprintf(given, sizeof given, "%s", in);
        if ((size_t)snprintf(o.dir, sizeof o.dir, "%s/entity-bench-XXXXXX", given) >= sizeof o.dir) {
            fprintf(stderr, "entity: bench: --dir %s: the path is too long\n", given);
            return 2;
        }
        if (!mkdtemp(o.dir)) {
            fprintf(stderr, "entity: bench: --dir %s: cannot make a directory in it: %s\n", given, strerror(errno));
            return 1;
        }
    }
    if (o.plain) {
        int prc = ent_bench_plain(o.n, o.runs, o.json, o.dir, o.only_backend);
        ent_bench_rmrf(o.dir);
        return prc;
    }
    header(&o);
    disk_buf[0] = '\0';
    for (size_t c = 0; !o.threads_only && c < sizeof configs / sizeof configs[0]; c++) {
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            int batch = batches[b], dur = configs[c].dur, R = o.runs;
            /* LMDB syncs data on every commit in durable and in lazy mode: fewer operations there */
            uint64_t n = dur != ENT_NONE ? (o.n / 20 > 100 ? o.n / 20 : 100) : o.n;
            lib_results *lr = calloc((size_t)R, sizeof *lr);
            floor_results *fr = calloc((size_t)R, sizeof *fr);
            sqlite_results *sr = calloc((size_t)R, sizeof *sr);
            double *tmp = calloc((size_t)R, sizeof *tmp);
            int have_floor = strcmp(configs[c].backend, "lmdb") == 0;
            if ((o.only_backend && strcmp(o.only_backend, configs[c].backend)) || (o.only_dur >= 0 && o.only_dur != dur) ||
                (o.only_batch && o.only_batch != batch)) {
                free(lr);
                free(fr);
                free(sr);
                free(tmp);
                continue;
            }
            if (dur == ENT_DURABLE && batch == 1 && n > 1000) n = 1000; /* fsync per op is slow by nature */
            for (int r = 0; r < R; r++) {
                char d1[300], d2[300], d3[300];
                snprintf(d1, sizeof d1, "%s/lib", o.dir);
                snprintf(d2, sizeof d2, "%s/floor", o.dir);
                snprintf(d3, sizeof d3, "%s/sqlite", o.dir);
                if (lib_run(&lr[r], configs[c].backend, dur, batch, n, d1)) return 1;
                ent_bench_rmrf(d1);
                if (have_floor) {
                    if (floor_run(&fr[r], dur, batch, n, d2, FLOOR_ISSUE)) return 1;
                    ent_bench_rmrf(d2);
                    if (floor_run(&fr[r], dur, batch, n, d2, FLOOR_NOLOG)) return 1;
                    ent_bench_rmrf(d2);
                    if (floor_run(&fr[r], dur, batch, n, d2, FLOOR_SAME_WRITES) || sqlite_run(&sr[r], dur, batch, n, d3)) return 1;
                    ent_bench_rmrf(d2);
                    ent_bench_rmrf(d3);
                }
            }
#define MEDIAN_OF(arr, T, f) med_field(arr, sizeof(T), offsetof(T, f), R, tmp)
            {
                result rc_, rg_, ru_, rd_, rq_, rr_;
                result rl_, fcr = {0, 0, 0};
                double fc = 0, fg = 0, sqc = 0, sqg = 0, fcn = 0, fcs = 0, lib_disk, flr_disk = 0;
                rc_.ops_per_s = MEDIAN_OF(lr, lib_results, create.ops_per_s); rc_.p50_us = MEDIAN_OF(lr, lib_results, create.p50_us); rc_.p99_us = MEDIAN_OF(lr, lib_results, create.p99_us);
                rg_.ops_per_s = MEDIAN_OF(lr, lib_results, get.ops_per_s); rg_.p50_us = MEDIAN_OF(lr, lib_results, get.p50_us); rg_.p99_us = MEDIAN_OF(lr, lib_results, get.p99_us);
                ru_.ops_per_s = MEDIAN_OF(lr, lib_results, update.ops_per_s); ru_.p50_us = MEDIAN_OF(lr, lib_results, update.p50_us); ru_.p99_us = MEDIAN_OF(lr, lib_results, update.p99_us);
                rd_.ops_per_s = MEDIAN_OF(lr, lib_results, del.ops_per_s); rd_.p50_us = MEDIAN_OF(lr, lib_results, del.p50_us); rd_.p99_us = MEDIAN_OF(lr, lib_results, del.p99_us);
                rq_.ops_per_s = MEDIAN_OF(lr, lib_results, unique.ops_per_s); rq_.p50_us = MEDIAN_OF(lr, lib_results, unique.p50_us); rq_.p99_us = MEDIAN_OF(lr, lib_results, unique.p99_us);
                rl_.ops_per_s = MEDIAN_OF(lr, lib_results, log_read.ops_per_s);
                rl_.p50_us = rl_.p99_us = rl_.ops_per_s > 0 ? 1e6 / rl_.ops_per_s : 0;
                lib_disk = MEDIAN_OF(lr, lib_results, disk_bytes);
                rr_.ops_per_s = MEDIAN_OF(lr, lib_results, range.ops_per_s); rr_.p50_us = MEDIAN_OF(lr, lib_results, range.p50_us); rr_.p99_us = MEDIAN_OF(lr, lib_results, range.p99_us);
                if (have_floor) {
                    fc = MEDIAN_OF(fr, floor_results, create.ops_per_s);
                    fg = MEDIAN_OF(fr, floor_results, get.ops_per_s);
                    sqc = MEDIAN_OF(sr, sqlite_results, create.ops_per_s);
                    sqg = MEDIAN_OF(sr, sqlite_results, get.ops_per_s);
                    fcn = MEDIAN_OF(fr, floor_results, create_nolog.ops_per_s);
                    fcs = MEDIAN_OF(fr, floor_results, create_same.ops_per_s);
                    fcr.ops_per_s = fc;
                    fcr.p50_us = MEDIAN_OF(fr, floor_results, create.p50_us);
                    fcr.p99_us = MEDIAN_OF(fr, floor_results, create.p99_us);
                    flr_disk = MEDIAN_OF(fr, floor_results, disk_bytes);
                }
                report(&o, "create", configs[c].backend, dur_name(dur), batch, n, rc_, fc, sqc);
                if (have_floor) {
                    /* the log's share: the library (log on) against the floor without its log entry,
                     * and the floor's own cost of that entry */
                    report(&o, "create_vs_nolog_floor", configs[c].backend, dur_name(dur), batch, n, rc_, fcn, 0);
                    report(&o, "floor_create_log", "raw", dur_name(dur), batch, n, fcr, fcn, 0);
                    /* the same writes as the library, raw: what is left is the library's own cost */
                    report(&o, "create_vs_same_writes", configs[c].backend, dur_name(dur), batch, n, rc_, fcs, 0);
                }
                report(&o, "get", configs[c].backend, dur_name(dur), batch, n, rg_, fg, sqg);
                report(&o, "update", configs[c].backend, dur_name(dur), batch, n, ru_, 0, 0);
                report(&o, "delete", configs[c].backend, dur_name(dur), batch, n, rd_, 0, 0);
                if (batch == 1000) report(&o, "log_read", configs[c].backend, dur_name(dur), 0, 3 * n, rl_, 0, 0);
                if (batch == 1000 && have_floor && dur == ENT_NONE) {
                    size_t rec = fr[0].record_bytes;
                    if (o.json)
                        printf("{\"op\":\"disk_per_entity\",\"backend\":\"lmdb\",\"durability\":\"%s\",\"n\":%llu,"
                               "\"bytes\":%.0f,\"floor_bytes\":%.0f,\"msgpack_bytes\":%zu}\n",
                               dur_name(dur), (unsigned long long)n, lib_disk, flr_disk, rec);
                    else
                        disk_line = snprintf(disk_buf, sizeof disk_buf,
                                             "bytes on disk per entity (lmdb %s, n=%llu, with its log): library %.0f, floor %.0f; "
                                             "raw msgpack record %zu\n",
                                             dur_name(dur), (unsigned long long)n, lib_disk, flr_disk, rec);
                }
                report(&o, "unique", configs[c].backend, dur_name(dur), batch, n, rq_, 0, 0);
                report(&o, "range100", configs[c].backend, dur_name(dur), batch, n / 100 ? n / 100 : 1, rr_, 0, 0);
            }
#undef MEDIAN_OF
            free(lr);
            free(fr);
            free(sr);
            free(tmp);
            fflush(stdout);
        }
    }
    if (o.threads_only || ((!o.only_backend || !strcmp(o.only_backend, "lmdb")) &&
                           (o.only_dur < 0 || o.only_dur == ENT_DURABLE) && (!o.only_batch || o.only_batch == 1))) {
        /* group commit: durable creates from 1..16 threads, n/100 calls per thread */
        uint64_t per = o.n / 100 > 50 ? o.n / 100 : 50;
        if (ent_bench_threads(o.runs, o.json, per, o.dir, ent_bench_rmrf)) return 1;
    }
    if (!o.threads_only && !o.only_backend && o.only_dur < 0 && !o.only_batch) {
        /* in-process notify: commit time with 0, 1 and 8 subscribers, memory backend */
        uint64_t n = o.n;
        double *c0 = calloc((size_t)o.runs, sizeof *c0), *c1 = calloc((size_t)o.runs, sizeof *c1),
               *c8 = calloc((size_t)o.runs, sizeof *c8);
        result n1, n8, fw = {0, 0, 0};
        int events = o.quick ? 50 : 300;
        double *p50 = calloc((size_t)o.runs, sizeof *p50), *p99 = calloc((size_t)o.runs, sizeof *p99);
        for (int r = 0; r < o.runs; r++) {
            char d[300];
            result f = {0, 0, 0};
            if (notify_pass(&c0[r], 0, n) || notify_pass(&c1[r], 1, n) || notify_pass(&c8[r], 8, n)) return 1;
            c1[r] = (c1[r] - c0[r]) / (double)n;       /* per event, 1 subscriber */
            c8[r] = (c8[r] - c0[r]) / (double)(n * 8); /* per event per subscriber, 8 subscribers */
            snprintf(d, sizeof d, "%s/follow", o.dir);
            if (follow_run(&f, d, events)) return 1;
            ent_bench_rmrf(d);
            p50[r] = f.p50_us;
            p99[r] = f.p99_us;
        }
        n1.p50_us = n1.p99_us = ent_bench_median(c1, o.runs) * 1e6;
        n1.ops_per_s = n1.p50_us > 0 ? 1e6 / n1.p50_us : 0;
        n8.p50_us = n8.p99_us = ent_bench_median(c8, o.runs) * 1e6;
        n8.ops_per_s = n8.p50_us > 0 ? 1e6 / n8.p50_us : 0;
        fw.p50_us = ent_bench_median(p50, o.runs);
        fw.p99_us = ent_bench_median(p99, o.runs);
        fw.ops_per_s = 0;
        report(&o, "notify_1sub", "memory", "none", 1000, n, n1, 0, 0);
        report(&o, "notify_8sub", "memory", "none", 1000, n, n8, 0, 0);
        report(&o, "follow_xproc", "lmdb", "none", 1, (uint64_t)events, fw, 0, 0);
        free(c0);
        free(c1);
        free(c8);
        free(p50);
        free(p99);
    }
    if ((o.only_dur < 0 || o.only_dur == ENT_NONE) && o.only_batch != 1000) {
        /* one writer's single-call updates beside 0 and 3 threads scanning 2000 products */
        static const char *const bes[] = {"memory", "lmdb"};
        static const int nreaders[] = {0, 3};
        uint64_t n = o.quick ? 200 : 2000;
        double *ups = calloc((size_t)o.runs, sizeof *ups);
        for (size_t b = 0; b < 2; b++) {
            if (o.only_backend && strcmp(o.only_backend, bes[b])) continue;
            for (size_t k = 0; k < 2; k++) {
                result r = {0, 0, 0};
                char op[32];
                for (int run = 0; run < o.runs; run++) {
                    char d[300];
                    snprintf(d, sizeof d, "%s/readers", o.dir);
                    if (ent_bench_writer_with_readers(&ups[run], bes[b], d, bench_schema, nreaders[k], n)) return 1;
                    ent_bench_rmrf(d);
                }
                r.ops_per_s = ent_bench_median(ups, o.runs);
                r.p50_us = r.p99_us = r.ops_per_s > 0 ? 1e6 / r.ops_per_s : 0;
                snprintf(op, sizeof op, "update_%dreaders", nreaders[k]);
                report(&o, op, bes[b], "none", 1, n, r, 0, 0);
            }
        }
        free(ups);
    }
    if (disk_line > 0 && !o.json) printf("\n%s", disk_buf);
    if (!o.threads_only && !o.only_backend && o.only_dur < 0 && !o.only_batch && ent_bench_plain(o.n, o.runs, o.json, o.dir, NULL)) return 1;
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        if (o.json) printf("{\"op\":\"peak_rss\",\"kib\":%ld}\n", ru.ru_maxrss);
        else printf("\npeak RSS %ld KiB\n", ru.ru_maxrss);
    }
    ent_bench_rmrf(o.dir);
    return 0;
}
