/* Fuzz every reader of a damaged store: records, index entries, events, counters, the stored
 * schema and subscriptions as bytes in the backend's tables, on the memory and the LMDB backend.
 * Input: one byte (backend), then damage operations on a small shop store (overwrite, delete,
 * insert, flip or cut the value of a pair of any table), committed raw, under the store.
 * Properties: every read (get, scans, index look-ups and ranges, log reads, counts, subscriptions),
 * every write attempted afterwards, verify, and reopening the store (LMDB) returns a known code with
 * a message, never crashes, never leaks; and when a reader finds corrupt bytes, verify does not
 * call the store clean. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "fuzz_raw.h"
#include "fuzz_shop.h"

static ent_schema *shop;
static char dir[ENT_TEST_PATH_MAX];

static void wipe_dir(void) { fuzz_dir_wipe(dir); }
static void remove_dir(void) { fuzz_dir_remove(dir); }

static void setup(void)
{
    if (shop) return;
    shop = fuzz_schema("shop");
    /* in /dev/shm unless TMPDIR is set: thousands of stores, the inputs under test, not the disk */
    if (ent_test_mkdtemp_fast(dir, sizeof dir, "fuzz-damaged")) abort();
        atexit(remove_dir);
}

/* Damage the store as the input says. Returns how many damage operations were applied. */
static int damage(ent_store *s, fuzz_in *in)
{
    unsigned tbls[64];
    size_t nt = fuzz_tables(tbls, 64, s);
    ent_txn *w = NULL;
    ent_buf k = {0}, v = {0};
    int applied = 0, refused = 0;
    must(ent_txn_begin(&w, s, ENT_TXN_WRITE), "begin");
    for (int i = 0; i < 8 && in->n; i++) {
        unsigned op = fuzz_u8(in), tbl = tbls[fuzz_u8(in) % nt], nth = fuzz_u8(in);
        const uint8_t *a, *b;
        size_t an, bn;
        int rc = ENT_OK;
        switch (op % 5) {
        case 0: /* overwrite the value of a pair */
            bn = fuzz_chunk(in, &b);
            if (fuzz_raw_nth(w, tbl, nth, &k, &v) == ENT_OK) {
                if (fuzz_raw_del(w, tbl, k.p, k.n, NULL, 0) == ENT_OK) rc = fuzz_raw_put(w, tbl, k.p, k.n, b, bn);
                applied++;
            }
            break;
        case 1: /* delete a pair */
            if (fuzz_raw_nth(w, tbl, nth, &k, &v) == ENT_OK) {
                rc = fuzz_raw_del(w, tbl, k.p, k.n, v.p, v.n);
                applied++;
            }
            break;
        case 2: /* insert a pair */
            an = fuzz_chunk(in, &a);
            bn = fuzz_chunk(in, &b);
            if ((rc = fuzz_raw_put(w, tbl, a, an, b, bn)) == ENT_OK) applied++;
            break;
        case 3: /* flip bits in a value */
            if (fuzz_raw_nth(w, tbl, nth, &k, &v) == ENT_OK && v.n) {
                unsigned at = fuzz_u8(in) % (unsigned)v.n, x = fuzz_u8(in) | 1;
                v.p[at] ^= (char)x;
                if (fuzz_raw_del(w, tbl, k.p, k.n, NULL, 0) == ENT_OK) rc = fuzz_raw_put(w, tbl, k.p, k.n, v.p, v.n);
                applied++;
            }
            break;
        default: /* cut a value short */
            if (fuzz_raw_nth(w, tbl, nth, &k, &v) == ENT_OK && v.n) {
                size_t keep = fuzz_u8(in) % v.n;
                if (fuzz_raw_del(w, tbl, k.p, k.n, NULL, 0) == ENT_OK) rc = fuzz_raw_put(w, tbl, k.p, k.n, v.p, keep);
                applied++;
            }
            break;
        }
        FUZZ_CHECK(fuzz_known_rc(rc), "raw write rc %d", rc);
        refused |= rc != ENT_OK;
    }
    ent__buf_free(&k);
    ent__buf_free(&v);
    /* A write the backend refused (LMDB: a 0-byte value in a DUPSORT table, MDB_BAD_VALSIZE)
     * fails the transaction, and its commit is refused: that damage cannot be made, so none is. */
    if (refused) {
        ent_txn_abort(w);
        return 0;
    }
    must(ent_txn_commit(w), "commit the damage");
    return applied;
}

/* Runs a reader's code through the checks; remembers a corrupt answer. */
static int corrupt_seen;
#define seen(rc) seen_at((rc), __LINE__)
static int seen_at(int rc, int line)
{
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (rc == ENT_CORRUPT && !corrupt_seen) {
        corrupt_seen = line;
        if (getenv("FUZZ_VERBOSE")) dprintf(2, "fuzz: corrupt at line %d: %s\n", line, ent_errmsg());
    }
    return rc;
}

static void drain(ent_iter *it)
{
    ent_entity *e;
    int rc, n = 0;
    while (n++ < 64 && (rc = seen(ent_iter_next(&e, it))) == ENT_OK) {
        char *j = NULL;
        FUZZ_CHECK(ent_entity_to_json(&j, e, ENT_JSON_ENTITY) == ENT_OK, "to_json of a read entity");
        free(j);
        ent_entity_free(e);
    }
    (void)ent_iter_resume(it);
    ent_iter_free(it);
}

static void read_all(ent_store *s)
{
    const ent_schema *sc = ent_store_schema(s);
    uint64_t first = 0, last = 0, n;
    ent_log_cursor *c = NULL;
    ent_event *ev;
    ent_sub_info *subs = NULL;
    size_t nsubs = 0;
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        ent_iter *it = NULL;
        ent_range_opts ro = ENT_RANGE_OPTS_INIT;
        if (seen(ent_scan(&it, s, NULL, t, NULL, NULL)) == ENT_OK) drain(it);
        ro.flags = ENT_ITER_REVERSE;
        if (seen(ent_scan(&it, s, NULL, t, NULL, &ro)) == ENT_OK) drain(it);
        seen(ent_count(&n, s, NULL, t));
        for (size_t j = 0; j < ent_type_field_count(t); j++) {
            const ent_field *f = ent_type_field_at(t, j);
            if (!ent_field_is_indexed(f) && !ent_field_is_unique(f)) continue;
            if (seen(ent_range(&it, s, NULL, f, NULL)) == ENT_OK) drain(it);
        }
        for (uint64_t id = 1; id <= 4; id++) {
            ent_entity *e = NULL;
            ent_key k = ent_type_key(t) == ENT_KEY_AUTO ? ent_key_id(id) : ent_key_str(id & 1 ? "tea" : "pot");
            seen(ent_get(&e, s, NULL, t, &k));
            ent_entity_free(e);
        }
    }
    {
        const ent_type *cu = ent_store_type(s, "customer");
        const ent_field *em = cu ? ent_type_field(cu, "email") : NULL;
        ent_value v = ent_value_string("ada@x");
        ent_entity *e = NULL;
        if (em) seen(ent_find_unique(&e, s, NULL, em, &v));
        ent_entity_free(e);
    }
    if (seen(ent_log_bounds(&first, &last, s, NULL)) == ENT_OK) {
        for (uint64_t q = first; q <= last + 1 && q < first + 32; q++) {
            ev = NULL;
            if (seen(ent_log_get(&ev, s, NULL, q)) == ENT_OK) {
                char *j = NULL;
                FUZZ_CHECK(ent_event_to_json(&j, ev, 0) == ENT_OK, "event to_json");
                free(j);
            }
            ent_event_free(ev);
        }
    }
    if (seen(ent_log_cursor_open(&c, s, 1, NULL, 0)) == ENT_OK) {
        for (int i = 0; i < 64 && seen(ent_log_next(&ev, c)) == ENT_OK; i++) ent_event_free(ev);
        ent_log_cursor_free(c);
    }
    if (seen(ent_sub_list(&subs, &nsubs, s)) == ENT_OK) {
        for (size_t i = 0; i < nsubs; i++) {
            ent_log_cursor *sc2 = NULL;
            if (seen(ent_sub_cursor(&sc2, s, subs[i].name)) == ENT_OK) {
                for (int j = 0; j < 16 && seen(ent_log_next(&ev, sc2)) == ENT_OK; j++) ent_event_free(ev);
                ent_log_cursor_free(sc2);
            }
        }
        free(subs);
    }
}

/* Writes on a damaged store: each returns a known code (the store may refuse them). */
static void write_some(ent_store *s)
{
    const ent_type *cu = ent_store_type(s, "customer"), *od = ent_store_type(s, "order");
    ent_entity *e = NULL;
    ent_key k1 = ent_key_id(1), k2 = ent_key_id(2);
    if (!cu || !od) return;
    if (seen(ent_entity_new(&e, cu)) == ENT_OK) {
        ent_entity_set_string(e, "email", "new@x");
        ent_entity_set_string(e, "name", "new");
        seen(ent_create(s, NULL, e));
        ent_entity_free(e);
        e = NULL;
    }
    if (seen(ent_get(&e, s, NULL, od, &k1)) == ENT_OK) {
        ent_entity_set_string(e, "status", "shipped");
        seen(ent_update(s, NULL, e, ENT_VERSION_ANY));
        ent_entity_free(e);
    }
    seen(ent_delete(s, NULL, od, &k2, ENT_VERSION_ANY));
    seen(ent_sub_ack(s, NULL, "mailer", 3));
    seen(ent_log_truncate(s, 2, 0));
}

static void verify(ent_store *s, int applied)
{
    uint64_t problems = 0;
    int rc = ent_store_verify(&problems, s, NULL, NULL);
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    if (!applied) FUZZ_CHECK(rc == ENT_OK, "verify finds %llu problems in an undamaged store", (unsigned long long)problems);
    if (corrupt_seen) FUZZ_CHECK(rc != ENT_OK, "a reader found corrupt bytes, verify calls the store clean");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    int lmdb = fuzz_u8(&in) & 1, applied;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    setup();
    corrupt_seen = 0;
    if (lmdb) wipe_dir();
    o.backend = lmdb ? "lmdb" : "memory";
    o.durability = ENT_NONE;
    must(ent_store_open(&s, dir, shop, &o), "open");
    fill(s);
    applied = damage(s, &in);
    read_all(s);
    verify(s, applied);
    write_some(s);
    read_all(s);
    ent_store_close(s);
    if (lmdb) {
        /* Reopen with the schema stored in it: meta, counters and the stored schema are read. */
        ent_store_opts ro = ENT_STORE_OPTS_INIT;
        int rc;
        s = NULL;
        corrupt_seen = 0;
        rc = ent_store_open(&s, dir, NULL, &ro);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (rc == ENT_OK) {
            read_all(s);
            verify(s, 1);
        }
        ent_store_close(s);
        wipe_dir();
    }
    return 0;
}
