/* The public API as a careless host calls it: NULL for each pointer argument in turn, empty and
 * over-long strings, huge sizes, unknown enum values and flags, a handle of another store, a read
 * transaction given to a write call, an iterator after its transaction. The rule for every call:
 * no crash and nothing ASan/UBSan would report, a non-zero code, and a fresh message (ent_errmsg())
 * that names the argument at fault. Calls that return no code (accessors, free functions) must
 * give their documented neutral answer.
 *
 * One table, PROBES below, one row per misuse: a name, the call (an expression over the fixture
 * `f`), the code it must return and a text its message must hold. Each row runs in a child process
 * of its own with a fresh fixture, so a crash fails that row by name and the others still run. A
 * public function added later gets its rows here. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static const char MISUSE_SCHEMA[] =
    "{\"schema\":\"misuse\",\"version\":1,\"types\":{"
    "\"customer\":{\"key\":\"auto\",\"fields\":{"
    "\"email\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
    "\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "\"blob\":{\"id\":3,\"type\":\"bytes\"},"
    "\"tags\":{\"id\":4,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"dims\":{\"id\":5,\"type\":\"map\",\"fields\":{\"w\":{\"id\":1,\"type\":\"float\"}}}}},"
    "\"product\":{\"key\":\"string\",\"fields\":{"
    "\"price\":{\"id\":1,\"type\":\"float\"}}},"
    "\"order\":{\"key\":\"auto\",\"fields\":{"
    "\"customer\":{\"id\":1,\"type\":\"ref\",\"to\":\"customer\"},"
    "\"product\":{\"id\":2,\"type\":\"ref\",\"to\":\"product\"}}}}}";

static const char OTHER_SCHEMA[] =
    "{\"schema\":\"other\",\"version\":1,\"types\":{\"other\":{\"key\":\"auto\",\"fields\":{}}}}";

/* What every row may use: a memory store `s` holding customer 1 (event seq 1), a second store
 * `s2` of the same schema, their types and fields, an entity `e` of customer, a loaded schema. */
typedef struct fixture {
    ent_schema *sc, *sc_other;
    ent_store *s, *s2;
    const ent_type *cust, *prod, *cust2, *other; /* other: of sc_other, a schema no store has */
    const ent_field *email, *n, *blob, *tags, *dims, *ref, *email2;
    const ent_field *pref; /* order.product: a ref to string keys */
    ent_entity *e;
    ent_key k1;
    ent_value v;
    union {
        void *p;
        uint64_t u;
        ent_store_info info;
    } o1, o2; /* where a row's call writes an output it should not get to */
    char big[70000]; /* an over-long string: longer than any name, key or path limit */
} fixture;

static void fx_close(fixture *f)
{
    ent_entity_free(f->e);
    ent_store_close(f->s);
    ent_store_close(f->s2);
    ent_schema_free(f->sc);
    ent_schema_free(f->sc_other);
}

static int fx_open(fixture *f)
{
    ent_store_opts mem = ENT_STORE_OPTS_INIT;
    mem.backend = "memory";
    memset(f, 0, sizeof *f);
    memset(f->big, 'a', sizeof f->big - 1);
    if (ent_schema_load_json(&f->sc, MISUSE_SCHEMA, strlen(MISUSE_SCHEMA), "misuse")) return -1;
    if (ent_schema_load_json(&f->sc_other, OTHER_SCHEMA, strlen(OTHER_SCHEMA), "other")) return -1;
    f->other = ent_schema_type(f->sc_other, "other");
    if (ent_store_open(&f->s, NULL, f->sc, &mem) || ent_store_open(&f->s2, NULL, f->sc, &mem)) return -1;
    f->cust = ent_store_type(f->s, "customer");
    f->prod = ent_store_type(f->s, "product");
    f->cust2 = ent_store_type(f->s2, "customer");
    f->email = ent_type_field(f->cust, "email");
    f->n = ent_type_field(f->cust, "n");
    f->blob = ent_type_field(f->cust, "blob");
    f->tags = ent_type_field(f->cust, "tags");
    f->dims = ent_type_field(f->cust, "dims");
    f->ref = ent_type_field(ent_store_type(f->s, "order"), "customer");
    f->pref = ent_type_field(ent_store_type(f->s, "order"), "product");
    f->email2 = ent_type_field(f->cust2, "email");
    if (ent_entity_new(&f->e, f->cust) || ent_entity_set_string(f->e, "email", "a@b") ||
        ent_entity_set_int(f->e, "n", 1) || ent_create(f->s, NULL, f->e))
        return -1;
    f->k1 = ent_key_id(1);
    f->v = ent_value_int(1);
    return 0;
}

/* ---- helpers for rows that need more than one call ------------------------------------------ */

#define NEUTRAL(cond) ((cond) ? ENT_OK : -100) /* -100: a wrong neutral answer */

static int with_rtxn(fixture *f, int (*fn)(fixture *, ent_txn *))
{
    ent_txn *t;
    int rc = ent_txn_begin(&t, f->s, ENT_TXN_READ);
    if (rc) return -101;
    rc = fn(f, t);
    ent_txn_abort(t);
    return rc;
}
static int with_s2_wtxn(fixture *f, int (*fn)(fixture *, ent_txn *))
{
    ent_txn *t;
    int rc = ent_txn_begin(&t, f->s2, ENT_TXN_WRITE);
    if (rc) return -101;
    rc = fn(f, t);
    ent_txn_abort(t);
    return rc;
}
static int r_create(fixture *f, ent_txn *t) { return ent_create(f->s, t, f->e); }
static int r_replace(fixture *f, ent_txn *t) { return ent_replace(f->s, t, f->e, ENT_VERSION_ANY); }
static int r_update(fixture *f, ent_txn *t) { return ent_update(f->s, t, f->e, ENT_VERSION_ANY); }
static int r_upsert(fixture *f, ent_txn *t) { return ent_upsert(f->s, t, f->e, ENT_VERSION_ANY); }
static int r_delete(fixture *f, ent_txn *t) { return ent_delete(f->s, t, f->cust, &f->k1, ENT_VERSION_ANY); }
static int r_restore(fixture *f, ent_txn *t) { return ent_restore(f->s, t, f->e); }
static int r_ack(fixture *f, ent_txn *t)
{
    if (ent_sub_create(f->s, "c", 0)) return -101;
    return ent_sub_ack(f->s, t, "c", 1);
}
static int r_skip(fixture *f, ent_txn *t) { (void)f; return ent_txn_skip_ref_checks(t); }
static int r_fwd(fixture *f, ent_txn *t) { (void)f; return ent_txn_restore_forward(t); }
static int r_defer(fixture *f, ent_txn *t) { (void)f; return ent_txn_defer_ref_checks(t); }
static int r_get(fixture *f, ent_txn *t)
{
    ent_entity *o = NULL;
    int rc = ent_get(&o, f->s, t, f->cust, &f->k1);
    ent_entity_free(o);
    return rc;
}
static int r_count(fixture *f, ent_txn *t)
{
    uint64_t n;
    return ent_count(&n, f->s, t, f->cust);
}

/* An iterator whose transaction ended: next and more refuse it (store.h). */
static int iter_after_txn(fixture *f, int more)
{
    ent_txn *t;
    ent_iter *it;
    ent_entity *o = NULL;
    int rc;
    if (ent_txn_begin(&t, f->s, ENT_TXN_READ) || ent_scan(&it, f->s, t, f->cust, NULL, NULL)) return -101;
    ent_txn_abort(t);
    rc = more ? ent_iter_more(it) : ent_iter_next(&o, it);
    ent_entity_free(o);
    ent_iter_free(it);
    return rc;
}

static int iter_next_null_out(fixture *f)
{
    ent_iter *it;
    int rc;
    if (ent_scan(&it, f->s, NULL, f->cust, NULL, NULL)) return -101;
    rc = ent_iter_next(NULL, it);
    ent_iter_free(it);
    return rc;
}

static int range_opts(fixture *f, unsigned version, unsigned flags, const char *resume)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    int rc;
    o.version = version;
    o.flags = flags;
    o.resume = resume;
    rc = ent_range(&it, f->s, NULL, f->n, &o);
    ent_iter_free(it);
    return rc;
}

static int scan_opts(fixture *f, unsigned version, unsigned flags, const ent_key *start)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    int rc;
    o.version = version;
    o.flags = flags;
    rc = ent_scan(&it, f->s, NULL, f->cust, start, &o);
    ent_iter_free(it);
    return rc;
}

static int scan_resume(fixture *f, const char *resume)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    int rc;
    o.resume = resume;
    rc = ent_scan(&it, f->s, NULL, f->cust, NULL, &o);
    ent_iter_free(it);
    return rc;
}

static int find_value(fixture *f, const ent_field *fld, ent_value v)
{
    ent_iter *it = NULL;
    int rc = ent_find(&it, f->s, NULL, fld, &v);
    ent_iter_free(it);
    return rc;
}

/* A range of fld bounded by from (which 0) or to (which 1). */
static int range_bound(fixture *f, const ent_field *fld, int which, ent_value v)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    int rc;
    if (which) o.to = &v;
    else o.from = &v;
    rc = ent_range(&it, f->s, NULL, fld, &o);
    ent_iter_free(it);
    return rc;
}

static int open_opts(int version, const char *backend, int durability, size_t map_size)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    int rc;
    o.version = (unsigned)version;
    o.backend = backend;
    o.durability = durability;
    o.map_size = map_size;
    if (ent_schema_load_json(&sc, MISUSE_SCHEMA, strlen(MISUSE_SCHEMA), "misuse")) return -101;
    rc = ent_store_open(&s, NULL, sc, &o);
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

static int open_lmdb_map(fixture *f, size_t map_size)
{
    char dir[ENT_TEST_PATH_MAX];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    int rc;
    if (ent_test_mkdtemp(dir, sizeof dir, "misuse")) return -101;
    o.map_size = map_size;
    rc = ent_store_open(&s, dir, f->sc, &o);
    ent_store_close(s);
    ent_test_rm_rf(dir);
    return rc;
}

static int key_get(fixture *f, ent_key k)
{
    ent_entity *o = NULL;
    int rc = ent_get(&o, f->s, NULL, f->cust, &k);
    ent_entity_free(o);
    return rc;
}

static int set_key(fixture *f, ent_key k)
{
    return ent_entity_set_key(f->e, &k);
}

/* A string key on product (string keys): set on an entity, and looked up. */
static int prod_key(fixture *f, ent_key k, int get)
{
    ent_entity *e = NULL;
    int rc;
    if (get) {
        rc = ent_get(&e, f->s, NULL, f->prod, &k);
    } else {
        if (ent_entity_new(&e, f->prod)) return -101;
        rc = ent_entity_set_key(e, &k);
    }
    ent_entity_free(e);
    return rc;
}

static int copy_memory(fixture *f)
{
    char dir[ENT_TEST_PATH_MAX];
    int rc;
    if (ent_test_mkdtemp(dir, sizeof dir, "misuse")) return -101;
    rc = ent_store_copy(f->s, dir, 0);
    ent_test_rm_rf(dir);
    return rc;
}

static int scan_type(fixture *f, const ent_type *t)
{
    ent_iter *it = NULL;
    int rc = ent_scan(&it, f->s, NULL, t, NULL, NULL);
    ent_iter_free(it);
    return rc;
}
static int r_delete_other(fixture *f, ent_txn *t) { return ent_delete(f->s, t, f->cust, &f->k1, ENT_VERSION_ANY); }
static int r_count_other(fixture *f, ent_txn *t)
{
    uint64_t n;
    return ent_count(&n, f->s, t, f->cust);
}
static int r_scan_other(fixture *f, ent_txn *t)
{
    ent_iter *it = NULL;
    int rc = ent_scan(&it, f->s, t, f->cust, NULL, NULL);
    ent_iter_free(it);
    return rc;
}
static int empty_json(fixture *f, int which)
{
    ent_entity *e = NULL;
    ent_event *ev = NULL;
    int rc;
    switch (which) {
    case 0: rc = ent_entity_from_json(&e, f->cust, "", 0); break;
    case 1: rc = ent_entity_patch_json(f->e, "", 0); break;
    case 2: rc = ent_entity_apply_kinds(f->e, "", 0); break;
    case 5: rc = ent_entity_json_patch(f->e, "", 0); break;
    case 3: rc = ent_event_from_json(&ev, f->sc, "", 0); break;
    default: rc = ent_entity_set_json(f->e, "n", ""); break;
    }
    ent_entity_free(e);
    ent_event_free(ev);
    return rc;
}
static int path_big(fixture *f, int which)
{
    ent_schema *sc = NULL;
    ent_store *st = NULL;
    int rc;
    f->big[5000] = 0;
    if (which == 0) rc = ent_schema_load_file(&sc, f->big);
    else if (which == 1) rc = ent_store_open(&st, f->big, f->sc, NULL);
    else rc = ent_mirror_open(&st, "x", f->big, f->sc, NULL);
    ent_schema_free(sc);
    ent_store_close(st);
    return rc;
}

static int sub_name_big(fixture *f)
{
    f->big[201] = 0;
    return ent_sub_create(f->s, f->big, 0);
}

static int unsealed_entity(void)
{
    ent_schema *sc;
    ent_type *t;
    ent_entity *e = NULL;
    int rc;
    if (ent_schema_new(&sc, "x", 1) || ent_schema_add_type(&t, sc, "t", ENT_KEY_AUTO)) return -101;
    rc = ent_entity_new(&e, t);
    ent_entity_free(e);
    ent_schema_free(sc);
    return rc;
}

/* A new unsealed schema with type t and field f of `kind`, for the builder rows. */
static ent_schema *builder(ent_type **t, ent_field **fld, ent_kind kind)
{
    ent_schema *sc;
    if (ent_schema_new(&sc, "b", 1)) return NULL;
    if (ent_schema_add_type(t, sc, "t", ENT_KEY_AUTO) || ent_type_add_field(fld, *t, "f", 1, kind)) {
        ent_schema_free(sc);
        return NULL;
    }
    return sc;
}
static int build_type_field(const char *name, unsigned id, ent_kind kind)
{
    ent_type *t;
    ent_field *fl;
    ent_schema *sc = builder(&t, &fl, ENT_KIND_INT);
    int rc;
    if (!sc) return -101;
    rc = ent_type_add_field(NULL, t, name, id, kind);
    ent_schema_free(sc);
    return rc;
}
static int build_add_type(const char *name, ent_key_kind key)
{
    ent_schema *sc;
    int rc;
    if (ent_schema_new(&sc, "b", 1)) return -101;
    rc = ent_schema_add_type(NULL, sc, name, key);
    ent_schema_free(sc);
    return rc;
}
static int build_items(ent_kind kind)
{
    ent_type *t;
    ent_field *fl;
    ent_schema *sc = builder(&t, &fl, ENT_KIND_ARRAY);
    int rc;
    if (!sc) return -101;
    rc = ent_field_set_items(NULL, fl, kind);
    ent_schema_free(sc);
    return rc;
}
static int build_sub(const char *name, ent_kind kind)
{
    ent_type *t;
    ent_field *fl;
    ent_schema *sc = builder(&t, &fl, ENT_KIND_MAP);
    int rc;
    if (!sc) return -101;
    rc = ent_field_add_field(NULL, fl, name, 1, kind);
    ent_schema_free(sc);
    return rc;
}
static int build_str(int which)
{
    ent_type *t;
    ent_field *fl;
    ent_schema *sc = builder(&t, &fl, which == 1 ? ENT_KIND_REF : ENT_KIND_STRING);
    int rc;
    if (!sc) return -101;
    rc = which == 0 ? ent_field_add_enum(fl, NULL) : which == 1 ? ent_field_set_ref(fl, NULL)
                                                              : ent_field_set_default_json(fl, NULL);
    ent_schema_free(sc);
    return rc;
}

static int event_of(fixture *f, int (*fn)(fixture *, ent_event *))
{
    ent_event *ev;
    int rc;
    if (ent_log_get(&ev, f->s, NULL, 1)) return -101;
    rc = fn(f, ev);
    ent_event_free(ev);
    return rc;
}
static int ev_json_null_out(fixture *f, ent_event *ev) { (void)f; return ent_event_to_json(NULL, ev, 0); }
static int ev_apply_plain(fixture *f, ent_event *ev) { return ent_mirror_apply(f->s, &ev, 1, 0); }
static int ev_written_null_out(fixture *f, ent_event *ev) { return ent_event_as_written(NULL, f->s, ev); }
static int ev_written_null_s(fixture *f, ent_event *ev) { return ent_event_as_written((ent_event **)&f->o1, NULL, ev); }
static int ev_written_no_type(fixture *f, ent_event *ev)
{
    ev->type = NULL;
    return ent_event_as_written((ent_event **)&f->o1, f->s, ev);
}

static int ev_json_flags(fixture *f, ent_event *ev) { return ent_event_to_json((char **)&f->o1, ev, 0x80); }

static int cursor_null_out(fixture *f)
{
    ent_log_cursor *c;
    int rc;
    if (ent_log_cursor_open(&c, f->s, 1, NULL, 0)) return -101;
    rc = ent_log_next(NULL, c);
    ent_log_cursor_free(c);
    return rc;
}

static int apply_null_item(fixture *f)
{
    ent_event *evs[1] = {NULL};
    return ent_mirror_apply(f->s, evs, 1, 0);
}

static void progress_cb(const char *what, uint64_t done, void *payload)
{
    (void)what;
    (void)done;
    (void)payload;
}
static void event_cb(const ent_event *ev, void *payload)
{
    (void)ev;
    (void)payload;
}
static int txn_fn_positive(ent_txn *txn, void *payload)
{
    (void)txn;
    (void)payload;
    return 5; /* neither ENT_OK nor a code */
}
static int txn_fn(ent_txn *txn, void *payload)
{
    (void)txn;
    (void)payload;
    return ENT_OK;
}

static const char *volatile null_fmt = NULL; /* not a literal: the compiler would see it */
/* ent_error_set(code, NULL) through a pointer, which carries no format attribute: clang's
 * -Wformat-security refuses a format that is no literal (CI's clang build stopped on it). */
static int error_set_null_fmt(void)
{
    int (*set)(int, const char *, ...) = ent_error_set;
    return set(ENT_INVALID, null_fmt);
}

/* ---- the table ----------------------------------------------------------------------------- */

/* X(name, call, code, text): `call` runs with fixture `f`; it must return `code`, and, when code is
 * not ENT_OK, leave a message holding `text`. */
#define PROBES(X)                                                                                  \
    /* error.h */                                                                                  \
    X(strerror_unknown, NEUTRAL(ent_strerror(12345) && ent_strerror(INT_MIN)[0]), ENT_OK, NULL)   \
    X(error_set_null_fmt, error_set_null_fmt(), ENT_INVALID, "")                                                      \
    X(error_set_detail_bad, (ent_error_set_detail(ENT_FULL, 77, "x"), NEUTRAL(ent_errdetail() == 0)), \
      ENT_OK, NULL)                                                                                \
    X(version_nulls, NEUTRAL(ent_version(NULL, NULL, NULL) != NULL), ENT_OK, NULL)                 \
    /* schema.h: loading */                                                                        \
    X(schema_load_file_out, ent_schema_load_file(NULL, "x.json"), ENT_INVALID, "out is NULL")              \
    X(schema_load_file_path, ent_schema_load_file((ent_schema **)&f->o1, NULL), ENT_INVALID, "path is NULL")             \
    X(schema_load_file_empty, ent_schema_load_file((ent_schema **)&f->o1, ""), ENT_INVALID, "path is empty")               \
    X(schema_load_json_out, ent_schema_load_json(NULL, "{}", 2, NULL), ENT_INVALID, "out is NULL")         \
    X(schema_load_json_json, ent_schema_load_json((ent_schema **)&f->o1, NULL, 2, NULL), ENT_INVALID, "no JSON text")     \
    X(schema_load_json_empty, ent_schema_load_json((ent_schema **)&f->o1, "", 0, NULL), ENT_SCHEMA, "")           \
    X(schema_to_json_out, ent_schema_to_json(NULL, f->sc, 0), ENT_INVALID, "out is NULL")                  \
    X(schema_to_json_schema, ent_schema_to_json((char **)&f->o1, NULL, 0), ENT_INVALID, "schema is NULL")  \
    X(schema_compare_prev, ent_schema_compare(NULL, f->sc), ENT_INVALID, "prev is NULL")                 \
    X(schema_compare_next, ent_schema_compare(f->sc, NULL), ENT_INVALID, "next is NULL")                 \
    /* schema.h: building */                                                                       \
    X(schema_new_out, ent_schema_new(NULL, "x", 1), ENT_INVALID, "out is NULL")                            \
    X(schema_new_name, ent_schema_new((ent_schema **)&f->o1, NULL, 1), ENT_SCHEMA, "name")                       \
    X(schema_new_empty, ent_schema_new((ent_schema **)&f->o1, "", 1), ENT_SCHEMA, "name")                        \
    X(schema_new_long, ent_schema_new((ent_schema **)&f->o1, f->big, 1), ENT_SCHEMA, "name")                     \
    X(schema_new_version0, ent_schema_new((ent_schema **)&f->o1, "x", 0), ENT_SCHEMA, "version")                 \
    X(schema_free_null, (ent_schema_free(NULL), ENT_OK), ENT_OK, NULL)                             \
    X(schema_add_type_schema, ent_schema_add_type(NULL, NULL, "t", ENT_KEY_AUTO), ENT_INVALID, "schema is NULL") \
    X(schema_add_type_name, build_add_type(NULL, ENT_KEY_AUTO), ENT_SCHEMA, "name")                \
    X(schema_add_type_long, build_add_type(f->big, ENT_KEY_AUTO), ENT_SCHEMA, "name")              \
    X(schema_add_type_key, build_add_type("t", (ent_key_kind)7), ENT_SCHEMA, "key")                \
    X(schema_add_type_sealed, ent_schema_add_type(NULL, f->sc, "t2", ENT_KEY_AUTO), ENT_SCHEMA, "sealed") \
    X(type_add_field_type, ent_type_add_field(NULL, NULL, "f", 1, ENT_KIND_INT), ENT_INVALID, "type is NULL") \
    X(type_add_field_name, build_type_field(NULL, 2, ENT_KIND_INT), ENT_SCHEMA, "name")            \
    X(type_add_field_id0, build_type_field("g", 0, ENT_KIND_INT), ENT_SCHEMA, "id")                \
    X(type_add_field_idbig, build_type_field("g", 70000, ENT_KIND_INT), ENT_SCHEMA, "id")          \
    X(type_add_field_kind, build_type_field("g", 2, (ent_kind)99), ENT_SCHEMA, "kind")             \
    X(type_add_field_kind_neg, build_type_field("g", 2, (ent_kind)-1), ENT_SCHEMA, "kind")         \
    X(field_add_field_map, ent_field_add_field(NULL, NULL, "f", 1, ENT_KIND_INT), ENT_INVALID, "field is NULL") \
    X(field_add_field_name, build_sub(NULL, ENT_KIND_INT), ENT_SCHEMA, "name")                     \
    X(field_add_field_kind, build_sub("g", (ent_kind)99), ENT_SCHEMA, "kind")                      \
    X(field_set_items_array, ent_field_set_items(NULL, NULL, ENT_KIND_INT), ENT_INVALID, "field is NULL")  \
    X(field_set_items_kind, build_items((ent_kind)99), ENT_SCHEMA, "kind")                         \
    X(field_set_required_f, ent_field_set_required(NULL, 1), ENT_INVALID, "field is NULL")                 \
    X(field_set_unique_f, ent_field_set_unique(NULL, 1), ENT_INVALID, "field is NULL")                     \
    X(field_set_indexed_f, ent_field_set_indexed(NULL, 1), ENT_INVALID, "field is NULL")                   \
    X(field_set_min_int_f, ent_field_set_min_int(NULL, 1), ENT_INVALID, "field is NULL")                   \
    X(field_set_max_int_f, ent_field_set_max_int(NULL, 1), ENT_INVALID, "field is NULL")                   \
    X(field_set_min_uint_f, ent_field_set_min_uint(NULL, 1), ENT_INVALID, "field is NULL")                 \
    X(field_set_max_uint_f, ent_field_set_max_uint(NULL, 1), ENT_INVALID, "field is NULL")                 \
    X(field_set_min_float_f, ent_field_set_min_float(NULL, 1), ENT_INVALID, "field is NULL")               \
    X(field_set_max_float_f, ent_field_set_max_float(NULL, 1), ENT_INVALID, "field is NULL")               \
    X(field_set_max_length_f, ent_field_set_max_length(NULL, 1), ENT_INVALID, "field is NULL")             \
    X(field_add_enum_f, ent_field_add_enum(NULL, "x"), ENT_INVALID, "field is NULL")                       \
    X(field_add_enum_value, build_str(0), ENT_SCHEMA, "enum")                                      \
    X(field_set_ref_f, ent_field_set_ref(NULL, "x"), ENT_INVALID, "field is NULL")                         \
    X(field_set_ref_name, build_str(1), ENT_SCHEMA, "type name is NULL")                                        \
    X(field_set_default_f, ent_field_set_default_json(NULL, "1"), ENT_INVALID, "field is NULL")            \
    X(field_set_default_json, build_str(2), ENT_SCHEMA, "default")                                 \
    X(schema_check_null, ent_schema_check(NULL), ENT_INVALID, "schema is NULL")                            \
    /* schema.h: reading (neutral answers) */                                                      \
    X(schema_name_null, NEUTRAL(ent_schema_name(NULL) == NULL), ENT_OK, NULL)                      \
    X(schema_version_null, NEUTRAL(ent_schema_version(NULL) == 0), ENT_OK, NULL)                   \
    X(schema_type_count_null, NEUTRAL(ent_schema_type_count(NULL) == 0), ENT_OK, NULL)             \
    X(schema_type_at_null, NEUTRAL(!ent_schema_type_at(NULL, 0) && !ent_schema_type_at(f->sc, SIZE_MAX)), \
      ENT_OK, NULL)                                                                                \
    X(schema_type_null, NEUTRAL(!ent_schema_type(NULL, "x") && !ent_schema_type(f->sc, NULL) &&   \
                                !ent_schema_type(f->sc, f->big) && !ent_schema_type(f->sc, "")),   \
      ENT_OK, NULL)                                                                                \
    X(type_name_null, NEUTRAL(ent_type_name(NULL) == NULL), ENT_OK, NULL)                          \
    X(type_key_null, NEUTRAL(ent_type_key(NULL) == ENT_KEY_NONE), ENT_OK, NULL)                    \
    X(type_schema_null, NEUTRAL(ent_type_schema(NULL) == NULL), ENT_OK, NULL)                      \
    X(type_field_count_null, NEUTRAL(ent_type_field_count(NULL) == 0), ENT_OK, NULL)               \
    X(type_field_at_null, NEUTRAL(!ent_type_field_at(NULL, 0) && !ent_type_field_at(f->cust, SIZE_MAX)), \
      ENT_OK, NULL)                                                                                \
    X(type_field_null, NEUTRAL(!ent_type_field(NULL, "x") && !ent_type_field(f->cust, NULL) &&    \
                               !ent_type_field(f->cust, f->big) && !ent_type_field(f->cust, "")),  \
      ENT_OK, NULL)                                                                                \
    X(type_field_by_id_null, NEUTRAL(!ent_type_field_by_id(NULL, 1) && !ent_type_field_by_id(f->cust, 0) && \
                                     !ent_type_field_by_id(f->cust, UINT_MAX)),                    \
      ENT_OK, NULL)                                                                                \
    X(field_name_null, NEUTRAL(ent_field_name(NULL) == NULL), ENT_OK, NULL)                        \
    X(field_id_null, NEUTRAL(ent_field_id(NULL) == 0), ENT_OK, NULL)                               \
    X(field_kind_null, NEUTRAL(ent_field_kind(NULL) == ENT_KIND_NIL), ENT_OK, NULL)                \
    X(field_is_required_null, NEUTRAL(ent_field_is_required(NULL) == 0), ENT_OK, NULL)             \
    X(field_is_unique_null, NEUTRAL(ent_field_is_unique(NULL) == 0), ENT_OK, NULL)                 \
    X(field_is_indexed_null, NEUTRAL(ent_field_is_indexed(NULL) == 0), ENT_OK, NULL)               \
    X(field_has_default_null, NEUTRAL(ent_field_has_default(NULL) == 0), ENT_OK, NULL)             \
    X(field_items_null, NEUTRAL(ent_field_items(NULL) == NULL), ENT_OK, NULL)                      \
    X(field_field_count_null, NEUTRAL(ent_field_field_count(NULL) == 0), ENT_OK, NULL)             \
    X(field_field_at_null, NEUTRAL(!ent_field_field_at(NULL, 0) && !ent_field_field_at(f->dims, SIZE_MAX)), \
      ENT_OK, NULL)                                                                                \
    X(field_field_null, NEUTRAL(!ent_field_field(NULL, "w") && !ent_field_field(f->dims, NULL) &&  \
                                !ent_field_field(f->dims, f->big)),                                \
      ENT_OK, NULL)                                                                                \
    X(field_ref_type_null, NEUTRAL(ent_field_ref_type(NULL) == NULL), ENT_OK, NULL)                \
    X(field_parent_null, NEUTRAL(ent_field_parent(NULL) == NULL), ENT_OK, NULL)                    \
    X(field_type_null, NEUTRAL(ent_field_type(NULL) == NULL), ENT_OK, NULL)                        \
    X(kind_name_bad, NEUTRAL(!ent_kind_name((ent_kind)99) && !ent_kind_name((ent_kind)-1)), ENT_OK, NULL) \
    /* value.h: life cycle */                                                                      \
    X(key_str_null, NEUTRAL(ent_key_str(NULL).len == 0), ENT_OK, NULL)                             \
    X(entity_new_out, ent_entity_new(NULL, f->cust), ENT_INVALID, "out is NULL")                           \
    X(entity_new_type, ent_entity_new((ent_entity **)&f->o1, NULL), ENT_INVALID, "type is NULL")                           \
    X(entity_new_unsealed, unsealed_entity(), ENT_INVALID, "sealed")                               \
    X(entity_dup_out, ent_entity_dup(NULL, f->e), ENT_INVALID, "out is NULL")                              \
    X(entity_dup_e, ent_entity_dup((ent_entity **)&f->o1, NULL), ENT_INVALID, "entity is NULL")                            \
    X(entity_free_null, (ent_entity_free(NULL), ENT_OK), ENT_OK, NULL)                             \
    X(entity_type_null, NEUTRAL(ent_entity_type(NULL) == NULL), ENT_OK, NULL)                      \
    X(entity_version_null, NEUTRAL(ent_entity_version(NULL) == 0), ENT_OK, NULL)                   \
    X(entity_key_null, NEUTRAL(ent_entity_key(NULL).kind == ENT_KEY_NONE), ENT_OK, NULL)           \
    X(entity_set_version_e, ent_entity_set_version(NULL, 1), ENT_INVALID, "entity is NULL")                \
    X(entity_set_version_0, ent_entity_set_version(f->e, 0), ENT_INVALID, "version")               \
    X(entity_set_version_any, ent_entity_set_version(f->e, ENT_VERSION_ANY), ENT_INVALID, "version") \
    X(entity_set_key_e, ent_entity_set_key(NULL, &f->k1), ENT_INVALID, "entity is NULL")                   \
    X(entity_set_key_key, ent_entity_set_key(f->e, NULL), ENT_INVALID, "key is NULL")                      \
    X(entity_set_key_kind, set_key(f, ent_key_str("x")), ENT_INVALID, "key kind does not match")                       \
    X(entity_set_key_badkind, set_key(f, (ent_key){(ent_key_kind)9, 1, NULL, 0}), ENT_INVALID, "key kind does not match") \
    X(entity_set_key_id0, set_key(f, ent_key_id(0)), ENT_INVALID, "key id 0")                           \
    /* value.h: fields by path */                                                                  \
    X(set_bool_e, ent_entity_set_bool(NULL, "x", 1), ENT_INVALID, "entity is NULL")                        \
    X(set_int_e, ent_entity_set_int(NULL, "n", 1), ENT_INVALID, "entity is NULL")                          \
    X(set_int_path, ent_entity_set_int(f->e, NULL, 1), ENT_INVALID, "path is NULL")                        \
    X(set_int_empty, ent_entity_set_int(f->e, "", 1), ENT_INVALID, "empty field name")                         \
    X(set_int_long, ent_entity_set_int(f->e, f->big, 1), ENT_NOTFOUND, "")                         \
    X(set_uint_e, ent_entity_set_uint(NULL, "n", 1), ENT_INVALID, "entity is NULL")                        \
    X(set_float_e, ent_entity_set_float(NULL, "n", 1), ENT_INVALID, "entity is NULL")                      \
    X(set_string_e, ent_entity_set_string(NULL, "email", "x"), ENT_INVALID, "entity is NULL")              \
    X(set_string_path, ent_entity_set_string(f->e, NULL, "x"), ENT_INVALID, "path is NULL")                \
    X(set_string_v, ent_entity_set_string(f->e, "email", NULL), ENT_INVALID, "NULL")               \
    X(set_stringn_v, ent_entity_set_stringn(f->e, "email", NULL, 5), ENT_INVALID, "NULL")          \
    X(set_bytes_e, ent_entity_set_bytes(NULL, "blob", "x", 1), ENT_INVALID, "entity is NULL")              \
    X(set_bytes_v, ent_entity_set_bytes(f->e, "blob", NULL, 5), ENT_INVALID, "NULL")               \
    X(set_timestamp_e, ent_entity_set_timestamp(NULL, "n", 1), ENT_INVALID, "entity is NULL")              \
    X(set_json_e, ent_entity_set_json(NULL, "n", "1"), ENT_INVALID, "entity is NULL")                      \
    X(set_json_json, ent_entity_set_json(f->e, "n", NULL), ENT_INVALID, "JSON is NULL")                    \
    X(set_json_path, ent_entity_set_json(f->e, NULL, "1"), ENT_INVALID, "path is NULL")                    \
    X(unset_e, ent_entity_unset(NULL, "n"), ENT_INVALID, "entity is NULL")                                 \
    X(unset_path, ent_entity_unset(f->e, NULL), ENT_INVALID, "path is NULL")                               \
    X(get_bool_out, ent_entity_get_bool(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                      \
    X(get_int_out, ent_entity_get_int(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                        \
    X(get_int_e, ent_entity_get_int((int64_t *)&f->o1, NULL, "n"), ENT_INVALID, "entity is NULL")          \
    X(get_int_path, ent_entity_get_int((int64_t *)&f->o1, f->e, NULL), ENT_INVALID, "path is NULL")        \
    X(get_uint_out, ent_entity_get_uint(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                      \
    X(get_float_out, ent_entity_get_float(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                    \
    X(get_string_out, ent_entity_get_string(NULL, NULL, f->e, "email"), ENT_INVALID, "out is NULL")        \
    X(get_bytes_out, ent_entity_get_bytes(NULL, NULL, f->e, "blob"), ENT_INVALID, "out is NULL")           \
    X(get_timestamp_out, ent_entity_get_timestamp(NULL, f->e, "n"), ENT_INVALID, "out is NULL")            \
    X(get_json_out, ent_entity_get_json(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                      \
    X(get_json_e, ent_entity_get_json((char **)&f->o1, NULL, "n"), ENT_INVALID, "entity is NULL")          \
    X(has_null, NEUTRAL(ent_entity_has(NULL, "n") == 0 && ent_entity_has(f->e, NULL) == 0), ENT_OK, NULL) \
    X(kind_out, ent_entity_kind(NULL, f->e, "n"), ENT_INVALID, "out is NULL")                              \
    X(kind_e, ent_entity_kind((ent_kind *)&f->o1, NULL, "n"), ENT_INVALID, "entity is NULL")               \
    X(kind_path, ent_entity_kind((ent_kind *)&f->o1, f->e, NULL), ENT_INVALID, "path is NULL")             \
    /* value.h: fields by handle */                                                                \
    X(field_set_int_e, ent_entity_field_set_int(NULL, f->n, 1), ENT_INVALID, "entity is NULL")             \
    X(field_set_int_f, ent_entity_field_set_int(f->e, NULL, 1), ENT_INVALID, "field handle is NULL")              \
    X(field_set_int_other, ent_entity_field_set_int(f->e, ent_type_field(f->prod, "price"), 1), ENT_INVALID, "") \
    X(field_set_bool_e, ent_entity_field_set_bool(NULL, f->n, 1), ENT_INVALID, "entity is NULL")           \
    X(field_set_uint_e, ent_entity_field_set_uint(NULL, f->n, 1), ENT_INVALID, "entity is NULL")           \
    X(field_set_float_e, ent_entity_field_set_float(NULL, f->n, 1), ENT_INVALID, "entity is NULL")         \
    X(field_set_string_e, ent_entity_field_set_string(NULL, f->email, "x", 1), ENT_INVALID, "entity is NULL") \
    X(field_set_string_v, ent_entity_field_set_string(f->e, f->email, NULL, 5), ENT_INVALID, "NULL") \
    X(field_set_bytes_v, ent_entity_field_set_bytes(f->e, f->blob, NULL, 5), ENT_INVALID, "NULL")  \
    X(field_set_timestamp_e, ent_entity_field_set_timestamp(NULL, f->n, 1), ENT_INVALID, "entity is NULL") \
    X(field_unset_e, ent_entity_field_unset(NULL, f->n), ENT_INVALID, "entity is NULL")                    \
    X(field_unset_f, ent_entity_field_unset(f->e, NULL), ENT_INVALID, "field handle is NULL")                     \
    X(field_get_int_out, ent_entity_field_get_int(NULL, f->e, f->n), ENT_INVALID, "out is NULL")           \
    X(field_get_int_e, ent_entity_field_get_int((int64_t *)&f->o1, NULL, f->n), ENT_INVALID, "entity is NULL") \
    X(field_get_int_f, ent_entity_field_get_int((int64_t *)&f->o1, f->e, NULL), ENT_INVALID, "field handle is NULL") \
    X(field_get_bool_out, ent_entity_field_get_bool(NULL, f->e, f->n), ENT_INVALID, "out is NULL")         \
    X(field_get_uint_out, ent_entity_field_get_uint(NULL, f->e, f->n), ENT_INVALID, "out is NULL")         \
    X(field_get_float_out, ent_entity_field_get_float(NULL, f->e, f->n), ENT_INVALID, "out is NULL")       \
    X(field_get_string_out, ent_entity_field_get_string(NULL, NULL, f->e, f->email), ENT_INVALID, "out is NULL") \
    X(field_get_bytes_out, ent_entity_field_get_bytes(NULL, NULL, f->e, f->blob), ENT_INVALID, "out is NULL") \
    X(field_get_timestamp_out, ent_entity_field_get_timestamp(NULL, f->e, f->n), ENT_INVALID, "out is NULL") \
    X(field_has_null, NEUTRAL(ent_entity_field_has(NULL, f->n) == 0 && ent_entity_field_has(f->e, NULL) == 0), \
      ENT_OK, NULL)                                                                                \
    /* value.h: arrays, changes, records, JSON */                                                  \
    X(array_len_out, ent_entity_array_len(NULL, f->e, "tags"), ENT_INVALID, "out is NULL")                 \
    X(array_len_e, ent_entity_array_len((size_t *)&f->o1, NULL, "tags"), ENT_INVALID, "entity is NULL")    \
    X(array_len_path, ent_entity_array_len((size_t *)&f->o1, f->e, NULL), ENT_INVALID, "path is NULL")     \
    X(array_insert_e, ent_entity_array_insert(NULL, "tags", 0), ENT_INVALID, "entity is NULL")             \
    X(array_insert_huge, ent_entity_array_insert(f->e, "tags", SIZE_MAX), ENT_NOTFOUND, "")        \
    X(array_remove_e, ent_entity_array_remove(NULL, "tags", 0), ENT_INVALID, "entity is NULL")             \
    X(array_remove_huge, ent_entity_array_remove(f->e, "tags", SIZE_MAX), ENT_NOTFOUND, "")        \
    X(changed_null, NEUTRAL(ent_entity_changed(NULL, f->n) == 0 && ent_entity_changed(f->e, NULL) == 0), \
      ENT_OK, NULL)                                                                                \
    X(changed_count_null, NEUTRAL(ent_entity_changed_count(NULL) == 0), ENT_OK, NULL)              \
    X(clear_changed_null, (ent_entity_clear_changed(NULL), ENT_OK), ENT_OK, NULL)                  \
    X(apply_defaults_e, ent_entity_apply_defaults(NULL), ENT_INVALID, "entity is NULL")                    \
    X(validate_e, ent_entity_validate(NULL), ENT_INVALID, "entity is NULL")                                \
    X(encode_out, ent_entity_encode(NULL, (size_t *)&f->o1, f->e), ENT_INVALID, "out is NULL")             \
    X(encode_len, ent_entity_encode((void **)&f->o1, NULL, f->e), ENT_INVALID, "out_len")          \
    X(encode_e, ent_entity_encode((void **)&f->o1, (size_t *)&f->o2, NULL), ENT_INVALID, "entity is NULL") \
    X(decode_out, ent_entity_decode(NULL, f->cust, "\x80", 1), ENT_INVALID, "out is NULL")                 \
    X(decode_type, ent_entity_decode((ent_entity **)&f->o1, NULL, "\x80", 1), ENT_INVALID, "type is NULL")                 \
    X(decode_rec, ent_entity_decode((ent_entity **)&f->o1, f->cust, NULL, 5), ENT_INVALID, "record")               \
    X(to_json_out, ent_entity_to_json(NULL, f->e, 0), ENT_INVALID, "out is NULL")                          \
    X(to_json_e, ent_entity_to_json((char **)&f->o1, NULL, 0), ENT_INVALID, "entity is NULL")              \
    X(to_json_flags, ent_entity_to_json((char **)&f->o1, f->e, 0x80), ENT_INVALID, "unknown flags 0x80")  \
    X(from_json_out, ent_entity_from_json(NULL, f->cust, "{}", 2), ENT_INVALID, "out is NULL")             \
    X(from_json_type, ent_entity_from_json((ent_entity **)&f->o1, NULL, "{}", 2), ENT_INVALID, "type is NULL")             \
    X(from_json_json, ent_entity_from_json((ent_entity **)&f->o1, f->cust, NULL, 2), ENT_INVALID, "JSON is NULL")          \
    X(apply_kinds_e, ent_entity_apply_kinds(NULL, "{}", 2), ENT_INVALID, "entity is NULL")                 \
    X(apply_kinds_json, ent_entity_apply_kinds(f->e, NULL, 2), ENT_INVALID, "JSON is NULL")                \
    X(patch_json_e, ent_entity_patch_json(NULL, "{}", 2), ENT_INVALID, "entity is NULL")                   \
    X(patch_json_json, ent_entity_patch_json(f->e, NULL, 2), ENT_INVALID, "JSON is NULL")                  \
    X(json_patch_e, ent_entity_json_patch(NULL, "[]", 2), ENT_INVALID, "entity is NULL")                   \
    X(json_patch_json, ent_entity_json_patch(f->e, NULL, 2), ENT_INVALID, "JSON is NULL")                  \
    X(json_patch_not_array, ent_entity_json_patch(f->e, "{}", 2), ENT_INVALID, "array of operations")      \
    /* store.h: stores */                                                                          \
    X(store_open_out, ent_store_open(NULL, "x", f->sc, NULL), ENT_INVALID, "out is NULL")                  \
    X(store_open_path, ent_store_open((ent_store **)&f->o1, NULL, f->sc, NULL), ENT_INVALID, "directory path")             \
    X(store_open_version, open_opts(0, "memory", ENT_DURABILITY_STORED, 0), ENT_INVALID, "version") \
    X(store_open_version_new, open_opts(99, "memory", ENT_DURABILITY_STORED, 0), ENT_INVALID, "version") \
    X(store_open_backend, open_opts(1, "nope", ENT_DURABILITY_STORED, 0), ENT_INVALID, "nope")     \
    X(store_open_backend_empty, open_opts(1, "", ENT_DURABILITY_STORED, 0), ENT_INVALID, "backend")   \
    X(store_open_durability, open_opts(1, "memory", 7, 0), ENT_INVALID, "durability")             \
    X(store_open_durability_neg, open_opts(1, "memory", -5, 0), ENT_INVALID, "durability")        \
    X(store_open_map_size, open_opts(1, "lmdb", ENT_DURABILITY_STORED, 1), ENT_INVALID, "map_size 1") \
    X(store_open_map_size_huge, open_lmdb_map(f, SIZE_MAX), ENT_NOMEM, "map_size")               \
    X(store_set_progress_null, (ent_store_set_progress(NULL, progress_cb, NULL), ENT_OK), ENT_OK, NULL) \
    X(store_close_null, (ent_store_close(NULL), ENT_OK), ENT_OK, NULL)                             \
    X(store_schema_null, NEUTRAL(ent_store_schema(NULL) == NULL), ENT_OK, NULL)                    \
    X(store_type_null, NEUTRAL(!ent_store_type(NULL, "customer") && !ent_store_type(f->s, NULL) && \
                               !ent_store_type(f->s, f->big)),                                     \
      ENT_OK, NULL)                                                                                \
    X(store_backend_null, NEUTRAL(ent_store_backend(NULL) && !ent_store_backend(NULL)[0]), ENT_OK, NULL) \
    X(store_durability_null, NEUTRAL(ent_store_durability(NULL) == ENT_DURABILITY_STORED), ENT_OK, NULL) \
    X(store_sync_null, ent_store_sync(NULL), ENT_INVALID, "store is NULL")                                 \
    X(store_path_null, NEUTRAL(ent_store_path(NULL) && !ent_store_path(NULL)[0]), ENT_OK, NULL)                        \
    X(store_id_null, NEUTRAL(ent_store_id(NULL) && !ent_store_id(NULL)[0]), ENT_OK, NULL)                            \
    X(store_mirror_of_null, NEUTRAL(ent_store_mirror_of(NULL) == NULL), ENT_OK, NULL)              \
    X(store_copy_s, ent_store_copy(NULL, "x", 0), ENT_INVALID, "store is NULL")                            \
    X(store_copy_dest, ent_store_copy(f->s, NULL, 0), ENT_INVALID, "")                             \
    X(store_copy_memory, copy_memory(f), ENT_INVALID, "memory")                                    \
    X(store_open_lmdb_empty, ent_store_open((ent_store **)&f->o1, "", f->sc, NULL), ENT_INVALID, "directory path") \
    X(store_get_info_out, ent_store_get_info(NULL, f->s), ENT_INVALID, "out is NULL")                      \
    X(store_get_info_s, ent_store_get_info((ent_store_info *)&f->o1, NULL), ENT_INVALID, "store is NULL")  \
    /* store.h: transactions */                                                                    \
    X(txn_begin_out, ent_txn_begin(NULL, f->s, ENT_TXN_READ), ENT_INVALID, "out is NULL")                  \
    X(txn_begin_s, ent_txn_begin((ent_txn **)&f->o1, NULL, ENT_TXN_READ), ENT_INVALID, "store is NULL")    \
    X(txn_begin_mode, ent_txn_begin((ent_txn **)&f->o1, f->s, 7), ENT_INVALID, "mode")             \
    X(txn_begin_mode_neg, ent_txn_begin((ent_txn **)&f->o1, f->s, -1), ENT_INVALID, "mode")        \
    X(txn_begin_mode_2, ent_txn_begin((ent_txn **)&f->o1, f->s, 2), ENT_INVALID, "unknown mode 2")   \
    X(txn_commit_null, ent_txn_commit(NULL), ENT_INVALID, "txn is NULL")                           \
    X(txn_abort_null, (ent_txn_abort(NULL), ENT_OK), ENT_OK, NULL)                                 \
    X(txn_run_s, ent_txn_run(NULL, txn_fn, NULL), ENT_INVALID, "store is NULL")                            \
    X(txn_run_fn, ent_txn_run(f->s, NULL, NULL), ENT_INVALID, "fn is NULL")                                \
    X(txn_skip_null, ent_txn_skip_ref_checks(NULL), ENT_INVALID, "txn is NULL")                    \
    X(txn_skip_read, with_rtxn(f, r_skip), ENT_INVALID, "write")                                   \
    X(txn_defer_null, ent_txn_defer_ref_checks(NULL), ENT_INVALID, "txn is NULL")                  \
    X(txn_defer_read, with_rtxn(f, r_defer), ENT_INVALID, "write")                                 \
    X(txn_type_null, NEUTRAL(!ent_txn_type(NULL, "customer")), ENT_OK, NULL)                       \
    X(txn_restore_forward_null, ent_txn_restore_forward(NULL), ENT_INVALID, "txn is NULL")         \
    X(txn_restore_forward_read, with_rtxn(f, r_fwd), ENT_INVALID, "write")                         \
    /* store.h: CRUD */                                                                            \
    X(create_s, ent_create(NULL, NULL, f->e), ENT_INVALID, "store is NULL")                                \
    X(create_e, ent_create(f->s, NULL, NULL), ENT_INVALID, "entity is NULL")                               \
    X(create_read_txn, with_rtxn(f, r_create), ENT_READONLY, "read transaction")                  \
    X(create_other_txn, with_s2_wtxn(f, r_create), ENT_INVALID, "another store")                  \
    X(create_other_type, ent_create(f->s2, NULL, f->e), ENT_SCHEMA, "")                          \
    X(get_out, ent_get(NULL, f->s, NULL, f->cust, &f->k1), ENT_INVALID, "out is NULL")                     \
    X(get_s, ent_get((ent_entity **)&f->o1, NULL, NULL, f->cust, &f->k1), ENT_INVALID, "store is NULL")                    \
    X(get_type, ent_get((ent_entity **)&f->o1, f->s, NULL, NULL, &f->k1), ENT_INVALID, "type is NULL")                     \
    X(get_key, ent_get((ent_entity **)&f->o1, f->s, NULL, f->cust, NULL), ENT_INVALID, "key is NULL")                      \
    X(get_other_type, ent_get((ent_entity **)&f->o1, f->s, NULL, f->cust2, &f->k1), ENT_SCHEMA, "")                \
    X(get_key_kind, key_get(f, ent_key_str("x")), ENT_INVALID, "not of the type's key kind")                              \
    X(get_key_badkind, key_get(f, (ent_key){(ent_key_kind)9, 1, NULL, 0}), ENT_INVALID, "not of the type's key kind")     \
    X(get_other_txn, with_s2_wtxn(f, r_get), ENT_INVALID, "another store")                         \
    X(exists_s, ent_exists(NULL, NULL, f->cust, &f->k1), ENT_INVALID, "store is NULL")                     \
    X(exists_type, ent_exists(f->s, NULL, NULL, &f->k1), ENT_INVALID, "type is NULL")                      \
    X(exists_key, ent_exists(f->s, NULL, f->cust, NULL), ENT_INVALID, "key is NULL")                       \
    X(replace_s, ent_replace(NULL, NULL, f->e, ENT_VERSION_ANY), ENT_INVALID, "store is NULL")             \
    X(replace_e, ent_replace(f->s, NULL, NULL, ENT_VERSION_ANY), ENT_INVALID, "entity is NULL")            \
    X(replace_read_txn, with_rtxn(f, r_replace), ENT_READONLY, "read transaction")                \
    X(update_s, ent_update(NULL, NULL, f->e, ENT_VERSION_ANY), ENT_INVALID, "store is NULL")               \
    X(update_e, ent_update(f->s, NULL, NULL, ENT_VERSION_ANY), ENT_INVALID, "entity is NULL")              \
    X(update_read_txn, with_rtxn(f, r_update), ENT_READONLY, "read transaction")                  \
    X(upsert_s, ent_upsert(NULL, NULL, f->e, ENT_VERSION_ANY), ENT_INVALID, "store is NULL")               \
    X(upsert_e, ent_upsert(f->s, NULL, NULL, ENT_VERSION_ANY), ENT_INVALID, "entity is NULL")              \
    X(upsert_read_txn, with_rtxn(f, r_upsert), ENT_READONLY, "read transaction")                  \
    X(delete_s, ent_delete(NULL, NULL, f->cust, &f->k1, ENT_VERSION_ANY), ENT_INVALID, "store is NULL")    \
    X(delete_type, ent_delete(f->s, NULL, NULL, &f->k1, ENT_VERSION_ANY), ENT_INVALID, "type is NULL")     \
    X(delete_key, ent_delete(f->s, NULL, f->cust, NULL, ENT_VERSION_ANY), ENT_INVALID, "key is NULL")      \
    X(delete_read_txn, with_rtxn(f, r_delete), ENT_READONLY, "read transaction")                  \
    X(restore_s, ent_restore(NULL, NULL, f->e), ENT_INVALID, "store is NULL")                              \
    X(restore_e, ent_restore(f->s, NULL, NULL), ENT_INVALID, "entity is NULL")                             \
    X(restore_read_txn, with_rtxn(f, r_restore), ENT_READONLY, "read transaction")                \
    X(key_str_null_set, prod_key(f, (ent_key){ENT_KEY_STRING, 0, NULL, 3}, 0), ENT_INVALID, "string key is NULL") \
    X(key_str_null_get, prod_key(f, (ent_key){ENT_KEY_STRING, 0, NULL, 3}, 1), ENT_INVALID, "string key is NULL") \
    X(key_str_empty_get, prod_key(f, (ent_key){ENT_KEY_STRING, 0, "", 0}, 1), ENT_INVALID, "1 to 255 bytes")     \
    X(key_str_long_set, prod_key(f, (ent_key){ENT_KEY_STRING, 0, f->big, 256}, 0), ENT_INVALID, "1 to 255 bytes") \
    X(key_str_long_get, prod_key(f, (ent_key){ENT_KEY_STRING, 0, f->big, 256}, 1), ENT_INVALID, "1 to 255 bytes") \
    X(update_other_store, ent_update(f->s2, NULL, f->e, ENT_VERSION_ANY), ENT_SCHEMA, "schema object")  \
    X(replace_other_store, ent_replace(f->s2, NULL, f->e, ENT_VERSION_ANY), ENT_SCHEMA, "schema object") \
    X(delete_other_type, ent_delete(f->s, NULL, f->cust2, &f->k1, ENT_VERSION_ANY), ENT_SCHEMA, "schema object") \
    X(delete_other_txn, with_s2_wtxn(f, r_delete_other), ENT_INVALID, "another store")              \
    X(count_other_type, ent_count((uint64_t *)&f->o1, f->s, NULL, f->cust2), ENT_SCHEMA, "schema object") \
    X(count_foreign_type, ent_count((uint64_t *)&f->o1, f->s, NULL, f->other), ENT_SCHEMA, "of schema \"other\"")  \
    X(count_other_txn, with_s2_wtxn(f, r_count_other), ENT_INVALID, "another store")                \
    X(scan_other_type, scan_type(f, f->cust2), ENT_SCHEMA, "schema object")                         \
    X(scan_other_txn, with_s2_wtxn(f, r_scan_other), ENT_INVALID, "another store")                  \
    X(from_json_empty, empty_json(f, 0), ENT_INVALID, "")                                           \
    X(patch_json_empty, empty_json(f, 1), ENT_INVALID, "")                                          \
    X(apply_kinds_empty, empty_json(f, 2), ENT_INVALID, "")                                         \
    X(json_patch_empty, empty_json(f, 5), ENT_INVALID, "")                                          \
    X(event_from_json_empty, empty_json(f, 3), ENT_INVALID, "")                                     \
    X(set_json_empty, empty_json(f, 4), ENT_INVALID, "")                                            \
    X(schema_load_file_long, path_big(f, 0), ENT_IO, "File name too long")                                            \
    X(store_open_path_long, path_big(f, 1), ENT_IO, "name too long")                                             \
    X(mirror_open_id_long, path_big(f, 2), ENT_INVALID, "primary id")                               \
    X(value_parse_long, ent_value_parse(&f->v, NULL, 0, f->n, f->big), ENT_INVALID, "not an int64") \
    X(txn_run_positive, ent_txn_run(f->s, txn_fn_positive, NULL), ENT_INVALID, "")                  \
    X(count_out, ent_count(NULL, f->s, NULL, f->cust), ENT_INVALID, "out is NULL")                         \
    X(count_s, ent_count((uint64_t *)&f->o1, NULL, NULL, f->cust), ENT_INVALID, "store is NULL")           \
    X(count_type, ent_count((uint64_t *)&f->o1, f->s, NULL, NULL), ENT_INVALID, "type is NULL")            \
    X(count_read_txn_ok, with_rtxn(f, r_count), ENT_OK, NULL)                                      \
    X(last_id_out, ent_last_id(NULL, f->s, NULL, f->cust), ENT_INVALID, "out is NULL")                     \
    X(last_id_s, ent_last_id((uint64_t *)&f->o1, NULL, NULL, f->cust), ENT_INVALID, "store is NULL")       \
    X(last_id_type, ent_last_id((uint64_t *)&f->o1, f->s, NULL, NULL), ENT_INVALID, "type is NULL")        \
    X(last_id_other_type, ent_last_id((uint64_t *)&f->o1, f->s, NULL, f->cust2), ENT_SCHEMA, "schema object") \
    X(last_id_raise_s, ent_last_id_raise(NULL, NULL, f->cust, 1), ENT_INVALID, "store is NULL")            \
    X(last_id_raise_type, ent_last_id_raise(f->s, NULL, NULL, 1), ENT_INVALID, "type is NULL")             \
    /* store.h: look-ups and scans */                                                              \
    X(value_parse_out, ent_value_parse(NULL, NULL, 0, f->n, "1"), ENT_INVALID, "out is NULL")              \
    X(value_parse_f, ent_value_parse(&f->v, NULL, 0, NULL, "1"), ENT_INVALID, "field is NULL")             \
    X(value_parse_text, ent_value_parse(&f->v, NULL, 0, f->n, NULL), ENT_INVALID, "text is NULL")          \
    X(value_parse_buf, ent_value_parse(&f->v, NULL, 16, f->blob, "AAAA"), ENT_INVALID, "buf")      \
    X(find_out, ent_find(NULL, f->s, NULL, f->n, &f->v), ENT_INVALID, "out is NULL")                       \
    X(find_s, ent_find((ent_iter **)&f->o1, NULL, NULL, f->n, &f->v), ENT_INVALID, "store is NULL")        \
    X(find_f, ent_find((ent_iter **)&f->o1, f->s, NULL, NULL, &f->v), ENT_INVALID, "field is NULL")        \
    X(find_v, ent_find((ent_iter **)&f->o1, f->s, NULL, f->n, NULL), ENT_INVALID, "value is NULL")         \
    X(find_value_kind, find_value(f, f->n, (ent_value){(ent_kind)99, {0}}), ENT_INVALID, "unknown kind 99")       \
    X(find_value_null_str, find_value(f, f->email, ent_value_bytes(NULL, 5)), ENT_INVALID, "")     \
    X(find_value_null_str2, find_value(f, f->email, ent_value_string(NULL)), ENT_INVALID, "")      \
    X(find_other_store, find_value(f, f->email2, ent_value_string("a@b")), ENT_SCHEMA, "")         \
    X(find_unique_out, ent_find_unique(NULL, f->s, NULL, f->email, &f->v), ENT_INVALID, "out is NULL")     \
    X(find_unique_s, ent_find_unique((ent_entity **)&f->o1, NULL, NULL, f->email, &f->v), ENT_INVALID, "store is NULL")    \
    X(find_unique_f, ent_find_unique((ent_entity **)&f->o1, f->s, NULL, NULL, &f->v), ENT_INVALID, "field is NULL")        \
    X(find_unique_v, ent_find_unique((ent_entity **)&f->o1, f->s, NULL, f->email, NULL), ENT_INVALID, "value is NULL")     \
    X(range_out, ent_range(NULL, f->s, NULL, f->n, NULL), ENT_INVALID, "out is NULL")                      \
    X(range_s, ent_range((ent_iter **)&f->o1, NULL, NULL, f->n, NULL), ENT_INVALID, "store is NULL")       \
    X(range_f, ent_range((ent_iter **)&f->o1, f->s, NULL, NULL, NULL), ENT_INVALID, "field is NULL")       \
    X(range_opts_version, range_opts(f, 0, 0, NULL), ENT_INVALID, "version")                       \
    /* a string made from NULL bounding a range over refs to string keys read as "": from the   \
     * lowest, or (to) nothing at all, with ENT_OK */                                            \
    X(range_from_null_ref, range_bound(f, f->pref, 0, ent_value_string(NULL)), ENT_INVALID,     \
      "order.product: the range's from is a string value made from NULL")                       \
    X(range_to_null_ref, range_bound(f, f->pref, 1, ent_value_string(NULL)), ENT_INVALID,       \
      "order.product: the range's to is a string value made from NULL")                         \
    X(range_from_null_bytes_ref, range_bound(f, f->pref, 0, ent_value_bytes(NULL, 3)), ENT_INVALID, "from NULL") \
    X(range_from_null_str, range_bound(f, f->email, 0, ent_value_string(NULL)), ENT_INVALID, "customer.email: the range's from") \
    X(range_to_null_str, range_bound(f, f->email, 1, ent_value_string(NULL)), ENT_INVALID, "customer.email: the range's to") \
    X(range_empty_ref, NEUTRAL(range_bound(f, f->pref, 0, ent_value_string("")) == ENT_OK), ENT_OK, NULL) \
    X(range_opts_flags, range_opts(f, 1, 0x80, NULL), ENT_INVALID, "flags")                        \
    X(range_opts_resume, range_opts(f, 1, 0, "garbage"), ENT_INVALID, "resume")                    \
    X(range_opts_resume_empty, range_opts(f, 1, 0, ""), ENT_INVALID, "resume")                     \
    /* customer's keys are 8-byte ids: a token naming a 2-byte key was taken as a position */     \
    X(range_opts_resume_key_len, range_opts(f, 1, 0, "i637573746f6d6572.2.8000000000000001.0102"),  \
      ENT_INVALID, "a key of 2 bytes, and type customer's keys are 8-byte ids")                  \
    X(scan_opts_resume_key_len, scan_resume(f, "k637573746f6d6572.000000000000000001"), ENT_INVALID, \
      "a key of 9 bytes")                                                                        \
    X(scan_opts_resume_ok, NEUTRAL(scan_resume(f, "k637573746f6d6572.0000000000000001") == ENT_OK), ENT_OK, NULL) \
    X(scan_out, ent_scan(NULL, f->s, NULL, f->cust, NULL, NULL), ENT_INVALID, "out is NULL")               \
    X(scan_s, ent_scan((ent_iter **)&f->o1, NULL, NULL, f->cust, NULL, NULL), ENT_INVALID, "store is NULL") \
    X(scan_type, ent_scan((ent_iter **)&f->o1, f->s, NULL, NULL, NULL, NULL), ENT_INVALID, "type is NULL") \
    X(scan_opts_version, scan_opts(f, 0, 0, NULL), ENT_INVALID, "version")                         \
    X(scan_opts_flags, scan_opts(f, 1, 0x80, NULL), ENT_INVALID, "flags")                          \
    X(scan_start_kind, scan_opts(f, 1, 0, &(ent_key){ENT_KEY_STRING, 0, "x", 1}), ENT_INVALID, "start key is not") \
    X(iter_next_out, iter_next_null_out(f), ENT_INVALID, "out is NULL")                                    \
    X(iter_next_it, ent_iter_next((ent_entity **)&f->o1, NULL), ENT_INVALID, "iterator is NULL")                           \
    X(iter_next_ended, iter_after_txn(f, 0), ENT_INVALID, "")                                      \
    X(iter_more_null, ent_iter_more(NULL), ENT_INVALID, "iterator is NULL")                                \
    X(iter_more_ended, iter_after_txn(f, 1), ENT_INVALID, "")                                      \
    X(iter_resume_null, NEUTRAL(ent_iter_resume(NULL) == NULL), ENT_OK, NULL)                      \
    X(iter_free_null, (ent_iter_free(NULL), ENT_OK), ENT_OK, NULL)                                 \
    /* log.h */                                                                                    \
    X(event_free_null, (ent_event_free(NULL), ENT_OK), ENT_OK, NULL)                               \
    X(event_to_json_out, event_of(f, ev_json_null_out), ENT_INVALID, "out is NULL")                        \
    X(event_to_json_flags, event_of(f, ev_json_flags), ENT_INVALID, "unknown flags 0x80")         \
    X(event_to_json_ev, ent_event_to_json((char **)&f->o1, NULL, 0), ENT_INVALID, "event is NULL")         \
    X(log_bounds_s, ent_log_bounds(NULL, NULL, NULL, NULL), ENT_INVALID, "store is NULL")                  \
    X(log_get_out, ent_log_get(NULL, f->s, NULL, 1), ENT_INVALID, "out is NULL")                           \
    X(log_get_s, ent_log_get((ent_event **)&f->o1, NULL, NULL, 1), ENT_INVALID, "store is NULL")           \
    X(log_get_seq0, ent_log_get((ent_event **)&f->o1, f->s, NULL, 0), ENT_NOTFOUND, "")            \
    X(log_get_seqmax, ent_log_get((ent_event **)&f->o1, f->s, NULL, UINT64_MAX), ENT_NOTFOUND, "") \
    X(log_cursor_open_out, ent_log_cursor_open(NULL, f->s, 1, NULL, 0), ENT_INVALID, "out is NULL")        \
    X(log_cursor_open_s, ent_log_cursor_open((ent_log_cursor **)&f->o1, NULL, 1, NULL, 0), ENT_INVALID, "store is NULL") \
    X(log_cursor_open_ops, ent_log_cursor_open((ent_log_cursor **)&f->o1, f->s, 1, NULL, 0x80), ENT_INVALID, "operation flags 0x80") \
    X(log_cursor_open_type, ent_log_cursor_open((ent_log_cursor **)&f->o1, f->s, 1, f->other, 0), ENT_SCHEMA, "other") \
    X(log_next_out, cursor_null_out(f), ENT_INVALID, "out is NULL")                                        \
    X(log_next_c, ent_log_next((ent_event **)&f->o1, NULL), ENT_INVALID, "cursor is NULL")                 \
    X(log_cursor_pos_null, NEUTRAL(ent_log_cursor_pos(NULL) == 0), ENT_OK, NULL)                   \
    X(log_cursor_free_null, (ent_log_cursor_free(NULL), ENT_OK), ENT_OK, NULL)                     \
    X(log_wait_s, ent_log_wait(NULL, NULL, 0, 0), ENT_INVALID, "store is NULL")                            \
    X(log_truncate_s, ent_log_truncate(NULL, 1, 0), ENT_INVALID, "store is NULL")                          \
    X(log_truncate_past, ent_log_truncate(f->s, UINT64_MAX, 1), ENT_INVALID, "the log ends at 1")      \
    X(sub_ack_past, (ent_sub_create(f->s, "c", 0), ent_sub_ack(f->s, NULL, "c", UINT64_MAX)), ENT_INVALID, "") \
    X(log_wait_neg_ready, ent_log_wait(NULL, f->s, 0, -1), ENT_OK, NULL)                            \
    X(subscribe_out, ent_subscribe(NULL, f->s, NULL, 0, event_cb, NULL), ENT_INVALID, "out is NULL")       \
    X(subscribe_s, ent_subscribe((ent_subscriber **)&f->o1, NULL, NULL, 0, event_cb, NULL), ENT_INVALID, "store is NULL") \
    X(subscribe_cb, ent_subscribe((ent_subscriber **)&f->o1, f->s, NULL, 0, NULL, NULL), ENT_INVALID, "cb is NULL") \
    X(subscribe_ops, ent_subscribe((ent_subscriber **)&f->o1, f->s, NULL, 0x80, event_cb, NULL), ENT_INVALID, "operation flags 0x80") \
    X(subscribe_type, ent_subscribe((ent_subscriber **)&f->o1, f->s, f->other, 0, event_cb, NULL), ENT_SCHEMA, "other") \
    X(unsubscribe_null, (ent_unsubscribe(NULL, NULL), ent_unsubscribe(f->s, NULL), ENT_OK), ENT_OK, NULL) \
    X(sub_create_s, ent_sub_create(NULL, "c", 0), ENT_INVALID, "store is NULL")                            \
    X(sub_create_name, ent_sub_create(f->s, NULL, 0), ENT_INVALID, "name is NULL")                         \
    X(sub_create_empty, ent_sub_create(f->s, "", 0), ENT_INVALID, "1 to 200 bytes")                          \
    X(sub_create_long, sub_name_big(f), ENT_INVALID, "1 to 200 bytes")                                       \
    X(sub_delete_s, ent_sub_delete(NULL, "c"), ENT_INVALID, "store is NULL")                               \
    X(sub_delete_name, ent_sub_delete(f->s, NULL), ENT_INVALID, "name is NULL")                            \
    X(sub_checkpoint_out, ent_sub_checkpoint(NULL, f->s, NULL, "c"), ENT_INVALID, "out is NULL")           \
    X(sub_checkpoint_out_found, (ent_sub_create(f->s, "c", 0), ent_sub_checkpoint(NULL, f->s, NULL, "c")), ENT_INVALID, \
      "out is NULL")                                                                               \
    X(sub_cursor_out_found, (ent_sub_create(f->s, "c", 0), ent_sub_cursor(NULL, f->s, "c")), ENT_INVALID, "out is NULL") \
    X(get_float_out_set, (ent_entity_set_float(f->e, "dims.w", 1) ? -101 : ent_entity_get_float(NULL, f->e, "dims.w")), \
      ENT_INVALID, "out is NULL")                                                                  \
    X(sub_checkpoint_s, ent_sub_checkpoint((uint64_t *)&f->o1, NULL, NULL, "c"), ENT_INVALID, "store is NULL") \
    X(sub_checkpoint_name, ent_sub_checkpoint((uint64_t *)&f->o1, f->s, NULL, NULL), ENT_INVALID, "name is NULL") \
    X(sub_ack_s, ent_sub_ack(NULL, NULL, "c", 1), ENT_INVALID, "store is NULL")                            \
    X(sub_ack_name, ent_sub_ack(f->s, NULL, NULL, 1), ENT_INVALID, "name is NULL")                         \
    X(sub_ack_read_txn, with_rtxn(f, r_ack), ENT_READONLY, "read transaction")                    \
    X(sub_ack_other_txn, with_s2_wtxn(f, r_ack), ENT_INVALID, "another store")                     \
    X(sub_list_out, ent_sub_list(NULL, (size_t *)&f->o1, f->s), ENT_INVALID, "out is NULL")                \
    X(sub_list_n, ent_sub_list((ent_sub_info **)&f->o1, NULL, f->s), ENT_INVALID, "out_n is NULL")         \
    X(sub_list_s, ent_sub_list((ent_sub_info **)&f->o1, (size_t *)&f->o2, NULL), ENT_INVALID, "store is NULL") \
    X(sub_cursor_out, ent_sub_cursor(NULL, f->s, "c"), ENT_INVALID, "out is NULL")                         \
    X(sub_cursor_s, ent_sub_cursor((ent_log_cursor **)&f->o1, NULL, "c"), ENT_INVALID, "store is NULL")    \
    X(sub_cursor_name, ent_sub_cursor((ent_log_cursor **)&f->o1, f->s, NULL), ENT_INVALID, "name is NULL") \
    /* mirror.h */                                                                                 \
    X(mirror_open_out, ent_mirror_open(NULL, "x", "id", f->sc, NULL), ENT_INVALID, "out is NULL")          \
    X(mirror_open_id, ent_mirror_open((ent_store **)&f->o1, "x", NULL, f->sc, NULL), ENT_INVALID, "primary")      \
    X(mirror_open_id_empty, ent_mirror_open((ent_store **)&f->o1, "x", "", f->sc, NULL), ENT_INVALID, "primary")  \
    X(mirror_apply_s, ent_mirror_apply(NULL, NULL, 0, 0), ENT_INVALID, "store is NULL")                    \
    X(mirror_apply_evs, ent_mirror_apply(f->s, NULL, 1, 0), ENT_INVALID, "")                       \
    X(mirror_apply_item, apply_null_item(f), ENT_INVALID, "")                                      \
    X(mirror_apply_plain, event_of(f, ev_apply_plain), ENT_READONLY, "mirror")                     \
    X(mirror_position_s, ent_mirror_position(NULL, NULL, NULL), ENT_INVALID, "store is NULL")              \
    X(mirror_position_plain, ent_mirror_position(NULL, NULL, f->s), ENT_INVALID, "mirror")         \
    X(mirror_promote_s, ent_mirror_promote(NULL, ENT_DURABILITY_STORED, NULL), ENT_INVALID, "store is NULL")                     \
    X(mirror_promote_plain, ent_mirror_promote(f->s, ENT_DURABILITY_STORED, NULL), ENT_INVALID, "not a mirror")                   \
    X(event_from_json_out, ent_event_from_json(NULL, f->sc, "{}", 2), ENT_INVALID, "out is NULL")          \
    X(event_from_json_sc, ent_event_from_json((ent_event **)&f->o1, NULL, "{}", 2), ENT_INVALID, "schema is NULL") \
    X(event_from_json_json, ent_event_from_json((ent_event **)&f->o1, f->sc, NULL, 2), ENT_INVALID, "JSON is NULL") \
    X(schema_history_out, ent_store_schema_history(NULL, (size_t *)&f->o1, f->s), ENT_INVALID, "out is NULL") \
    X(schema_history_n, ent_store_schema_history((ent_schema_mark **)&f->o1, NULL, f->s), ENT_INVALID, "out_n is NULL") \
    X(schema_history_s, ent_store_schema_history((ent_schema_mark **)&f->o1, (size_t *)&f->o2, NULL), \
      ENT_INVALID, "store is NULL")                                                                        \
    X(schema_json_out, ent_store_schema_json(NULL, f->s, 1), ENT_INVALID, "out is NULL")                   \
    X(schema_json_s, ent_store_schema_json((char **)&f->o1, NULL, 1), ENT_INVALID, "store is NULL")        \
    X(schema_json_v0, ent_store_schema_json((char **)&f->o1, f->s, 0), ENT_NOTFOUND, "")           \
    X(event_as_written_out, event_of(f, ev_written_null_out), ENT_INVALID, "out is NULL")          \
    X(event_as_written_s, event_of(f, ev_written_null_s), ENT_INVALID, "store is NULL")           \
    X(event_as_written_ev, ent_event_as_written((ent_event **)&f->o1, f->s, NULL), ENT_INVALID, "ev is NULL") \
    X(event_as_written_type, event_of(f, ev_written_no_type), ENT_INVALID, "no type")             \
    /* verify.h */                                                                                 \
    X(verify_s, ent_store_verify(NULL, NULL, NULL, NULL), ENT_INVALID, "store is NULL")                    \
    X(replay_dst, ent_store_replay(NULL, f->s, 0), ENT_INVALID, "dst store is NULL")                           \
    X(replay_src, ent_store_replay(f->s2, NULL, 0), ENT_INVALID, "src store is NULL")                          \
    X(replay_self, ent_store_replay(f->s, f->s, 0), ENT_INVALID, "two different stores")

#define DEF_PROBE(name, call, code, text)                                                          \
    static int probe_##name(fixture *f)                                                            \
    {                                                                                              \
        (void)f;                                                                                   \
        return (call);                                                                             \
    }
PROBES(DEF_PROBE)

typedef struct probe {
    const char *name, *call;
    int (*fn)(fixture *);
    int want;
    const char *text;
} probe;
#define ROW_PROBE(name, call, code, text) {#name, #call, probe_##name, code, text},
static const probe probes[] = {PROBES(ROW_PROBE)};

/* What a child reports: the code, then the message. */
typedef struct outcome {
    int rc;
    char msg[1024];
} outcome;

/* Run one row in a child with a fresh fixture. Returns 0 when the child reported, else -1 with
 * why in `why` (a signal, an exit status: ASan and LeakSanitizer exit non-zero). */
static int run_child(const probe *p, outcome *o, char *why, size_t why_len)
{
    int fds[2], status;
    ssize_t got = 0, n;
    pid_t pid;
    if (pipe(fds)) return snprintf(why, why_len, "pipe failed"), -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0) return snprintf(why, why_len, "fork failed"), -1;
    if (pid == 0) {
        fixture f;
        outcome r;
        close(fds[0]);
        if (fx_open(&f)) {
            fprintf(stderr, "fixture: %s\n", ent_errmsg());
            exit(3);
        }
        ent_error_set(ENT_IO, "STALE"); /* a row must set its own message, not leave this one */
        r.rc = p->fn(&f);
        snprintf(r.msg, sizeof r.msg, "%s", ent_errmsg());
        fx_close(&f);
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r) exit(4);
        close(fds[1]);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof *o && (n = read(fds[0], (char *)o + got, sizeof *o - (size_t)got)) > 0) got += n;
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFSIGNALED(status)) return snprintf(why, why_len, "killed by signal %d", WTERMSIG(status)), -1;
    if (WEXITSTATUS(status)) return snprintf(why, why_len, "exit status %d", WEXITSTATUS(status)), -1;
    if (got != (ssize_t)sizeof *o) return snprintf(why, why_len, "no report"), -1;
    return 0;
}

static void test_table(void)
{
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const probe *p = &probes[i];
        outcome o;
        char why[128];
        int ok;
        if (run_child(p, &o, why, sizeof why)) {
            fprintf(stderr, "\n  %s: %s: %s", p->name, p->call, why);
            bad++;
            continue;
        }
        if (getenv("ENT_MISUSE_VERBOSE")) fprintf(stderr, "\n  %s: %d \"%s\"", p->name, o.rc, o.msg);
        ok = o.rc == p->want;
        if (ok && p->want != ENT_OK)
            ok = o.msg[0] && !strstr(o.msg, "STALE") && strstr(o.msg, p->text) != NULL;
        if (!ok) {
            fprintf(stderr, "\n  %s: %s = %d (%s), want %d (%s) with \"%s\": \"%s\"", p->name, p->call, o.rc,
                    ent_strerror(o.rc), p->want, ent_strerror(p->want), p->text ? p->text : "", o.msg);
            bad++;
        }
    }
    if (bad) fprintf(stderr, "\n  %u of %zu rows wrong\n", bad, sizeof probes / sizeof probes[0]);
    CU_ASSERT_EQUAL(bad, 0);
}

/* ent_errmsg() and ent_errdetail() on a thread that has made no call yet: "" and NONE, not garbage
 * nor another thread's failure. */
static void *fresh_thread(void *arg)
{
    int *ok = arg;
    const char *m = ent_errmsg();
    *ok = m != NULL && m[0] == 0 && ent_errdetail() == ENT_DETAIL_NONE;
    return NULL;
}

static void test_error_before_any_call(void)
{
    pthread_t th;
    int ok = 0;
    ent_error_set_detail(ENT_FULL, ENT_DETAIL_NO_SPACE, "this thread's failure");
    CU_ASSERT_FATAL(pthread_create(&th, NULL, fresh_thread, &ok) == 0);
    pthread_join(th, NULL);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_STRING_EQUAL(ent_errmsg(), "this thread's failure");
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(test_table),
        ENT_TEST(test_error_before_any_call),
        {NULL, NULL},
    };
    signal(SIGPIPE, SIG_IGN);
    return ent_test_run("api_misuse", cases);
}
