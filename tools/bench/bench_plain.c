/* entity bench, plain rows: the library's own CPU per create and get, on an entity where the raw
 * floor does exactly the same kind of writes.
 *
 * Entity "note": auto key, no secondary index, eight fields of ~150 bytes of msgpack (a ~35-byte
 * string, a float, a 3-byte string, an int, an array of three short strings, a free-form map of
 * two short string pairs, a uint, a bool), set by the host through field handles where a handle
 * exists (paths for array items and free-form map entries, which have none).
 * Floor, in the same run: raw LMDB writing the same msgpack record under an 8-byte key plus one
 * log entry per create, and mdb_get + msgpack_unpack_next per get. */
#include <entity/entity.h>
#include <lmdb.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_plain.h"
#include "bench_util.h"

static const char plain_schema[] =
    "{\"schema\":\"plain\",\"version\":1,\"types\":{\"note\":{\"key\":\"auto\",\"fields\":{"
    "\"title\":{\"id\":1,\"type\":\"string\"},"
    "\"score\":{\"id\":2,\"type\":\"float\"},"
    "\"cur\":{\"id\":3,\"type\":\"string\"},"
    "\"qty\":{\"id\":4,\"type\":\"int\"},"
    "\"tags\":{\"id\":5,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"attrs\":{\"id\":6,\"type\":\"map\"},"
    "\"seen\":{\"id\":7,\"type\":\"uint\"},"
    "\"done\":{\"id\":8,\"type\":\"bool\"}}}}}";

static void title_of(char *out, size_t cap, uint64_t i)
{
    snprintf(out, cap, "Weekly inventory check, aisle %05llu", (unsigned long long)(i % 100000));
}

/* ops/s of the four measured phases of one run */
typedef struct plain_run {
    double create1, create1000, get1, get1000;
    size_t record_bytes;
} plain_run;

/* ---- libentity ------------------------------------------------------------------------------- */

typedef struct plain_fields {
    const ent_field *title, *score, *cur, *qty, *seen, *done;
} plain_fields;

static int fill_note(ent_entity *e, const plain_fields *f, uint64_t i)
{
    char title[64];
    int rc;
    title_of(title, sizeof title, i);
    if ((rc = ent_entity_field_set_string(e, f->title, title, strlen(title))) ||
        (rc = ent_entity_field_set_float(e, f->score, (double)(i % 1000) * 0.25)) ||
        (rc = ent_entity_field_set_string(e, f->cur, "EUR", 3)) ||
        (rc = ent_entity_field_set_int(e, f->qty, (int64_t)(i % 5000) - 100)) ||
        (rc = ent_entity_set_string(e, "tags[0]", "urgent-review")) || (rc = ent_entity_set_string(e, "tags[1]", "storefront")) ||
        (rc = ent_entity_set_string(e, "tags[2]", "weekly-audit")) || (rc = ent_entity_set_string(e, "attrs.assignee", "kim.larsen")) ||
        (rc = ent_entity_set_string(e, "attrs.shift", "late-evening")) ||
        (rc = ent_entity_field_set_uint(e, f->seen, 1700000000u + i)) || (rc = ent_entity_field_set_bool(e, f->done, 0)))
        return rc;
    return ENT_OK;
}

/* creates with batch 1 and 1000 (fresh store each), gets with one read txn per get and 1000 per txn */
static int lib_plain(plain_run *out, const char *backend, uint64_t n, const char *dir)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    const ent_type *t;
    plain_fields f;
    ent_txn *w = NULL;
    uint64_t *ids = calloc((size_t)n, sizeof *ids);
    int rc = ENT_NOMEM;
    if (!ids) goto out;
    o.backend = backend;
    o.durability = ENT_NONE;
    o.map_size = (size_t)1 << 30;
    if ((rc = ent_schema_load_json(&sc, plain_schema, strlen(plain_schema), "plain"))) goto out;
    for (int batch = 1; batch <= 1000; batch *= 1000) {
        double t0;
        ent_bench_rmrf(dir);
        if ((rc = ent_store_open(&s, dir, sc, &o))) goto out;
        t = ent_store_type(s, "note");
        f.title = ent_type_field(t, "title");
        f.score = ent_type_field(t, "score");
        f.cur = ent_type_field(t, "cur");
        f.qty = ent_type_field(t, "qty");
        f.seen = ent_type_field(t, "seen");
        f.done = ent_type_field(t, "done");
        t0 = ent_bench_now();
        for (uint64_t i = 0; i < n; i++) {
            ent_entity *e = NULL;
            if (batch > 1 && i % (uint64_t)batch == 0 && (rc = ent_txn_begin(&w, s, ENT_TXN_WRITE))) goto out;
            if ((rc = ent_entity_new(&e, t))) goto out;
            rc = fill_note(e, &f, i);
            if (!rc) rc = ent_create(s, batch > 1 ? w : NULL, e);
            if (!rc) ids[i] = ent_entity_key(e).id;
            ent_entity_free(e);
            if (rc) goto out;
            if (batch > 1 && (i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1)) {
                rc = ent_txn_commit(w);
                w = NULL;
                if (rc) goto out;
            }
        }
        if (batch == 1) out->create1 = (double)n / (ent_bench_now() - t0);
        else out->create1000 = (double)n / (ent_bench_now() - t0);
        /* gets on the store the batched creates filled (the same content as the other) */
        if (batch == 1000) {
            for (int gb = 1; gb <= 1000; gb *= 1000) {
                t0 = ent_bench_now();
                for (uint64_t i = 0; i < n; i++) {
                    ent_entity *e = NULL;
                    ent_key k = ent_key_id(ids[(i * 7919) % n]);
                    if ((gb == 1 || i % (uint64_t)gb == 0) && (rc = ent_txn_begin(&w, s, ENT_TXN_READ))) goto out;
                    if ((rc = ent_get(&e, s, w, t, &k))) goto out;
                    ent_entity_free(e);
                    if (gb == 1 || i % (uint64_t)gb == (uint64_t)gb - 1 || i == n - 1) {
                        ent_txn_abort(w);
                        w = NULL;
                    }
                }
                if (gb == 1) out->get1 = (double)n / (ent_bench_now() - t0);
                else out->get1000 = (double)n / (ent_bench_now() - t0);
            }
        }
        ent_store_close(s);
        s = NULL;
    }
out:
    if (rc) fprintf(stderr, "entity: bench: plain %s: %s: %s\n", backend, ent_strerror(rc), ent_errmsg());
    if (w) ent_txn_abort(w);
    ent_store_close(s);
    ent_schema_free(sc);
    free(ids);
    ent_bench_rmrf(dir);
    return rc;
}

/* ---- the floor: raw LMDB + msgpack ---------------------------------------------------------- */

/* The record the library stores for this entity: [version, {field_id: value}]. */
static void pack_note(msgpack_sbuffer *sb, uint64_t i)
{
    msgpack_packer pk;
    char title[64];
    size_t tl;
    title_of(title, sizeof title, i);
    tl = strlen(title);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_map(&pk, 8);
    msgpack_pack_uint8(&pk, 1); msgpack_pack_str(&pk, tl); msgpack_pack_str_body(&pk, title, tl);
    msgpack_pack_uint8(&pk, 2); msgpack_pack_double(&pk, (double)(i % 1000) * 0.25);
    msgpack_pack_uint8(&pk, 3); msgpack_pack_str(&pk, 3); msgpack_pack_str_body(&pk, "EUR", 3);
    msgpack_pack_uint8(&pk, 4); msgpack_pack_int64(&pk, (int64_t)(i % 5000) - 100);
    msgpack_pack_uint8(&pk, 5); msgpack_pack_array(&pk, 3);
    msgpack_pack_str(&pk, 13); msgpack_pack_str_body(&pk, "urgent-review", 13);
    msgpack_pack_str(&pk, 10); msgpack_pack_str_body(&pk, "storefront", 10);
    msgpack_pack_str(&pk, 12); msgpack_pack_str_body(&pk, "weekly-audit", 12);
    msgpack_pack_uint8(&pk, 6); msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 8); msgpack_pack_str_body(&pk, "assignee", 8);
    msgpack_pack_str(&pk, 10); msgpack_pack_str_body(&pk, "kim.larsen", 10);
    msgpack_pack_str(&pk, 5); msgpack_pack_str_body(&pk, "shift", 5);
    msgpack_pack_str(&pk, 12); msgpack_pack_str_body(&pk, "late-evening", 12);
    msgpack_pack_uint8(&pk, 7); msgpack_pack_uint64(&pk, 1700000000u + i);
    msgpack_pack_uint8(&pk, 8); msgpack_pack_false(&pk);
}

static void be64(uint8_t *o, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) o[i] = (uint8_t)v;
}

static int floor_plain(plain_run *out, uint64_t n, const char *dir)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi data, log;
    msgpack_sbuffer sb;
    int rc = 0;
    msgpack_sbuffer_init(&sb);
    for (int batch = 1; batch <= 1000; batch *= 1000) {
        double t0;
        ent_bench_rmrf(dir);
        mkdir(dir, 0755);
        if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 4)) ||
            (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) || (rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_NOSYNC, 0644)))
            goto out;
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, "d", MDB_CREATE, &data)) ||
            (rc = mdb_dbi_open(txn, "l", MDB_CREATE | MDB_INTEGERKEY, &log)) || (rc = mdb_txn_commit(txn)))
            goto out;
        txn = NULL;
        t0 = ent_bench_now();
        for (uint64_t i = 0; i < n; i++) {
            uint8_t kb[8];
            uint64_t seq = i + 1;
            MDB_val mk = {8, kb}, mv, lk = {sizeof seq, &seq};
            if ((batch == 1 || i % (uint64_t)batch == 0) && (rc = mdb_txn_begin(env, NULL, 0, &txn))) goto out;
            be64(kb, i + 1);
            sb.size = 0;
            pack_note(&sb, i);
            out->record_bytes = sb.size;
            mv.mv_size = sb.size;
            mv.mv_data = sb.data;
            if ((rc = mdb_put(txn, data, &mk, &mv, MDB_NOOVERWRITE)) || (rc = mdb_put(txn, log, &lk, &mv, MDB_APPEND))) goto out;
            if (batch == 1 || i % (uint64_t)batch == (uint64_t)batch - 1 || i == n - 1) {
                if ((rc = mdb_txn_commit(txn))) goto out;
                txn = NULL;
            }
        }
        if (batch == 1) out->create1 = (double)n / (ent_bench_now() - t0);
        else out->create1000 = (double)n / (ent_bench_now() - t0);
        if (batch == 1000) {
            for (int gb = 1; gb <= 1000; gb *= 1000) {
                t0 = ent_bench_now();
                for (uint64_t i = 0; i < n; i++) {
                    uint8_t kb[8];
                    MDB_val mk = {8, kb}, mv;
                    msgpack_unpacked u;
                    size_t off = 0;
                    if ((gb == 1 || i % (uint64_t)gb == 0) && (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) goto out;
                    be64(kb, (i * 7919) % n + 1);
                    if ((rc = mdb_get(txn, data, &mk, &mv))) goto out;
                    msgpack_unpacked_init(&u);
                    if (msgpack_unpack_next(&u, mv.mv_data, mv.mv_size, &off) != MSGPACK_UNPACK_SUCCESS) rc = MDB_CORRUPTED;
                    msgpack_unpacked_destroy(&u);
                    if (rc) goto out;
                    if (gb == 1 || i % (uint64_t)gb == (uint64_t)gb - 1 || i == n - 1) {
                        mdb_txn_abort(txn);
                        txn = NULL;
                    }
                }
                if (gb == 1) out->get1 = (double)n / (ent_bench_now() - t0);
                else out->get1000 = (double)n / (ent_bench_now() - t0);
            }
        }
        mdb_env_close(env);
        env = NULL;
    }
out:
    if (rc) fprintf(stderr, "entity: bench: plain floor: %s\n", mdb_strerror(rc));
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    msgpack_sbuffer_destroy(&sb);
    ent_bench_rmrf(dir);
    return rc;
}

/* ---- report ---------------------------------------------------------------------------------- */

static void row(int json, const char *op, const char *backend, int batch, uint64_t n, double ops, double floor_ops)
{
    if (json) {
        printf("{\"op\":\"%s\",\"backend\":\"%s\",\"durability\":\"none\",\"batch\":%d,\"n\":%llu,\"ops_per_s\":%.0f,"
               "\"us_per_op\":%.3f,",
               op, backend, batch, (unsigned long long)n, ops, ops > 0 ? 1e6 / ops : 0);
        if (floor_ops > 0) printf("\"floor_ops_per_s\":%.0f,\"ratio_to_floor\":%.2f}\n", floor_ops, floor_ops / ops);
        else printf("\"floor_ops_per_s\":null,\"ratio_to_floor\":null}\n");
        return;
    }
    printf("%-21s %-7s %-8s %5d %8llu %12.0f %9.3f", op, backend, "none", batch, (unsigned long long)n, ops,
           ops > 0 ? 1e6 / ops : 0);
    if (floor_ops > 0) printf(" %12.0f %9.3f %7.2fx\n", floor_ops, 1e6 / floor_ops, floor_ops / ops);
    else printf(" %12s %9s %8s\n", "-", "-", "-");
}

int ent_bench_plain(uint64_t n, int runs, int json, const char *dir, const char *only_backend)
{
    plain_run *lm = calloc((size_t)runs, sizeof *lm), *me = calloc((size_t)runs, sizeof *me),
              *fl = calloc((size_t)runs, sizeof *fl);
    double *tmp = calloc((size_t)runs, sizeof *tmp);
    char d[300];
    int rc = 1;
    if (!lm || !me || !fl || !tmp) goto out;
    snprintf(d, sizeof d, "%s/plain", dir);
    /* interleaved, so that a noisy neighbour hits the library and the floor alike */
    for (int r = 0; r < runs; r++) {
        if ((only_backend && strcmp(only_backend, "lmdb")) ? 0 : (lib_plain(&lm[r], "lmdb", n, d) || floor_plain(&fl[r], n, d)))
            goto out;
        else if ((only_backend && strcmp(only_backend, "memory")) ? 0 : lib_plain(&me[r], "memory", n, d))
            goto out;
    }
    if (!json) {
        printf("\nplain entity: auto key, no secondary index, 8 fields, %zu B msgpack record; floor: raw LMDB record + log "
               "entry per create, mdb_get + msgpack_unpack_next per get; durability none; medians of %d runs\n",
               fl[0].record_bytes, runs);
        printf("%-21s %-7s %-8s %5s %8s %12s %9s %12s %9s %8s\n", "op", "backend", "durab.", "batch", "n", "ops/s", "us/op",
               "floor ops/s", "floor us", "lib/flr");
    }
    {
        double fc1, fc1000, fg1, fg1000;
        for (int k = 0; k < runs; k++) tmp[k] = fl[k].create1;
        fc1 = ent_bench_median(tmp, runs);
        for (int k = 0; k < runs; k++) tmp[k] = fl[k].create1000;
        fc1000 = ent_bench_median(tmp, runs);
        for (int k = 0; k < runs; k++) tmp[k] = fl[k].get1;
        fg1 = ent_bench_median(tmp, runs);
        for (int k = 0; k < runs; k++) tmp[k] = fl[k].get1000;
        fg1000 = ent_bench_median(tmp, runs);
        {
            double v;
            for (int k = 0; k < runs; k++) tmp[k] = lm[k].create1;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_create", "lmdb", 1, n, v, fc1);
            for (int k = 0; k < runs; k++) tmp[k] = lm[k].create1000;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_create", "lmdb", 1000, n, v, fc1000);
            for (int k = 0; k < runs; k++) tmp[k] = lm[k].get1;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_get", "lmdb", 1, n, v, fg1);
            for (int k = 0; k < runs; k++) tmp[k] = lm[k].get1000;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_get", "lmdb", 1000, n, v, fg1000);
            for (int k = 0; k < runs; k++) tmp[k] = me[k].create1;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_create", "memory", 1, n, v, fc1);
            for (int k = 0; k < runs; k++) tmp[k] = me[k].create1000;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_create", "memory", 1000, n, v, fc1000);
            for (int k = 0; k < runs; k++) tmp[k] = me[k].get1;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_get", "memory", 1, n, v, fg1);
            for (int k = 0; k < runs; k++) tmp[k] = me[k].get1000;
            v = ent_bench_median(tmp, runs);
            row(json, "plain_get", "memory", 1000, n, v, fg1000);
            /* memory get against the LMDB backend's get (the goal is >= 2x) */
            for (int k = 0; k < runs; k++) tmp[k] = me[k].get1000 / lm[k].get1000;
            v = ent_bench_median(tmp, runs);
            if (json) printf("{\"op\":\"plain_get_memory_vs_lmdb\",\"batch\":1000,\"speedup\":%.2f}\n", v);
            else printf("memory get / lmdb get (batch 1000, per-run ratio, median): %.2fx\n", v);
        }
    }
    rc = 0;
out:
    free(lm);
    free(me);
    free(fl);
    free(tmp);
    return rc;
}
