/* Stateful fuzzing: a sequence of operations decoded from the input drives a store (memory or
 * LMDB, the first byte chooses) and a simple model of it; every answer is checked against the model.
 *
 * Schema: "u" (auto ids; name: unique string, n: indexed int, tag: optional string) and "k"
 * (string keys; owner: a ref to u, v: uint). Operations: create (a quarter with the id given),
 * update (set or unset a field) or replace (every field) with an expected version that is any,
 * right or wrong, delete, get, find by the unique name, range over n, count, begin / commit /
 * abort a transaction (half of them with ent_txn_defer_unique_checks(), half with
 * ent_txn_defer_ref_checks()), acknowledge a subscription, truncate the log (forced or not),
 * close and reopen (LMDB), and, at the end, a full comparison, verify, and (LMDB) the same after
 * reopening.
 * Properties: each call's code is the one the model predicts (conflict on a taken name or a wrong
 * version, not found, a ref to a missing entity refused, a referenced entity not deleted; in a
 * transaction that defers its unique checks a taken name is not refused, the name's look-up finds
 * the entity that took it first of those holding it, and the commit is a conflict, leaving nothing,
 * when two still hold one; in a transaction that defers its ref checks a k may name a missing u and
 * a referenced u may be deleted, and the commit fails whole: ENT_INVALID for a k it wrote naming a
 * missing u, ENT_CONFLICT for a u it deleted that a k still names), reads see what the model holds
 * inside and outside transactions, aborted work leaves nothing, each committed mutation leaves
 * exactly one event with its operation, key and version; a truncation is refused beyond the log's
 * end (ENT_INVALID), below what the subscription acknowledged unless forced (ENT_CONFLICT), inside
 * a transaction (ENT_BUSY), and the log's bounds follow it. */
#include <dirent.h>
#include <unistd.h>

#include "fuzz_util.h"

static const char schema_json[] =
    "{\"schema\":\"ops\",\"version\":1,\"types\":{"
    "\"u\":{\"key\":\"auto\",\"fields\":{"
    "\"name\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "\"tag\":{\"id\":3,\"type\":\"string\"}}},"
    "\"k\":{\"key\":\"string\",\"fields\":{"
    "\"owner\":{\"id\":1,\"type\":\"ref\",\"to\":\"u\"},"
    "\"v\":{\"id\":2,\"type\":\"uint\"}}}}}";

#define NU 24 /* ids 1..NU-1 tracked */
#define NK 4
#define NNAMES 5
static const char *const names[NNAMES] = {"a", "b", "c", "d", "e"};
static const char *const tags[3] = {NULL, "x", "y"};
static const char *const kkeys[NK] = {"p", "q", "r", "s"};

typedef struct mu {
    int exists;
    uint64_t version;
    int name; /* index in names */
    int64_t n;
    int has_n;
    int tag; /* index in tags, 0: unset */
    uint64_t took; /* when it took its name (model clock): the first of those holding a name holds it */
} mu;
typedef struct mk {
    int exists;
    uint64_t version;
    uint64_t owner; /* 0: unset */
    uint64_t v;
    int has_v;
} mk;
typedef struct model {
    mu u[NU];
    mk k[NK];
    uint64_t next_id; /* last assigned id */
    uint64_t seq;     /* last event seq */
    uint64_t ucount, kcount;
    uint64_t clock;
    uint64_t acked; /* the subscription's checkpoint */
    uint64_t trunc; /* the highest seq a truncation dropped: the log starts after it */
    int deferred; /* the open transaction defers its unique checks */
    int refs_deferred; /* the open transaction defers its ref checks */
    uint8_t k_written[NK]; /* by the open transaction: its commit checks their refs */
    uint8_t u_deleted[NU]; /* by the open transaction: its commit checks none is named */
} model;

static ent_schema *schema;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *s;
static const ent_type *tu, *tk;
static const ent_field *f_name, *f_n, *f_tag, *f_owner, *f_v;
static model com, work; /* committed, and what the open transaction sees */
static ent_txn *txn;

static void wipe_dir(void) { fuzz_dir_wipe(dir); }
static void remove_dir(void) { fuzz_dir_remove(dir); }

static int want(int rc, int expect, const char *what)
{
    FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    FUZZ_CHECK(rc == expect, "%s: rc %d (%s), model expects %d (%s)", what, rc, ent_strerror(rc), expect, ent_strerror(expect));
    return rc;
}

/* A transaction that defers its unique checks takes a name another holds (it waits for it). */
static int name_taken(const model *m, int name, uint64_t except)
{
    if (m->deferred) return 0;
    for (uint64_t i = 1; i < NU; i++)
        if (i != except && m->u[i].exists && m->u[i].name == name) return 1;
    return 0;
}

/* The u the name's index entry names: of those holding it, the first that took it; 0: none. */
static uint64_t name_holder(const model *m, int name)
{
    uint64_t id = 0;
    for (uint64_t i = 1; i < NU; i++)
        if (m->u[i].exists && m->u[i].name == name && (!id || m->u[i].took < m->u[id].took)) id = i;
    return id;
}

/* A name two entities hold (only in a transaction that defers its unique checks). */
static int name_twice(const model *m)
{
    for (uint64_t i = 1; i < NU; i++)
        for (uint64_t j = i + 1; j < NU; j++)
            if (m->u[i].exists && m->u[j].exists && m->u[i].name == m->u[j].name) return 1;
    return 0;
}

static int referenced(const model *m, uint64_t id)
{
    for (int i = 0; i < NK; i++)
        if (m->k[i].exists && m->k[i].owner == id) return 1;
    return 0;
}

/* After a mutation committed on its own: the last event is it. */
static void check_last_event(int op, const ent_type *t, const ent_key *k, uint64_t version)
{
    ent_event *ev = NULL;
    uint64_t first, last;
    want(ent_log_bounds(&first, &last, s, NULL), ENT_OK, "log bounds");
    FUZZ_CHECK(last == com.seq, "log ends at %llu, model at %llu", (unsigned long long)last, (unsigned long long)com.seq);
    want(ent_log_get(&ev, s, NULL, last), ENT_OK, "log get");
    FUZZ_CHECK(ev->op == op && ev->type == t && ev->version == version && ev->key.kind == k->kind &&
                   (k->kind == ENT_KEY_AUTO ? ev->key.id == k->id : ev->key.len == k->len && !memcmp(ev->key.str, k->str, k->len)),
               "event %llu: op %d version %llu, expected op %d version %llu", (unsigned long long)last, ev->op,
               (unsigned long long)ev->version, op, (unsigned long long)version);
    ent_event_free(ev);
}

/* The mutation's effect on the model is in `work`; publish it when no transaction is open. */
static void applied(int op, const ent_type *t, const ent_key *k, uint64_t version)
{
    if (txn) return;
    com = work;
    check_last_event(op, t, k, version);
}

static void check_u(const model *m, uint64_t id)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(id);
    const mu *x = &m->u[id];
    int rc = ent_get(&e, s, txn, tu, &k);
    want(rc, x->exists ? ENT_OK : ENT_NOTFOUND, "get u");
    if (rc == ENT_OK) {
        const char *str;
        size_t len;
        int64_t n;
        FUZZ_CHECK(ent_entity_version(e) == x->version, "u %llu version %llu, model %llu", (unsigned long long)id,
                   (unsigned long long)ent_entity_version(e), (unsigned long long)x->version);
        FUZZ_CHECK(ent_entity_field_get_string(&str, &len, e, f_name) == ENT_OK && !strcmp(str, names[x->name]), "u name");
        FUZZ_CHECK(ent_entity_field_has(e, f_n) == x->has_n, "u n presence");
        if (x->has_n) FUZZ_CHECK(ent_entity_field_get_int(&n, e, f_n) == ENT_OK && n == x->n, "u n value");
        FUZZ_CHECK(ent_entity_field_has(e, f_tag) == (x->tag != 0), "u tag presence");
        if (x->tag) FUZZ_CHECK(ent_entity_field_get_string(&str, &len, e, f_tag) == ENT_OK && !strcmp(str, tags[x->tag]), "u tag");
    }
    ent_entity_free(e);
}

static void check_k(const model *m, int i)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(kkeys[i]);
    const mk *x = &m->k[i];
    int rc = ent_get(&e, s, txn, tk, &k);
    want(rc, x->exists ? ENT_OK : ENT_NOTFOUND, "get k");
    if (rc == ENT_OK) {
        uint64_t u;
        FUZZ_CHECK(ent_entity_version(e) == x->version, "k version");
        FUZZ_CHECK(ent_entity_field_has(e, f_owner) == (x->owner != 0), "k owner presence");
        if (x->owner) FUZZ_CHECK(ent_entity_field_get_uint(&u, e, f_owner) == ENT_OK && u == x->owner, "k owner");
        FUZZ_CHECK(ent_entity_field_has(e, f_v) == x->has_v, "k v presence");
        if (x->has_v) FUZZ_CHECK(ent_entity_field_get_uint(&u, e, f_v) == ENT_OK && u == x->v, "k v");
    }
    ent_entity_free(e);
}

/* The range over n gives the model's entities in (n, id) order. */
static void check_range(const model *m, int64_t from)
{
    ent_iter *it = NULL;
    ent_value v = ent_value_int(from);
    ent_range_opts ro = ENT_RANGE_OPTS_INIT;
    ent_entity *e;
    int64_t last_n = INT64_MIN;
    uint64_t last_id = 0, seen = 0, expect = 0;
    int rc;
    ro.from = &v;
    for (uint64_t i = 1; i < NU; i++)
        if (m->u[i].exists && m->u[i].has_n && m->u[i].n >= from) expect++;
    want(ent_range(&it, s, txn, f_n, &ro), ENT_OK, "range");
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        uint64_t id = ent_entity_key(e).id;
        int64_t n = 0;
        FUZZ_CHECK(id < NU && m->u[id].exists && m->u[id].has_n, "range returned u %llu", (unsigned long long)id);
        ent_entity_field_get_int(&n, e, f_n);
        FUZZ_CHECK(n == m->u[id].n && n >= from, "range value");
        FUZZ_CHECK(n > last_n || (n == last_n && id > last_id), "range order");
        last_n = n;
        last_id = id;
        seen++;
        ent_entity_free(e);
    }
    want(rc, ENT_NOTFOUND, "range end");
    ent_iter_free(it);
    FUZZ_CHECK(seen == expect, "range gave %llu entities, model %llu", (unsigned long long)seen, (unsigned long long)expect);
}

/* The log's bounds are the model's: it starts after what truncations dropped (first = last + 1
 * when they dropped every event), and ends at the last committed seq. */
static void check_bounds(const model *m)
{
    uint64_t first = 0, last = 0, expect = m->seq ? m->trunc + 1 : 0;
    want(ent_log_bounds(&first, &last, s, NULL), ENT_OK, "log bounds");
    FUZZ_CHECK(first == expect && last == m->seq, "log bounds %llu..%llu, model %llu..%llu", (unsigned long long)first,
               (unsigned long long)last, (unsigned long long)expect, (unsigned long long)m->seq);
}

static void check_all(const model *m)
{
    uint64_t c;
    for (uint64_t i = 1; i < NU; i++) check_u(m, i);
    for (int i = 0; i < NK; i++) check_k(m, i);
    want(ent_count(&c, s, txn, tu), ENT_OK, "count");
    FUZZ_CHECK(c == m->ucount, "count u %llu, model %llu", (unsigned long long)c, (unsigned long long)m->ucount);
    want(ent_count(&c, s, txn, tk), ENT_OK, "count");
    FUZZ_CHECK(c == m->kcount, "count k");
    check_range(m, INT64_MIN);
    if (!txn) check_bounds(m); /* a transaction's events reach the log at its commit */
}

/* Create a u; a quarter of them carry their id (one free, deleted or taken: ENT_CONFLICT), after
 * which the ids assigned go on above the highest. */
static void op_create_u(fuzz_in *in)
{
    ent_entity *e = NULL;
    unsigned nb = fuzz_u8(in);
    int name = (int)(nb % NNAMES), b = (int)fuzz_u8(in), expect;
    uint64_t id = (nb / NNAMES) % 4 == 3 ? 1 + (nb / (4 * NNAMES)) % (NU - 1) : 0;
    if (ent_entity_new(&e, tu) != ENT_OK) abort();
    if (id) {
        ent_key k = ent_key_id(id);
        if (ent_entity_set_key(e, &k) != ENT_OK) abort();
    }
    ent_entity_field_set_string(e, f_name, names[name], 1);
    if (b & 1) ent_entity_field_set_int(e, f_n, (b >> 1) % 5 - 2);
    if (b & 32) ent_entity_field_set_string(e, f_tag, tags[1 + (b >> 6) % 2], 1);
    expect = (id && work.u[id].exists) || name_taken(&work, name, 0) ? ENT_CONFLICT
             : !id && work.next_id + 1 >= NU                          ? -100
                                                                      : ENT_OK;
    if (expect == -100) { /* beyond what the model tracks: stop creating */
        ent_entity_free(e);
        return;
    }
    if (want(ent_create(s, txn, e), expect, "create u") == ENT_OK) {
        ent_key k = ent_entity_key(e);
        mu *x;
        if (!id) id = ++work.next_id;
        else if (id > work.next_id) work.next_id = id;
        x = &work.u[id];
        FUZZ_CHECK(k.id == id, "create u got id %llu, model %llu", (unsigned long long)k.id, (unsigned long long)id);
        x->exists = 1;
        x->version = 1;
        x->name = name;
        x->took = ++work.clock;
        x->has_n = b & 1;
        x->n = x->has_n ? (b >> 1) % 5 - 2 : 0;
        x->tag = b & 32 ? 1 + (b >> 6) % 2 : 0;
        work.ucount++;
        work.seq++;
        applied(ENT_OP_CREATE, tu, &k, 1);
    }
    ent_entity_free(e);
}

/* Update u `id`: set or unset one field, with expect any, right or wrong; or replace it whole
 * (ent_replace(): the fields e leaves unset are removed). */
static void op_update_u(fuzz_in *in)
{
    uint64_t id = 1 + fuzz_u8(in) % (NU - 1), expect_v;
    unsigned what = fuzz_u8(in), evb = fuzz_u8(in), ev = evb % 3, replace = (evb / 3) & 1;
    mu *x = &work.u[id], nx;
    ent_entity *e = NULL;
    ent_key k = ent_key_id(id);
    int expect, changed, rc;
    if (ent_entity_new(&e, tu) != ENT_OK || ent_entity_set_key(e, &k) != ENT_OK) abort();
    nx = *x;
    if (replace) {
        /* every field from `what`: name, n set or not, tag or none */
        nx.name = (int)(what % NNAMES);
        nx.has_n = (what / NNAMES) & 1;
        nx.n = nx.has_n ? (int64_t)((what / (2 * NNAMES)) % 5) - 2 : 0;
        nx.tag = (int)((what / (10 * NNAMES)) % 3);
        ent_entity_field_set_string(e, f_name, names[nx.name], 1);
        if (nx.has_n) ent_entity_field_set_int(e, f_n, nx.n);
        if (nx.tag) ent_entity_field_set_string(e, f_tag, tags[nx.tag], 1);
    } else switch (what % 4) {
    case 0:
        nx.name = (int)((what >> 2) % NNAMES);
        ent_entity_field_set_string(e, f_name, names[nx.name], 1);
        break;
    case 1:
        nx.has_n = 1;
        nx.n = (int64_t)((what >> 2) % 5) - 2;
        ent_entity_field_set_int(e, f_n, nx.n);
        break;
    case 2:
        nx.tag = (what >> 2) % 3;
        if (nx.tag) ent_entity_field_set_string(e, f_tag, tags[nx.tag], 1);
        else ent_entity_field_unset(e, f_tag);
        break;
    default:
        nx.has_n = 0;
        nx.n = 0;
        ent_entity_field_unset(e, f_n);
        break;
    }
    expect_v = ev == 0 ? ENT_VERSION_ANY : ev == 1 ? x->version : x->version + 1;
    changed = nx.name != x->name || nx.has_n != x->has_n || nx.n != x->n || nx.tag != x->tag;
    if (!x->exists) expect = ENT_NOTFOUND;
    else if (expect_v != ENT_VERSION_ANY && expect_v != x->version) expect = ENT_CONFLICT;
    else if (nx.name != x->name && name_taken(&work, nx.name, id)) expect = ENT_CONFLICT;
    else expect = ENT_OK;
    rc = replace ? ent_replace(s, txn, e, expect_v) : ent_update(s, txn, e, expect_v);
    if (want(rc, expect, replace ? "replace u" : "update u") == ENT_OK) {
        FUZZ_CHECK(ent_entity_version(e) == x->version + (changed ? 1 : 0), "update u version %llu, model %llu%s",
                   (unsigned long long)ent_entity_version(e), (unsigned long long)x->version, changed ? " + 1" : "");
        if (changed) {
            nx.version++;
            if (nx.name != x->name) nx.took = ++work.clock;
            *x = nx;
            work.seq++;
            applied(ENT_OP_UPDATE, tu, &k, nx.version);
        }
    }
    ent_entity_free(e);
}

static void op_delete_u(fuzz_in *in)
{
    uint64_t id = 1 + fuzz_u8(in) % (NU - 1);
    unsigned ev = fuzz_u8(in) % 3;
    mu *x = &work.u[id];
    uint64_t expect_v = ev == 0 ? ENT_VERSION_ANY : ev == 1 ? x->version : x->version + 1;
    ent_key k = ent_key_id(id);
    int expect;
    if (!x->exists) expect = ENT_NOTFOUND;
    else if ((expect_v != ENT_VERSION_ANY && expect_v != x->version) || (!work.refs_deferred && referenced(&work, id)))
        expect = ENT_CONFLICT;
    else expect = ENT_OK;
    if (want(ent_delete(s, txn, tu, &k, expect_v), expect, "delete u") == ENT_OK) {
        uint64_t v = x->version + 1;
        memset(x, 0, sizeof *x);
        if (txn) work.u_deleted[id] = 1;
        work.ucount--;
        work.seq++;
        applied(ENT_OP_DELETE, tu, &k, v);
    }
}

/* Upsert k: owner (maybe a missing u, maybe unset) and v. */
static void op_put_k(fuzz_in *in)
{
    int i = (int)(fuzz_u8(in) % NK);
    unsigned b = fuzz_u8(in);
    uint64_t owner = b & 1 ? 1 + (b >> 1) % (NU - 1) : 0;
    mk *x = &work.k[i], nx;
    ent_entity *e = NULL;
    ent_key k = ent_key_str(kkeys[i]);
    int expect, changed;
    if (ent_entity_new(&e, tk) != ENT_OK || ent_entity_set_key(e, &k) != ENT_OK) abort();
    nx = *x;
    nx.owner = owner;
    nx.has_v = (b & 0x40) != 0;
    nx.v = nx.has_v ? b >> 7 : 0;
    if (owner) ent_entity_field_set_uint(e, f_owner, owner);
    if (nx.has_v) ent_entity_field_set_uint(e, f_v, nx.v);
    changed = !x->exists || nx.owner != x->owner || nx.has_v != x->has_v || nx.v != x->v;
    expect = owner && !work.u[owner].exists && !work.refs_deferred ? ENT_INVALID : ENT_OK;
    if (want(ent_upsert(s, txn, e, ENT_VERSION_ANY), expect, "upsert k") == ENT_OK) {
        int op = x->exists ? ENT_OP_UPDATE : ENT_OP_CREATE;
        if (txn) work.k_written[i] = 1;
        if (changed) {
            nx.exists = 1;
            nx.version = x->exists ? x->version + 1 : 1;
            if (!x->exists) work.kcount++;
            *x = nx;
            work.seq++;
            applied(op, tk, &k, nx.version);
        }
        FUZZ_CHECK(ent_entity_version(e) == x->version, "upsert k version");
    }
    ent_entity_free(e);
}

static void op_delete_k(fuzz_in *in)
{
    int i = (int)(fuzz_u8(in) % NK);
    mk *x = &work.k[i];
    ent_key k = ent_key_str(kkeys[i]);
    if (want(ent_delete(s, txn, tk, &k, ENT_VERSION_ANY), x->exists ? ENT_OK : ENT_NOTFOUND, "delete k") == ENT_OK) {
        uint64_t v = x->version + 1;
        memset(x, 0, sizeof *x);
        work.kcount--;
        work.seq++;
        applied(ENT_OP_DELETE, tk, &k, v);
    }
}

static void op_find_name(fuzz_in *in)
{
    int name = (int)(fuzz_u8(in) % NNAMES);
    ent_value v = ent_value_string(names[name]);
    ent_entity *e = NULL;
    uint64_t id = name_holder(&work, name);
    if (want(ent_find_unique(&e, s, txn, f_name, &v), id ? ENT_OK : ENT_NOTFOUND, "find name") == ENT_OK)
        FUZZ_CHECK(ent_entity_key(e).id == id, "find name gave another entity");
    ent_entity_free(e);
}

static void txn_begin(int defer_uniques, int defer_refs)
{
    if (txn) return;
    want(ent_txn_begin(&txn, s, ENT_TXN_WRITE), ENT_OK, "begin");
    if (defer_uniques) {
        want(ent_txn_defer_unique_checks(txn), ENT_OK, "defer unique checks");
        work.deferred = 1;
    }
    if (defer_refs) {
        want(ent_txn_defer_ref_checks(txn), ENT_OK, "defer ref checks");
        work.refs_deferred = 1;
    }
}

/* What the commit of a transaction that defers its ref checks finds in its final state: a k it
 * wrote naming a missing u (ENT_INVALID), a u it deleted that a k still names (ENT_CONFLICT). The
 * state before it had neither, so every dangling ref is one or the other (or both: a k written to
 * name a u deleted too, when either code is right). */
static void refs_dangling(const model *m, int *invalid, int *conflict)
{
    *invalid = *conflict = 0;
    if (!m->refs_deferred) return;
    for (int i = 0; i < NK; i++)
        if (m->k_written[i] && m->k[i].exists && m->k[i].owner && !m->u[m->k[i].owner].exists) *invalid = 1;
    for (uint64_t i = 1; i < NU; i++)
        if (m->u_deleted[i] && !m->u[i].exists && referenced(m, i)) *conflict = 1;
}

/* The open transaction's marks, cleared when it ends (committed or not). */
static void txn_marks_clear(model *m)
{
    m->deferred = m->refs_deferred = 0;
    memset(m->k_written, 0, sizeof m->k_written);
    memset(m->u_deleted, 0, sizeof m->u_deleted);
}

static void txn_end(int commit)
{
    if (!txn) return;
    if (commit) {
        int twice = work.deferred && name_twice(&work), invalid, conflict, rc;
        refs_dangling(&work, &invalid, &conflict);
        rc = ent_txn_commit(txn);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
        if (!twice && !invalid && !conflict) want(rc, ENT_OK, "commit");
        else /* refused whole; with more than one fault, any of their codes */
            FUZZ_CHECK((rc == ENT_CONFLICT && (twice || conflict)) || (rc == ENT_INVALID && invalid),
                       "commit: rc %d (%s), model expects%s%s%s", rc, ent_strerror(rc), twice ? " a name held twice" : "",
                       invalid ? " a k naming a missing u" : "", conflict ? " a deleted u still named" : "");
        txn_marks_clear(&work);
        if (rc != ENT_OK) work = com; /* refused whole */
        else com = work;
    } else {
        ent_txn_abort(txn);
        work = com;
    }
    txn = NULL;
    if (commit) {
        uint64_t first, last;
        want(ent_log_bounds(&first, &last, s, NULL), ENT_OK, "log bounds");
        FUZZ_CHECK(last == com.seq, "log ends at %llu after commit, model %llu", (unsigned long long)last,
                   (unsigned long long)com.seq);
    }
}

static void op_ack(fuzz_in *in)
{
    uint64_t seq = fuzz_u8(in) % (com.seq + 2), cp = 0;
    if (txn) return; /* acknowledged alone: the transaction's events are not in the log yet */
    if (want(ent_sub_ack(s, NULL, "ops", seq), seq > com.seq ? ENT_INVALID : ENT_OK, "ack") == ENT_OK && seq > work.acked)
        work.acked = com.acked = seq; /* never moves back */
    want(ent_sub_checkpoint(&cp, s, NULL, "ops"), ENT_OK, "checkpoint");
    FUZZ_CHECK(cp == com.acked, "checkpoint %llu, model %llu", (unsigned long long)cp, (unsigned long long)com.acked);
}

/* Drop the events below `below` (force: those the subscription has not acknowledged too). Beside
 * this thread's write transaction: ENT_BUSY, the transaction as it was. */
static void op_truncate(fuzz_in *in, int force)
{
    uint64_t below = fuzz_u8(in) % (com.seq + 3), first = com.seq ? com.trunc + 1 : 0;
    int expect;
    if (txn) {
        want(ent_log_truncate(s, below, force), ENT_BUSY, "truncate in a transaction");
        return;
    }
    if (below > com.seq + 1) expect = ENT_INVALID;
    else if (!force && (com.acked + 1 > first ? com.acked + 1 : first) < below) expect = ENT_CONFLICT;
    else expect = ENT_OK;
    if (want(ent_log_truncate(s, below, force), expect, "truncate") == ENT_OK && com.seq && below > first)
        work.trunc = com.trunc = below - 1;
    check_bounds(&com);
}

static void open_store(int lmdb, int create)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = lmdb ? "lmdb" : "memory";
    o.durability = ENT_NONE;
    want(ent_store_open(&s, dir, create ? schema : NULL, &o), ENT_OK, "open");
    tu = ent_store_type(s, "u");
    tk = ent_store_type(s, "k");
    f_name = ent_type_field(tu, "name");
    f_n = ent_type_field(tu, "n");
    f_tag = ent_type_field(tu, "tag");
    f_owner = ent_type_field(tk, "owner");
    f_v = ent_type_field(tk, "v");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    int lmdb = fuzz_u8(&in) & 1;
    uint64_t problems = 0;
    if (!schema) {
        if (ent_schema_load_json(&schema, schema_json, sizeof schema_json - 1, "ops") != ENT_OK) abort();
        /* in /dev/shm unless TMPDIR is set: thousands of stores, the inputs under test, not the disk */
        if (ent_test_mkdtemp_fast(dir, sizeof dir, "fuzz-ops")) abort();
        atexit(remove_dir);
    }
    memset(&com, 0, sizeof com);
    work = com;
    txn = NULL;
    if (lmdb) wipe_dir();
    open_store(lmdb, 1);
    want(ent_sub_create(s, "ops", 0), ENT_OK, "sub create");
    for (int step = 0; step < 200 && in.n; step++) {
        unsigned op = fuzz_u8(&in);
        switch (op % 15) {
        case 0:
        case 1: op_create_u(&in); break;
        case 2: op_update_u(&in); break;
        case 3: op_delete_u(&in); break;
        case 4: op_put_k(&in); break;
        case 5: op_delete_k(&in); break;
        case 6: txn_begin((op / 15) & 1, (op / 15) & 2); break;
        case 7: txn_end(1); break;
        case 8: txn_end(0); break;
        case 9: check_u(&work, 1 + fuzz_u8(&in) % (NU - 1)); break;
        case 10: check_k(&work, (int)(fuzz_u8(&in) % NK)); break;
        case 11: op_find_name(&in); break;
        case 12: check_range(&work, (int64_t)(fuzz_u8(&in) % 5) - 2); break;
        case 13:
            if ((op / 15) & 1) op_truncate(&in, (op / 15) & 2);
            else op_ack(&in);
            break;
        default:
            /* LMDB: close and open again (a new process would find what was committed) */
            if (lmdb && !txn) {
                ent_store_close(s);
                s = NULL;
                open_store(1, 0);
                check_all(&com);
            }
            break;
        }
    }
    check_all(&work);
    txn_end(fuzz_u8(&in) & 1);
    check_all(&com);
    want(ent_store_verify(&problems, s, NULL, NULL), ENT_OK, "verify");
    ent_store_close(s);
    s = NULL;
    if (lmdb) {
        open_store(1, 0);
        check_all(&com);
        want(ent_store_verify(&problems, s, NULL, NULL), ENT_OK, "verify after reopen");
        ent_store_close(s);
        s = NULL;
        wipe_dir();
    }
    return 0;
}
