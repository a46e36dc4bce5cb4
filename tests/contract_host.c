/* What a host program found (issue 16), as a contract: the same answers on every backend ("lmdb"
 * or "memory" in argv[1]). Borrowed pointers survive the write calls that take the entity; a
 * second writer on the thread that holds the write transaction is ENT_BUSY, not a hang; resume
 * tokens belong to one index; iterators say when no further page exists; ent_sub_ack() in a read
 * transaction. A fresh store per test. */
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_write.h"
#include "test_nofile.h"
#include "test_util.h"

static const char *backend;
static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;

static const char schema_json[] =
    "{\"schema\":\"host\",\"version\":1,\"types\":{"
    "\"doc\":{\"key\":\"string\",\"fields\":{"
    "  \"name\":{\"id\":1,\"type\":\"string\",\"required\":true},"
    "  \"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"blob\":{\"id\":3,\"type\":\"bytes\"},"
    "  \"tags\":{\"id\":4,\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "  \"dims\":{\"id\":5,\"type\":\"map\",\"fields\":{"
    "     \"w\":{\"id\":1,\"type\":\"string\"},"
    "     \"h\":{\"id\":2,\"type\":\"string\",\"default\":\"tall\"}}},"
    "  \"attrs\":{\"id\":6,\"type\":\"map\"},"
    "  \"note\":{\"id\":7,\"type\":\"string\"},"
    "  \"code\":{\"id\":8,\"type\":\"string\",\"unique\":true},"
    "  \"price\":{\"id\":9,\"type\":\"float\",\"indexed\":true}}},"
    "\"tick\":{\"key\":\"auto\",\"fields\":{\"n\":{\"id\":1,\"type\":\"int\",\"indexed\":true}}}}}";

static void open_store(void)
{
    ent_test_store_open(&S, &SC, dir, backend, schema_json, "contract_host");
}

static void close_store(void) { ent_test_store_close(&S, &SC, dir); }

static inline const ent_type *T(const char *n) { return ent_store_type(S, n); }
static inline const ent_field *F(const char *t, const char *f) { return ent_type_field(T(t), f); }

/* ---- borrowed pointers ------------------------------------------------------------------------ */

/* Every string and bytes value of a doc, borrowed from the entity, with the text it must still
 * hold. Reading them after a write call is what ASan checks: a freed one is a use-after-free. */
typedef struct borrowed {
    const char *path;
    const void *p;
    size_t len;
    char want[64];
} borrowed;

static const char *const BORROWED_PATHS[] = {"name", "blob", "tags[0]", "tags[1]", "dims.w", "attrs.color", "note"};
enum { NB = sizeof BORROWED_PATHS / sizeof BORROWED_PATHS[0] };

static void borrow_all(borrowed *b, const ent_entity *e)
{
    for (int i = 0; i < NB; i++) {
        b[i].path = BORROWED_PATHS[i];
        if (strcmp(b[i].path, "blob") == 0)
            ENT_OK_(ent_entity_get_bytes(&b[i].p, &b[i].len, e, b[i].path));
        else
            ENT_OK_(ent_entity_get_string((const char **)&b[i].p, &b[i].len, e, b[i].path));
        CU_ASSERT_FATAL(b[i].len < sizeof b[i].want);
        memcpy(b[i].want, b[i].p, b[i].len);
    }
}

/* Each borrowed pointer still holds its text, and the entity still returns that same pointer. */
static void check_borrowed(const borrowed *b, const ent_entity *e, const char *after)
{
    for (int i = 0; i < NB; i++) {
        const void *now = NULL;
        size_t len = 0;
        int same = memcmp(b[i].p, b[i].want, b[i].len) == 0; /* the read ASan watches */
        if (!same) fprintf(stderr, "\n  after %s: %s changed under its borrowed pointer\n", after, b[i].path);
        CU_ASSERT(same);
        if (strcmp(b[i].path, "blob") == 0) ENT_OK_(ent_entity_get_bytes(&now, &len, e, b[i].path));
        else ENT_OK_(ent_entity_get_string((const char **)&now, &len, e, b[i].path));
        if (now != b[i].p) fprintf(stderr, "\n  after %s: %s moved\n", after, b[i].path);
        CU_ASSERT_PTR_EQUAL(now, b[i].p);
    }
}

static ent_entity *doc(const char *key)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_str(key);
    ENT_OK_(ent_entity_new(&e, T("doc")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_string(e, "name", "first name"));
    ENT_OK_(ent_entity_set_bytes(e, "blob", "\x01\x02\x03", 3));
    ENT_OK_(ent_entity_array_insert(e, "tags", 0));
    ENT_OK_(ent_entity_set_string(e, "tags[0]", "red"));
    ENT_OK_(ent_entity_array_insert(e, "tags", 1));
    ENT_OK_(ent_entity_set_string(e, "tags[1]", "green"));
    ENT_OK_(ent_entity_set_string(e, "dims.w", "wide")); /* dims.h gets its default on the write */
    ENT_OK_(ent_entity_set_string(e, "attrs.color", "blue"));
    ENT_OK_(ent_entity_set_string(e, "note", "a note"));
    return e;
}

/* value.h: a borrowed string or bytes value is valid until the field is next changed or the entity
 * freed. A write call that takes the entity changes no value it leaves equal: not on success (the
 * defaults it fills in, an update's merge), not when refused. */
static void t_borrowed_pointers_survive_writes(void)
{
    ent_entity *e, *other = NULL, *got = NULL;
    borrowed b[NB];
    ent_key k = ent_key_str("d1");
    open_store();

    e = doc("d1");
    borrow_all(b, e);
    ENT_OK_(ent_create(S, NULL, e)); /* fills dims.h in the map that holds dims.w */
    check_borrowed(b, e, "ent_create");

    /* the case: get, borrow, set another field, update */
    ENT_OK_(ent_get(&got, S, NULL, T("doc"), &k));
    borrow_all(b, got);
    ENT_OK_(ent_entity_set_int(got, "n", 2));
    ENT_OK_(ent_update(S, NULL, got, ENT_VERSION_ANY));
    check_borrowed(b, got, "ent_update");
    CU_ASSERT_EQUAL(ent_entity_version(got), 2);

    /* an update merging another writer's change of a field keeps the untouched ones in place */
    ENT_OK_(ent_get(&other, S, NULL, T("doc"), &k));
    ENT_OK_(ent_entity_set_int(other, "n", 7));
    ENT_OK_(ent_update(S, NULL, other, ENT_VERSION_ANY));
    ENT_OK_(ent_entity_set_string(got, "code", "c-1"));
    ENT_OK_(ent_update(S, NULL, got, ENT_VERSION_ANY));
    check_borrowed(b, got, "ent_update merging another change");
    {
        int64_t n = 0;
        ENT_OK_(ent_entity_get_int(&n, got, "n"));
        CU_ASSERT_EQUAL(n, 7); /* the merged value came in */
    }
    /* an update that changes nothing */
    ENT_OK_(ent_update(S, NULL, got, ENT_VERSION_ANY));
    check_borrowed(b, got, "ent_update without a change");

    ENT_OK_(ent_entity_set_int(got, "n", 3));
    ENT_OK_(ent_replace(S, NULL, got, ENT_VERSION_ANY));
    check_borrowed(b, got, "ent_replace");
    ENT_OK_(ent_entity_set_int(got, "n", 4));
    ENT_OK_(ent_upsert(S, NULL, got, ENT_VERSION_ANY));
    check_borrowed(b, got, "ent_upsert (replace)");
    ENT_OK_(ent_entity_set_version(got, 40));
    ENT_OK_(ent_restore(S, NULL, got));
    check_borrowed(b, got, "ent_restore (existing)");

    /* refused calls give the entity back as it came, borrowed pointers included */
    ENT_OK_(ent_entity_set_int(got, "n", 5));
    ENT_CHECK_RC(ent_update(S, NULL, got, 1), ENT_CONFLICT);
    check_borrowed(b, got, "a refused ent_update");
    ENT_CHECK_RC(ent_replace(S, NULL, got, 1), ENT_CONFLICT);
    check_borrowed(b, got, "a refused ent_replace");
    ent_entity_free(e);

    /* creates and upserts that fill defaults into a map, then are refused (code is taken) */
    e = doc("d2");
    ENT_OK_(ent_entity_set_string(e, "code", "c-1"));
    borrow_all(b, e);
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_CONFLICT);
    check_borrowed(b, e, "a refused ent_create");
    CU_ASSERT_FALSE(ent_entity_has(e, "dims.h")); /* the default it filled went out again */
    ENT_CHECK_RC(ent_upsert(S, NULL, e, ENT_VERSION_ANY), ENT_CONFLICT);
    check_borrowed(b, e, "a refused ent_upsert (create)");
    ENT_OK_(ent_entity_set_version(e, 3));
    ENT_CHECK_RC(ent_restore(S, NULL, e), ENT_CONFLICT);
    check_borrowed(b, e, "a refused ent_restore (create)");
    /* and then succeed */
    ENT_OK_(ent_entity_set_string(e, "code", "c-2"));
    borrow_all(b, e);
    ENT_OK_(ent_upsert(S, NULL, e, ENT_VERSION_ANY));
    check_borrowed(b, e, "ent_upsert (create)");
    ENT_OK_(ent_delete(S, NULL, T("doc"), &(ent_key){ENT_KEY_STRING, 0, "d2", 2}, ENT_VERSION_ANY));
    ENT_OK_(ent_entity_set_version(e, 9));
    ENT_OK_(ent_restore(S, NULL, e));
    check_borrowed(b, e, "ent_restore (missing)");

    /* inside a transaction too */
    {
        ent_txn *w;
        ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
        ENT_OK_(ent_entity_set_int(e, "n", 6));
        ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
        ENT_OK_(ent_txn_commit(w));
    }
    check_borrowed(b, e, "ent_update in a transaction");

    ent_entity_free(e);
    ent_entity_free(got);
    ent_entity_free(other);
    close_store();
}

/* ---- a second writer on the writing thread ---------------------------------------------------- */

static void t_second_writer_on_the_writing_thread_is_busy(void)
{
    ent_txn *w = NULL, *w2 = NULL, *r = NULL;
    ent_entity *e, *got = NULL;
    ent_key k = ent_key_str("b1");
    open_store();
    e = doc("b1");
    ENT_OK_(ent_create(S, NULL, e));
    /* Before the fix each of these waited forever for the writer this thread holds: a hang is
     * turned into a failure of the suite rather than a wait for ctest's timeout. */
    alarm(60);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(ent_txn_begin(&w2, S, ENT_TXN_WRITE), ENT_BUSY);
    ENT_ASSERT_MSG("write transaction");
    CU_ASSERT_PTR_NULL(w2);
    ENT_OK_(ent_entity_set_int(e, "n", 9));
    ENT_CHECK_RC(ent_update(S, NULL, e, ENT_VERSION_ANY), ENT_BUSY);
    ENT_CHECK_RC(ent_create(S, NULL, e), ENT_BUSY);
    ENT_CHECK_RC(ent_replace(S, NULL, e, ENT_VERSION_ANY), ENT_BUSY);
    ENT_CHECK_RC(ent_upsert(S, NULL, e, ENT_VERSION_ANY), ENT_BUSY);
    ENT_CHECK_RC(ent_restore(S, NULL, e), ENT_BUSY);
    ENT_CHECK_RC(ent_delete(S, NULL, T("doc"), &k, ENT_VERSION_ANY), ENT_BUSY);
    ENT_CHECK_RC(ent_sub_create(S, "busy", 0), ENT_BUSY);
    /* reads need no writer: a read with txn NULL sees the last commit */
    ENT_OK_(ent_get(&got, S, NULL, T("doc"), &k));
    ent_entity_free(got);
    got = NULL;
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ent_txn_abort(r);
    /* the held transaction is unharmed and commits */
    ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(w));
    /* and once it ended the thread writes again, also after an abort */
    ENT_OK_(ent_entity_set_int(e, "n", 10));
    ENT_OK_(ent_update(S, NULL, e, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ent_txn_abort(w);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_sub_create(S, "busy", 0));
    alarm(0);
    ent_entity_free(e);
    close_store();
}

/* store.h: a write transaction may begin while the thread holds a read transaction. The write
 * sees the last commit, the read keeps its snapshot; once the write commits, the read still sees
 * its own snapshot and a new read sees the commit. */
static void t_write_beside_own_read(void)
{
    ent_txn *r = NULL, *w = NULL;
    ent_entity *e, *got = NULL;
    ent_key k = ent_key_str("r1");
    int64_t n = 0;
    open_store();
    e = doc("r1");
    ENT_OK_(ent_entity_set_int(e, "n", 1));
    ENT_OK_(ent_create(S, NULL, e));
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ENT_OK_(ent_entity_set_int(e, "n", 2));
    ENT_OK_(ent_update(S, NULL, e, ENT_VERSION_ANY)); /* after r began */
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_get(&got, S, w, T("doc"), &k));
    ENT_OK_(ent_entity_get_int(&n, got, "n"));
    CU_ASSERT_EQUAL(n, 2); /* the write sees the last commit, not r's snapshot */
    ent_entity_free(got);
    ENT_OK_(ent_entity_set_int(e, "n", 3));
    ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_get(&got, S, r, T("doc"), &k));
    ENT_OK_(ent_entity_get_int(&n, got, "n"));
    CU_ASSERT_EQUAL(n, 1); /* r keeps its snapshot */
    ent_entity_free(got);
    ent_txn_abort(r);
    ENT_OK_(ent_get(&got, S, NULL, T("doc"), &k));
    ENT_OK_(ent_entity_get_int(&n, got, "n"));
    CU_ASSERT_EQUAL(n, 3);
    ent_entity_free(got);
    ent_entity_free(e);
    close_store();
}

/* ---- resume tokens and pages ------------------------------------------------------------------ */

static void fill_ticks(int count)
{
    ent_txn *w;
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < count; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, T("tick")));
        ENT_OK_(ent_entity_set_int(e, "n", i % 7));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
}

/* A token names the index (or type) it was made by: a range over another index refuses it, as a
 * scan of another type does, rather than restart or skip silently. */
static void t_resume_token_of_another_index_is_refused(void)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e;
    char tick_tok[256], doc_tok[256], scan_tok[256];
    open_store();
    fill_ticks(10);
    {
        ent_entity *d = doc("t1");
        ENT_OK_(ent_entity_set_int(d, "n", 3));
        ENT_OK_(ent_entity_set_float(d, "price", 3));
        ENT_OK_(ent_create(S, NULL, d));
        ent_entity_free(d);
    }
    o.limit = 2;
    ENT_OK_(ent_range(&it, S, NULL, F("tick", "n"), &o));
    while (ent_iter_next(&e, it) == ENT_OK) ent_entity_free(e);
    snprintf(tick_tok, sizeof tick_tok, "%s", ent_iter_resume(it));
    ent_iter_free(it);
    ENT_OK_(ent_range(&it, S, NULL, F("doc", "n"), &o));
    ENT_OK_(ent_iter_next(&e, it));
    ent_entity_free(e);
    snprintf(doc_tok, sizeof doc_tok, "%s", ent_iter_resume(it));
    ent_iter_free(it);
    ENT_OK_(ent_scan(&it, S, NULL, T("tick"), NULL, &o));
    ENT_OK_(ent_iter_next(&e, it));
    ent_entity_free(e);
    snprintf(scan_tok, sizeof scan_tok, "%s", ent_iter_resume(it));
    ent_iter_free(it);

    /* each token resumes where it was made */
    o.resume = tick_tok;
    ENT_OK_(ent_range(&it, S, NULL, F("tick", "n"), &o));
    ent_iter_free(it);
    o.resume = doc_tok;
    ENT_OK_(ent_range(&it, S, NULL, F("doc", "n"), &o));
    ent_iter_free(it);
    /* an index of another type with the same field name and key encoding */
    o.resume = tick_tok;
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("doc", "n"), &o), ENT_INVALID);
    ENT_ASSERT_MSG("doc.n");
    CU_ASSERT_PTR_NULL(it);
    o.resume = doc_tok;
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("tick", "n"), &o), ENT_INVALID);
    /* another index of the same type */
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("doc", "price"), &o), ENT_INVALID);
    /* a scan's token on an index and back, and a scan of another type */
    o.resume = scan_tok;
    ENT_CHECK_RC(ent_range(&it, S, NULL, F("tick", "n"), &o), ENT_INVALID);
    ENT_CHECK_RC(ent_scan(&it, S, NULL, T("doc"), NULL, &o), ENT_INVALID);
    ENT_ASSERT_MSG("type doc");
    o.resume = tick_tok;
    ENT_CHECK_RC(ent_scan(&it, S, NULL, T("tick"), NULL, &o), ENT_INVALID);
    {
        /* a token edited by hand: the longest key a doc can have resumes (after every doc), one
         * byte more is no position of the type's and is refused, naming why */
        char tok[16 + 2 * 256 + 1];
        ent_range_opts so = ENT_RANGE_OPTS_INIT;
        size_t at = (size_t)snprintf(tok, sizeof tok, "k646f63."); /* a scan of "doc" */
        for (int i = 0; i < 255; i++) at += (size_t)snprintf(tok + at, sizeof tok - at, "7a");
        so.resume = tok;
        ENT_OK_(ent_scan(&it, S, NULL, T("doc"), NULL, &so));
        CU_ASSERT_EQUAL(ent_iter_next(&e, it), ENT_NOTFOUND);
        ent_iter_free(it);
        it = NULL;
        snprintf(tok + at, sizeof tok - at, "7a");
        ENT_CHECK_RC(ent_scan(&it, S, NULL, T("doc"), NULL, &so), ENT_INVALID);
        ENT_ASSERT_MSG("malformed resume token: it names a key of 256 bytes, and type doc's keys are 1 to 255 bytes");
        CU_ASSERT_PTR_NULL(it);
    }
    close_store();
}

/* Page through with ent_iter_more(): the last page is known without reading an empty one. */
static void page_through(int total, uint64_t page, int by_index, int reverse)
{
    char tok[256] = "";
    int seen = 0, pages = 0;
    for (;;) {
        ent_range_opts o = ENT_RANGE_OPTS_INIT;
        ent_iter *it = NULL;
        ent_entity *e;
        int in_page = 0, more;
        o.limit = page;
        o.flags = reverse ? ENT_ITER_REVERSE : 0;
        o.resume = tok[0] ? tok : NULL;
        if (by_index) ENT_OK_(ent_range(&it, S, NULL, F("tick", "n"), &o));
        else ENT_OK_(ent_scan(&it, S, NULL, T("tick"), NULL, &o));
        /* before the first entity: whether there is one */
        CU_ASSERT_EQUAL(ent_iter_more(it), seen < total);
        while (ent_iter_next(&e, it) == ENT_OK) {
            in_page++;
            ent_entity_free(e);
            /* more is asked in the middle of a page too, and does not skip what it looked at */
            CU_ASSERT_EQUAL(ent_iter_more(it), seen + in_page < total);
        }
        seen += in_page;
        pages++;
        more = ent_iter_more(it);
        CU_ASSERT(more == 0 || more == 1);
        CU_ASSERT_EQUAL(more, seen < total);
        if (in_page) snprintf(tok, sizeof tok, "%s", ent_iter_resume(it));
        ent_iter_free(it);
        CU_ASSERT_FATAL(pages <= total + 1);
        if (!more) break;
        CU_ASSERT_EQUAL(in_page, (int)page); /* only the last page is short, and none is empty */
    }
    CU_ASSERT_EQUAL(seen, total);
    CU_ASSERT_EQUAL(pages, total == 0 ? 1 : (int)((total + (int)page - 1) / (int)page));
}

static void t_iterator_says_when_no_page_follows(void)
{
    open_store();
    page_through(0, 3, 1, 0);
    page_through(0, 3, 0, 0);
    fill_ticks(12); /* 12 = 4 pages of 3 exactly: the case that used to need an empty fifth read */
    for (int reverse = 0; reverse < 2; reverse++)
        for (int by_index = 0; by_index < 2; by_index++) {
            page_through(12, 3, by_index, reverse);
            page_through(12, 5, by_index, reverse);
            page_through(12, 12, by_index, reverse);
            page_through(12, 1, by_index, reverse);
        }
    /* an exact look-up and a bounded range end at their bounds, not at the table's end */
    {
        ent_value v = ent_value_int(6);
        ent_iter *it = NULL;
        ent_entity *e;
        int n = 0;
        ENT_OK_(ent_find(&it, S, NULL, F("tick", "n"), &v));
        while (ent_iter_more(it) == 1) {
            ENT_OK_(ent_iter_next(&e, it));
            ent_entity_free(e);
            n++;
        }
        CU_ASSERT_EQUAL(n, 1); /* tick 7 (n = 6); ticks 14 and up do not exist */
        ENT_CHECK_RC(ent_iter_next(&e, it), ENT_NOTFOUND);
        CU_ASSERT_EQUAL(ent_iter_more(it), 0);
        ent_iter_free(it);
    }
    CU_ASSERT(ent_iter_more(NULL) < 0);
    close_store();
}

/* it (in write txn w) has one entity to give, then tick `last`, the last it would give: after
 * ent_iter_more() kept that tick, w deletes it; ent_iter_more() then says 0 and the iterator ends.
 * Frees it and aborts w. */
static void more_after_kept_deleted(ent_txn *w, ent_iter *it, uint64_t last)
{
    ent_entity *e = NULL;
    ent_key k = ent_key_id(last);
    ENT_OK_(ent_iter_next(&e, it));
    ent_entity_free(e);
    CU_ASSERT_EQUAL(ent_iter_more(it), 1);
    ENT_OK_(ent_delete(S, w, T("tick"), &k, ENT_VERSION_ANY));
    CU_ASSERT_EQUAL(ent_iter_more(it), 0);
    ENT_CHECK_RC(ent_iter_next(&e, it), ENT_NOTFOUND);
    ent_iter_free(it);
    ent_txn_abort(w);
}

/* ent_iter_more() keeps the next index pair for ent_iter_next(); in a write txn the txn's own
 * write may then move (update) or remove (delete) that entity. The kept pair is gone, not damage:
 * the iterator goes on from after it, seeing a moved entity at its new place. It returned
 * ENT_CORRUPT ("index n has an entry for a value the entity does not hold", or "for a missing
 * entity") on a healthy store. Forward and reversed, over a non-unique and a unique index. */
static void own_write_after_more(const char *type, const char *field, int reverse, int del)
{
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    ent_txn *w = NULL;
    ent_key keys[16];
    char kstr[16][32];
    int n = 0, seen = 0, rc;
    o.flags = reverse ? ENT_ITER_REVERSE : 0;
    ENT_OK_(ent_range(&it, S, NULL, F(type, field), &o));
    while (n < 16 && ent_iter_next(&e, it) == ENT_OK) {
        keys[n] = ent_entity_key(e);
        if (keys[n].kind == ENT_KEY_STRING) {
            snprintf(kstr[n], sizeof kstr[n], "%.*s", (int)keys[n].len, keys[n].str);
            keys[n] = ent_key_str(kstr[n]);
        }
        n++;
        ent_entity_free(e);
    }
    ent_iter_free(it);
    CU_ASSERT_FATAL(n >= 3);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_range(&it, S, w, F(type, field), &o));
    ENT_OK_(ent_iter_next(&e, it));
    ent_entity_free(e);
    seen = 1;
    CU_ASSERT_EQUAL(ent_iter_more(it), 1); /* keeps keys[1]'s pair */
    if (del) {
        ENT_OK_(ent_delete(S, w, T(type), &keys[1], ENT_VERSION_ANY));
    } else {
        /* moved to where the iterator has yet to go: it is seen there, once */
        ENT_OK_(ent_get(&e, S, w, T(type), &keys[1]));
        if (ent_field_kind(F(type, field)) == ENT_KIND_INT) ENT_OK_(ent_entity_set_int(e, field, reverse ? -1000 : 1000));
        else ENT_OK_(ent_entity_set_string(e, field, reverse ? "0" : "zz"));
        ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
        ent_entity_free(e);
    }
    while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
        seen++;
        ent_entity_free(e);
    }
    if (rc != ENT_NOTFOUND) fprintf(stderr, "\n  %s.%s reverse %d delete %d: %s\n", type, field, reverse, del, ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
    CU_ASSERT_EQUAL(seen, del ? n - 1 : n);
    ent_iter_free(it);
    ent_txn_abort(w);
}

static void t_own_write_after_iter_more(void)
{
    open_store();
    fill_ticks(12);
    for (int i = 0; i < 5; i++) {
        char js[96];
        ent_entity *e = NULL;
        snprintf(js, sizeof js, "{\"name\":\"d%d\",\"code\":\"c%d\"}", i, i);
        ENT_OK_(ent_entity_from_json(&e, T("doc"), js, strlen(js)));
        snprintf(js, sizeof js, "d%d", i);
        ent_key k = ent_key_str(js);
        ENT_OK_(ent_entity_set_key(e, &k));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    for (int reverse = 0; reverse < 2; reverse++)
        for (int del = 0; del < 2; del++) {
            own_write_after_more("tick", "n", reverse, del);
            own_write_after_more("doc", "code", reverse, del);
        }
    /* ent_iter_more() again after its pair was taken: whether another follows, not the gone one */
    {
        ent_value v = ent_value_int(0);
        ent_iter *it = NULL;
        ent_txn *w = NULL;
        ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
        ENT_OK_(ent_find(&it, S, w, F("tick", "n"), &v)); /* ticks 1 and 8 */
        more_after_kept_deleted(w, it, 8);
    }
    close_store();
}

/* The same for a type scan, whose kept pair is the entity's key and record: after ent_iter_more()
 * kept tick 3, the write txn deletes it, or updates it: the scan goes on after it, or gives it as
 * it is now (n 70, version 2), as it does when no entry was kept (each way, reversed too). It
 * handed out the deleted entity and the stale record (n 2, version 1); and ent_iter_more() said
 * 1 for a kept entity deleted since, with nothing after it. */
static void t_own_write_after_scan_more(void)
{
    open_store();
    fill_ticks(5); /* ids 1..5, n = id - 1 */
    for (int reverse = 0; reverse < 2; reverse++)
        for (int del = 0; del < 2; del++)
            for (int peek = 0; peek < 2; peek++) {
                ent_range_opts o = ENT_RANGE_OPTS_INIT;
                ent_iter *it = NULL;
                ent_entity *e = NULL;
                ent_txn *w = NULL;
                ent_key k3 = ent_key_id(3);
                char got[64] = "", want[64];
                size_t at = 0;
                int rc;
                o.flags = reverse ? ENT_ITER_REVERSE : 0;
                ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
                ENT_OK_(ent_scan(&it, S, w, T("tick"), &(ent_key){ENT_KEY_AUTO, reverse ? 4 : 2, NULL, 0}, &o));
                ENT_OK_(ent_iter_next(&e, it)); /* tick 2 (4 reversed): tick 3 is next either way */
                ent_entity_free(e);
                if (peek) CU_ASSERT_EQUAL(ent_iter_more(it), 1);
                if (del) {
                    ENT_OK_(ent_delete(S, w, T("tick"), &k3, ENT_VERSION_ANY));
                } else {
                    ENT_OK_(ent_get(&e, S, w, T("tick"), &k3));
                    ENT_OK_(ent_entity_set_int(e, "n", 70));
                    ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
                    ent_entity_free(e);
                }
                while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
                    int64_t n = -1;
                    ENT_OK_(ent_entity_get_int(&n, e, "n"));
                    at += (size_t)snprintf(got + at, sizeof got - at, "%llu:%lld:v%llu ",
                                           (unsigned long long)ent_entity_key(e).id, (long long)n,
                                           (unsigned long long)ent_entity_version(e));
                    ent_entity_free(e);
                }
                CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
                snprintf(want, sizeof want, "%s%s", del ? "" : "3:70:v2 ", reverse ? "2:1:v1 1:0:v1 " : "4:3:v1 5:4:v1 ");
                if (strcmp(got, want) != 0)
                    fprintf(stderr, "\n  scan %s, %s after %s: got \"%s\", want \"%s\"\n", reverse ? "reversed" : "forward",
                            del ? "delete" : "update", peek ? "ent_iter_more()" : "no peek", got, want);
                CU_ASSERT_STRING_EQUAL(got, want);
                ent_iter_free(it);
                ent_txn_abort(w);
            }
    /* ent_iter_more() again after the kept entity was deleted, nothing after it: 0 */
    {
        ent_iter *it = NULL;
        ent_txn *w = NULL;
        ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
        ENT_OK_(ent_scan(&it, S, w, T("tick"), &(ent_key){ENT_KEY_AUTO, 4, NULL, 0}, NULL));
        more_after_kept_deleted(w, it, 5); /* ticks 4 and 5 */
    }
    close_store();
}

/* ent_iter_more() is a question: in a write txn, an entity the txn creates between the last one
 * returned and the one ent_iter_more() kept is returned after it all the same, as without the
 * question (store.h: created entities past the position are returned when reached). After a
 * peek it was skipped, on every kind of iterator. Each kind, with and without ent_iter_more()
 * before each ent_iter_next(): b d e f h, e created once d is returned. */
static void t_iter_more_changes_nothing(void)
{
    static const char *const keys[] = {"b", "d", "f", "h"};
    open_store();
    for (int i = 0; i < 4; i++) {
        char js[96];
        ent_entity *e = NULL;
        ent_key k = ent_key_str(keys[i]);
        snprintf(js, sizeof js, "{\"name\":\"x\",\"n\":7,\"code\":\"%s\",\"price\":%d}", keys[i], 2 * i + 1);
        ENT_OK_(ent_entity_from_json(&e, T("doc"), js, strlen(js)));
        ENT_OK_(ent_entity_set_key(e, &k));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    for (int kind = 0; kind < 4; kind++)
        for (int peek = 0; peek < 2; peek++) {
            static const char *const names[] = {"scan", "range over price", "range over code (unique)", "find n = 7"};
            ent_value seven = ent_value_int(7);
            ent_iter *it = NULL;
            ent_entity *e = NULL;
            ent_txn *w = NULL;
            char got[64] = "";
            size_t at = 0;
            int rc, n = 0;
            ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
            if (kind == 0) ENT_OK_(ent_scan(&it, S, w, T("doc"), NULL, NULL));
            else if (kind == 3) ENT_OK_(ent_find(&it, S, w, F("doc", "n"), &seven));
            else ENT_OK_(ent_range(&it, S, w, F("doc", kind == 1 ? "price" : "code"), NULL));
            for (int made = 0;;) {
                /* with the question, e is made while the answer (f) is kept */
                if (peek) CU_ASSERT_EQUAL(ent_iter_more(it), n < 5 ? 1 : 0);
                if (n == 2 && !made) {
                    static const char js[] = "{\"name\":\"x\",\"n\":7,\"code\":\"e\",\"price\":4}";
                    ent_key ke = ent_key_str("e");
                    ENT_OK_(ent_entity_from_json(&e, T("doc"), js, strlen(js)));
                    ENT_OK_(ent_entity_set_key(e, &ke));
                    ENT_OK_(ent_create(S, w, e));
                    ent_entity_free(e);
                    made = 1;
                }
                if ((rc = ent_iter_next(&e, it)) != ENT_OK) break;
                ent_key k = ent_entity_key(e);
                at += (size_t)snprintf(got + at, sizeof got - at, "%.*s ", (int)k.len, k.str);
                ent_entity_free(e);
                n++;
            }
            CU_ASSERT_EQUAL(rc, ENT_NOTFOUND);
            if (strcmp(got, "b d e f h ") != 0)
                fprintf(stderr, "\n  %s %s ent_iter_more(): got \"%s\"\n", names[kind], peek ? "with" : "without", got);
            CU_ASSERT_STRING_EQUAL(got, "b d e f h ");
            ent_iter_free(it);
            ent_txn_abort(w);
        }
    close_store();
}

/* An iterator left open past its transaction (a misuse the header names: free it before the txn
 * ends) answers ENT_INVALID saying so, keeps its resume token, and frees cleanly: its cursor went
 * with the txn, and freeing it once read the txn's freed cursor (use after free under ASan). The
 * txns begun afterwards, which reuse the ended one's memory, are not disturbed. */
static int leave_iter_open(ent_txn *txn, void *payload)
{
    ent_iter **it = payload;
    ent_entity *e = NULL;
    int rc = ent_scan(it, S, txn, T("tick"), NULL, NULL);
    if (rc == ENT_OK && (rc = ent_iter_next(&e, *it)) == ENT_OK) ent_entity_free(e);
    return rc;
}

static void t_iterator_outliving_its_txn(void)
{
    open_store();
    fill_ticks(5);
    for (int how = 0; how < 4; how++) { /* read commit, read abort, write commit, write abort */
        ent_txn *t = NULL, *u = NULL;
        ent_iter *a = NULL, *b = NULL, *c = NULL;
        ent_entity *e = NULL;
        ent_value v = ent_value_int(2);
        char tok[256];
        int n = 0;
        ENT_OK_(ent_txn_begin(&t, S, how < 2 ? ENT_TXN_READ : ENT_TXN_WRITE));
        ENT_OK_(ent_scan(&a, S, t, T("tick"), NULL, NULL));
        ENT_OK_(ent_find(&b, S, t, F("tick", "n"), &v));
        ENT_OK_(ent_scan(&c, S, t, T("tick"), NULL, NULL));
        ENT_OK_(ent_iter_next(&e, a));
        ent_entity_free(e);
        snprintf(tok, sizeof tok, "%s", ent_iter_resume(a));
        ent_iter_free(b); /* one freed in time, between the others on the txn's list */
        if (how % 2 == 0) ENT_OK_(ent_txn_commit(t));
        else ent_txn_abort(t);
        ENT_CHECK_RC(ent_iter_next(&e, a), ENT_INVALID);
        CU_ASSERT_PTR_NULL(e);
        ENT_ASSERT_MSG("the iterator's transaction has ended");
        CU_ASSERT(ent_iter_more(c) < 0);
        CU_ASSERT_STRING_EQUAL(ent_iter_resume(a), tok); /* the position is still the caller's */
        /* a txn begun now takes the ended one's memory; the late frees must not touch it */
        ENT_OK_(ent_txn_begin(&u, S, ENT_TXN_READ));
        ent_iter_free(a);
        ent_iter_free(c);
        ENT_OK_(ent_scan(&a, S, u, T("tick"), NULL, NULL));
        while (ent_iter_next(&e, a) == ENT_OK) {
            ent_entity_free(e);
            n++;
        }
        CU_ASSERT_EQUAL(n, 5);
        ent_iter_free(a);
        ent_txn_abort(u);
    }
    /* ent_txn_run's function that leaves one open: it ends when the function's work is kept */
    {
        ent_iter *it = NULL;
        ent_entity *e = NULL;
        ENT_OK_(ent_txn_run(S, leave_iter_open, &it));
        CU_ASSERT_PTR_NOT_NULL_FATAL(it);
        ENT_CHECK_RC(ent_iter_next(&e, it), ENT_INVALID);
        ent_iter_free(it);
    }
    close_store();
}

/* A map size below ENT_MAP_SIZE_MIN is refused before anything is made (it left a directory whose
 * tables could not be made, which no later open could use); the minimum itself makes a store that
 * grows as needed. */
static void t_map_size_floor(void)
{
    ent_store *st = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    char path[ENT_TEST_PATH_MAX];
    struct stat sb;
    open_store();
    ENT_TEST_PATH(path, "%s/small", dir);
    o.backend = backend;
    o.durability = ENT_NONE;
    o.map_size = 4096;
    ENT_CHECK_RC(ent_store_open(&st, path, SC, &o), ENT_INVALID);
    ENT_ASSERT_MSG("map_size 4096 is below");
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0); /* nothing made */
    o.map_size = ENT_MAP_SIZE_MIN;
    ENT_OK_(ent_store_open(&st, path, SC, &o));
    for (int i = 0; i < 300; i++) {
        ent_entity *e = NULL;
        char key[16], name[200];
        snprintf(key, sizeof key, "k%04d", i);
        memset(name, 'a' + i % 26, sizeof name - 1);
        name[sizeof name - 1] = '\0';
        ent_key k = ent_key_str(key);
        ENT_OK_(ent_entity_new(&e, ent_store_type(st, "doc")));
        ENT_OK_(ent_entity_set_key(e, &k));
        ENT_OK_(ent_entity_set_string(e, "name", name));
        ENT_OK_(ent_create(st, NULL, e));
        ent_entity_free(e);
    }
    ent_store_close(st);
    o.map_size = 0; /* and it opens again with the default */
    ENT_OK_(ent_store_open(&st, path, SC, &o));
    ent_store_close(st);
    close_store();
}

/* ---- durable subscriptions -------------------------------------------------------------------- */

static void t_sub_ack_in_read_txn_is_readonly(void)
{
    ent_txn *r;
    open_store();
    fill_ticks(2);
    ENT_OK_(ent_sub_create(S, "reader", 0));
    ENT_OK_(ent_txn_begin(&r, S, ENT_TXN_READ));
    ENT_CHECK_RC(ent_sub_ack(S, r, "reader", 1), ENT_READONLY);
    ENT_ASSERT_MSG("read transaction");
    ent_txn_abort(r);
    ENT_OK_(ent_sub_ack(S, NULL, "reader", 1));
    close_store();
}

/* ---- floats in JSON ------------------------------------------------------------------------------ */

/* Entity JSON and event JSON print each float as the shortest text that reads back to it (0.99, not
 * 0.98999999999999999), and reading that JSON gives the same double: extremes, subnormals, both
 * zeros and random bit patterns. */
static void t_float_json_shortest_and_exact(void)
{
    static const double specials[] = {0.99, 0.1 + 0.2, -0.0, 0.0, 1.0, 100.0, DBL_MAX, -DBL_MAX, DBL_MIN,
                                      4.9406564584124654e-324, 2.2250738585072009e-308, 1e-7, 12345.678};
    enum { NS = sizeof specials / sizeof specials[0], N = NS + 300 };
    uint64_t x = 88172645463325252u;
    ent_log_cursor *c = NULL;
    ent_txn *w;
    double vals[N];
    open_store();
    for (int i = 0; i < N; i++) {
        if (i < NS) {
            vals[i] = specials[i];
            continue;
        }
        do { /* xorshift64: random bit patterns, every exponent */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(&vals[i], &x, sizeof x);
        } while (!isfinite(vals[i]));
    }
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < N; i++) {
        char key[32];
        ent_entity *e;
        snprintf(key, sizeof key, "f%03d", i);
        e = doc(key);
        ENT_OK_(ent_entity_set_float(e, "price", vals[i]));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_log_cursor_open(&c, S, 1, T("doc"), ENT_OP_CREATE));
    for (int i = 0; i < N; i++) {
        char key[32], want[48], *ej = NULL, *vj = NULL;
        ent_key k;
        ent_entity *e = NULL;
        ent_event *ev = NULL;
        snprintf(key, sizeof key, "f%03d", i);
        k = ent_key_str(key);
        snprintf(want, sizeof want, "\"price\":");
        ent__json_real(want + strlen(want), vals[i]);
        ENT_OK_(ent_get(&e, S, NULL, T("doc"), &k));
        ENT_OK_(ent_entity_to_json(&ej, e, ENT_JSON_ENTITY));
        ENT_OK_(ent_log_next(&ev, c));
        ENT_OK_(ent_event_to_json(&vj, ev, 0));
        for (int j = 0; j < 2; j++) {
            const char *text = j ? vj : ej;
            json_error_t err;
            json_t *root = json_loads(text, 0, &err);
            json_t *data = json_object_get(root, "data");
            ent_entity *back = NULL;
            char *dj = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(17));
            double got = 0;
            if (!strstr(text, want)) fprintf(stderr, "\n  %s lacks %s\n", text, want);
            CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
            CU_ASSERT_FATAL(root && dj);
            ENT_OK_(ent_entity_from_json(&back, T("doc"), dj, strlen(dj)));
            ENT_OK_(ent_entity_get_float(&got, back, "price"));
            CU_ASSERT(memcmp(&got, &vals[i], sizeof got) == 0);
            ent_entity_free(back);
            free(dj);
            json_decref(root);
        }
        free(ej);
        free(vj);
        ent_event_free(ev);
        ent_entity_free(e);
    }
    ent_log_cursor_free(c);
    close_store();
}

/* ---- what the headers say: event types, memory paths ------------------------------------------ */

static void type_seen(const ent_event *ev, void *payload)
{
    const ent_type **seen = payload;
    *seen = ev->type;
}

/* log.h: ev->type is the store's own type object, equal by pointer to ent_store_type() (in the
 * log and in a callback), never to the types of the schema object the store was opened with. */
static void t_event_type_is_the_store_type(void)
{
    const ent_type *in_cb = NULL;
    ent_subscriber *sub = NULL;
    ent_event *ev = NULL;
    ent_entity *e;
    open_store();
    ENT_OK_(ent_subscribe(&sub, S, NULL, 0, type_seen, &in_cb));
    e = doc("e1");
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
    CU_ASSERT_PTR_EQUAL(in_cb, T("doc"));
    ENT_OK_(ent_log_get(&ev, S, NULL, 1));
    CU_ASSERT_PTR_EQUAL(ev->type, T("doc"));
    CU_ASSERT_PTR_NOT_EQUAL(ev->type, ent_schema_type(SC, "doc"));
    CU_ASSERT_STRING_EQUAL(ent_type_name(ev->type), ent_type_name(ent_schema_type(SC, "doc")));
    ent_event_free(ev);
    ent_unsubscribe(S, sub);
    close_store();
}

/* store.h: a memory store takes a NULL path, each open is a new store; LMDB needs a directory. */
static void t_store_path_null(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *m = NULL, *m2 = NULL;
    ent_schema *sc = NULL;
    uint64_t n = 1;
    o.backend = backend;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "contract_host"));
    if (strcmp(backend, "memory") == 0) {
        ent_entity *e = NULL;
        ENT_OK_(ent_store_open(&m, NULL, sc, &o));
        ENT_OK_(ent_entity_new(&e, ent_store_type(m, "tick")));
        ENT_OK_(ent_create(m, NULL, e));
        ent_entity_free(e);
        ENT_OK_(ent_store_open(&m2, NULL, sc, &o));
        ENT_OK_(ent_count(&n, m2, NULL, ent_store_type(m2, "tick")));
        CU_ASSERT_EQUAL(n, 0); /* a new store, not m's */
        ENT_OK_(ent_count(&n, m, NULL, ent_store_type(m, "tick")));
        CU_ASSERT_EQUAL(n, 1);
        ent_store_close(m2);
        ent_store_close(m);
        ENT_CHECK_RC(ent_store_open(&m, NULL, NULL, &o), ENT_NOTFOUND);
        ENT_ASSERT_MSG("(no path)");
    } else if (strcmp(backend, "lmdb") == 0) {
        ENT_CHECK_RC(ent_store_open(&m, NULL, sc, &o), ENT_INVALID);
        ENT_ASSERT_MSG("directory");
        CU_ASSERT_PTR_NULL(m);
    }
    ent_schema_free(sc);
}

/* ---- a host that changes its directory -------------------------------------------------------- */

/* A host opens its store by a relative path ("./st") and then changes its working directory (a
 * daemon's chdir("/"), a tool's cd into another tree). Everything later that names a file of the
 * store must still name that store's: ent_store_path() (the NATS relay puts relay.lock there: a
 * relay started after the chdir made its lock in the new directory, or failed, and a second relay
 * of the store was not kept out), ent_store_get_info()'s disk_bytes (it stat()ed "./st/data.mdb"
 * under the new directory: 0, or another store's size) and the writes, syncs and copies. */
static void t_relative_path_after_chdir(void)
{
    char base[ENT_TEST_PATH_MAX], a[ENT_TEST_PATH_MAX], b[ENT_TEST_PATH_MAX], data[ENT_TEST_PATH_MAX];
    char cwd[ENT_TEST_PATH_MAX], there[ENT_TEST_PATH_MAX];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *m = NULL, *m2 = NULL;
    ent_schema *sc = NULL;
    ent_store_info info;
    struct stat st, held;
    uint64_t n = 0;
    if (strcmp(backend, "lmdb") != 0) return;
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    ENT_TEST_MKDTEMP(base, "host-chdir");
    ENT_TEST_PATH(a, "%s/a", base);
    ENT_TEST_PATH(b, "%s/b", base);
    CU_ASSERT_FATAL(mkdir(a, 0700) == 0 && mkdir(b, 0700) == 0);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "contract_host"));
    o.backend = backend;
    o.durability = ENT_DURABLE;
    CU_ASSERT_FATAL(chdir(a) == 0);
    ENT_OK_(ent_store_open(&m, "./st", sc, &o));
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_FATAL(chdir(b) == 0); /* b has no st: a relative name now names nothing */
    ENT_TEST_PATH(data, "%s/data.mdb", ent_store_path(m));
    ENT_TEST_PATH(there, "%s/st/data.mdb", a);
    CU_ASSERT_FATAL(stat(there, &held) == 0);
    CU_ASSERT(stat(data, &st) == 0 && st.st_ino == held.st_ino && st.st_dev == held.st_dev);
    for (int i = 0; i < 20; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(m, "tick")));
        ENT_OK_(ent_create(m, NULL, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_store_sync(m));
    ENT_OK_(ent_store_get_info(&info, m));
    CU_ASSERT(stat(there, &held) == 0 && info.disk_bytes == (uint64_t)held.st_size);
    ENT_OK_(ent_store_copy(m, "cp", 0)); /* dest is the host's, under the directory current now */
    ENT_TEST_PATH(data, "%s/cp/data.mdb", b);
    CU_ASSERT(stat(data, &st) == 0);
    /* Moved while open (mv a/st a/st2): the files open are the store's still; its size too. */
    ENT_TEST_PATH(data, "%s/st2", a);
    ENT_TEST_PATH(there, "%s/st", a);
    CU_ASSERT_FATAL(rename(there, data) == 0);
    ENT_OK_(ent_store_get_info(&info, m));
    CU_ASSERT(info.disk_bytes == (uint64_t)held.st_size);
    ent_store_close(m);
    CU_ASSERT_FATAL(rename(data, there) == 0);
    ENT_TEST_PATH(data, "%s/st", a);
    o.no_create = 1;
    ENT_OK_(ent_store_open(&m2, data, NULL, &o));
    ENT_OK_(ent_count(&n, m2, NULL, ent_store_type(m2, "tick")));
    CU_ASSERT_EQUAL(n, 20);
    ent_store_close(m2);
    CU_ASSERT(chdir(cwd) == 0);
    ent_schema_free(sc);
    ent_test_rm_rf(base);
}

/* A host that runs programs (fork()+exec(), posix_spawn(), system()) while its store is open:
 * none of them may inherit a descriptor of the store's files. LMDB opens data.mdb without
 * O_CLOEXEC, and every program run from a host held data.mdb open for its whole life (20 of 20
 * exec'd shells of a host writing from 4 threads, posix_spawn() and system() too). Every
 * descriptor this process has on a file of the store, after writes, a sync and a copy, must be
 * close-on-exec. */
static void t_store_descriptors_close_on_exec(void)
{
    char base[ENT_TEST_PATH_MAX], st[ENT_TEST_PATH_MAX], cp[ENT_TEST_PATH_MAX], link[ENT_TEST_PATH_MAX];
    char fdp[64], *real = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *m = NULL, *r = NULL;
    ent_schema *sc = NULL;
    int seen = 0, inherited = 0;
    if (strcmp(backend, "lmdb") != 0) return;
    ENT_TEST_MKDTEMP(base, "host-cloexec");
    ENT_TEST_PATH(st, "%s/st", base);
    ENT_TEST_PATH(cp, "%s/cp", base);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "contract_host"));
    o.backend = backend;
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_store_open(&m, st, sc, &o));
    for (int i = 0; i < 5; i++) {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(m, "tick")));
        ENT_OK_(ent_create(m, NULL, e));
        ent_entity_free(e);
    }
    ENT_OK_(ent_store_sync(m));
    ENT_OK_(ent_store_copy(m, cp, 0));
    o.read_only = 1;
    ENT_OK_(ent_store_open(&r, cp, NULL, &o));
    CU_ASSERT_FATAL((real = realpath(base, NULL)) != NULL);
    for (int fd = 0; fd < 1024; fd++) {
        ssize_t n;
        snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
        if ((n = readlink(fdp, link, sizeof link - 1)) <= 0) continue;
        link[n] = '\0';
        if (strncmp(link, real, strlen(real)) != 0) continue;
        seen++;
        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
            fprintf(stderr, "\n  descriptor %d on %s would pass to an exec'd program\n", fd, link);
            inherited++;
        }
    }
    CU_ASSERT(seen >= 4); /* data.mdb, lock.mdb, wal, notify of st at least */
    CU_ASSERT_EQUAL(inherited, 0);
    free(real);
    ent_store_close(r);
    ent_store_close(m);
    ent_schema_free(sc);
    ent_test_rm_rf(base);
}

/* A host out of descriptors: the open refused names the limit (ulimit -n and its value), as a
 * file too large names ulimit -f. It said "Too many open files" alone. Every descriptor below the
 * limit is taken (the limit set to this process's highest one + 1, the holes filled), then the
 * store is opened; the limit and the descriptors are given back after. */
static void t_out_of_descriptors_names_the_limit(void)
{
    char base[ENT_TEST_PATH_MAX], st[ENT_TEST_PATH_MAX], want[64];
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *m = NULL;
    ent_schema *sc = NULL;
    ent_test_nofile nf;
    int limit, rc;
    if (strcmp(backend, "lmdb") != 0) return;
    ENT_TEST_MKDTEMP(base, "host-nofile");
    ENT_TEST_PATH(st, "%s/st", base);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "contract_host"));
    o.backend = backend;
    limit = ent_test_nofile_begin(&nf);
    rc = ent_store_open(&m, st, sc, &o);
    ent_test_nofile_end(&nf);
    CU_ASSERT_EQUAL(rc, ENT_IO);
    snprintf(want, sizeof want, "ulimit -n: %d", limit);
    ENT_ASSERT_MSG("Too many open files");
    ENT_ASSERT_MSG(want);
    if (m) ent_store_close(m);
    m = NULL;
    ENT_OK_(ent_store_open(&m, st, sc, &o)); /* given back: the open makes the store */
    ent_store_close(m);
    ent_schema_free(sc);
    ent_test_rm_rf(base);
}

/* A host whose atexit() handler (or a C++ static destructor) closes the store while its other
 * threads still read: the close freed the store under a transaction of another thread (a read
 * without one, ent_count, crashed in 1 of 10 exits of a host with two threads counting). Refused
 * now, ENT_BUSY's message, while any thread has a transaction of the store open; the reader goes
 * on, ends its transaction, and the close after it frees the store. */
typedef struct held_read {
    ent_store *s;
    int began, release, rc;
} held_read;

static void *hold_read(void *p)
{
    held_read *h = p;
    ent_txn *t = NULL;
    uint64_t n = 0;
    h->rc = ent_txn_begin(&t, h->s, ENT_TXN_READ);
    __atomic_store_n(&h->began, 1, __ATOMIC_RELEASE);
    while (!h->rc && !__atomic_load_n(&h->release, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (!h->rc) h->rc = ent_count(&n, h->s, t, ent_store_type(h->s, "tick"));
    if (t) ent_txn_abort(t);
    return NULL;
}

static void t_close_beside_another_threads_txn(void)
{
    held_read h = {0};
    pthread_t th;
    open_store();
    h.s = S;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, hold_read, &h) == 0);
    while (!__atomic_load_n(&h.began, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    ent_error_set(ENT_OK, "STALE");
    ent_store_close(S); /* refused: the store stays open */
    ENT_ASSERT_MSG("other threads have transactions of the store open");
    __atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(h.rc, ENT_OK);
    close_store(); /* ended: closed and freed (ASan: no leak) */
}

/* ---- kinds of a stored entity ----------------------------------------------------------------- */

/* ent_entity_apply_kinds() on an entity read from the store (its free-form strings written by a
 * data-only body, say) turns them into bytes, a uint, a float: a change of the field, as a
 * setter's, which the next update stores. The field was left unmarked: the update wrote nothing,
 * returned ENT_OK at the same version, and handed the stored strings back into the entity. */
static void t_apply_kinds_is_a_change(void)
{
    static const char data[] = "{\"name\":\"k\",\"attrs\":{\"b\":\"AAE=\",\"u\":\"18446744073709551615\",\"f\":\"NaN\"},"
                               "\"dims\":{\"w\":\"AAE=\"}}";
    static const char kinds[] = "{\"/attrs/b\":\"bytes\",\"/attrs/u\":\"uint\",\"/attrs/f\":\"float\"}";
    ent_entity *e = NULL, *g = NULL;
    ent_key k = ent_key_str("k");
    ent_kind kd;
    const void *b = NULL;
    size_t blen = 0;
    uint64_t u = 0;
    double f = 0;
    open_store();
    ENT_OK_(ent_entity_from_json(&e, T("doc"), data, strlen(data)));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_get(&g, S, NULL, T("doc"), &k));
    CU_ASSERT_EQUAL(ent_entity_changed_count(g), 0);
    ENT_OK_(ent_entity_apply_kinds(g, kinds, strlen(kinds)));
    CU_ASSERT(ent_entity_changed(g, F("doc", "attrs")));
    CU_ASSERT_EQUAL(ent_entity_changed_count(g), 1); /* dims, name: untouched */
    ENT_OK_(ent_update(S, NULL, g, ENT_VERSION_ANY));
    CU_ASSERT_EQUAL(ent_entity_version(g), 2);
    ENT_OK_(ent_entity_kind(&kd, g, "attrs.b")); /* the entity keeps the kinds it was given */
    CU_ASSERT_EQUAL(kd, ENT_KIND_BYTES);
    ent_entity_free(g);
    g = NULL;
    ENT_OK_(ent_get(&g, S, NULL, T("doc"), &k));
    ENT_OK_(ent_entity_get_bytes(&b, &blen, g, "attrs.b"));
    CU_ASSERT(blen == 2 && !memcmp(b, "\0\1", 2));
    ENT_OK_(ent_entity_get_uint(&u, g, "attrs.u"));
    CU_ASSERT_EQUAL(u, UINT64_MAX);
    ENT_OK_(ent_entity_get_float(&f, g, "attrs.f"));
    CU_ASSERT(isnan(f));
    ENT_OK_(ent_entity_kind(&kd, g, "dims.w"));
    CU_ASSERT_EQUAL(kd, ENT_KIND_STRING);
    ent_entity_free(g);
    close_store();
}

/* A field handle of the host's own schema object (the one it opened the store with, which store
 * calls take) on an entity read from the store (which has the store's copy of the types) is
 * refused, as value.h says; the message says why and which handle to use. It said "doc.n: is not
 * a field of this entity's type", of a type doc that has a field n. A field of another type keeps
 * that message. */
static void t_field_handle_of_another_schema_object(void)
{
    ent_entity *e = NULL, *g = NULL;
    ent_key k = ent_key_str("fh");
    const ent_field *hn;
    int64_t v = 0;
    open_store();
    hn = ent_type_field(ent_schema_type(SC, "doc"), "n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hn);
    ENT_OK_(ent_entity_new(&e, T("doc")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_string(e, "name", "x"));
    ENT_OK_(ent_entity_set_int(e, "n", 4));
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_get(&g, S, NULL, T("doc"), &k));
    ENT_CHECK_RC(ent_entity_field_get_int(&v, g, hn), ENT_INVALID);
    ENT_ASSERT_MSG("doc.n: is a field of a type of this name in another schema object");
    ENT_ASSERT_MSG("ent_type_field(ent_entity_type(e), name)");
    ENT_CHECK_RC(ent_entity_field_set_int(g, hn, 5), ENT_INVALID);
    ENT_ASSERT_MSG("another schema object");
    ENT_OK_(ent_entity_field_get_int(&v, g, ent_type_field(ent_entity_type(g), "n")));
    CU_ASSERT_EQUAL(v, 4);
    ENT_CHECK_RC(ent_entity_field_get_int(&v, g, F("tick", "n")), ENT_INVALID);
    ENT_ASSERT_MSG("tick.n: is not a field of this entity's type");
    ent_entity_free(g);
    close_store();
}

/* ---- messages --------------------------------------------------------------------------------- */

/* Messages name kinds with the right article ("an int value", not "a int value"). */
static void t_messages_use_the_right_article(void)
{
    ent_entity *e = NULL;
    ent_iter *it = NULL;
    ent_value iv = ent_value_int(1);
    open_store();
    ENT_CHECK_RC(ent_find(&it, S, NULL, F("doc", "code"), &iv), ENT_INVALID);
    ENT_ASSERT_MSG("an int value cannot be compared with this string field");
    ENT_OK_(ent_entity_new(&e, T("doc")));
    {
        const char *sv = NULL;
        size_t len = 0;
        ENT_CHECK_RC(ent_entity_field_get_string(&sv, &len, e, F("doc", "n")), ENT_INVALID);
        ENT_ASSERT_MSG("is an int, not string");
    }
    ENT_CHECK_RC(ent_entity_set_string(e, "n.x", "y"), ENT_INVALID);
    ENT_ASSERT_MSG("an int has no fields");
    ENT_CHECK_RC(ent_entity_set_string(e, "tags.x", "y"), ENT_INVALID);
    ENT_ASSERT_MSG("an array has no fields");
    ENT_CHECK_RC(ent_entity_set_string(e, "name[0]", "y"), ENT_INVALID);
    ENT_ASSERT_MSG("a string cannot be indexed");
    ent_entity_free(e);
    close_store();
}

/* ---- a transaction of another thread ---------------------------------------------------------- */

typedef struct foreign {
    ent_txn *t;
    ent_iter *it;
    int rc_get, rc_create, rc_commit, rc_next, rc_more;
    char msg[256], free_msg[256];
} foreign;

static void *use_foreign_txn(void *p)
{
    foreign *f = p;
    ent_entity *g = NULL, *e = doc("f2");
    ent_key k = ent_key_str("f1");
    f->rc_next = ent_iter_next(&g, f->it);
    ent_entity_free(g);
    g = NULL;
    f->rc_more = ent_iter_more(f->it);
    ent_iter_free(f->it); /* refused: no code to return either; it stays its thread's */
    snprintf(f->free_msg, sizeof f->free_msg, "%s", ent_errmsg());
    f->rc_get = ent_get(&g, S, f->t, T("doc"), &k);
    ent_entity_free(g);
    f->rc_create = ent_create(S, f->t, e);
    ent_entity_free(e);
    ent_txn_abort(f->t); /* refused too: no code to return, the message says so */
    f->rc_commit = ent_txn_commit(f->t);
    snprintf(f->msg, sizeof f->msg, "%s", ent_errmsg());
    return NULL;
}

static void *free_foreign_iter(void *p)
{
    foreign *f = p;
    ent_iter_free(f->it);
    snprintf(f->free_msg, sizeof f->free_msg, "%s", ent_errmsg());
    return NULL;
}

/* store.h: a transaction belongs to the thread that began it. Another thread that uses, commits
 * or aborts it is refused with ENT_INVALID and the txn stays its owner's, whole: a commit from
 * another thread used to free a write txn that the beginning thread still listed as its held
 * writer (its next write read freed memory), and to unlock LMDB's writer mutex from a thread that
 * did not lock it. */
static void t_txn_of_another_thread_is_refused(void)
{
    foreign f = {0};
    pthread_t th;
    ent_entity *e;
    ent_key k1 = ent_key_str("f1"), k2 = ent_key_str("f2"), k3 = ent_key_str("f3");
    open_store();
    e = doc("f1");
    for (int mode = ENT_TXN_READ; mode <= ENT_TXN_WRITE; mode++) {
        ENT_OK_(ent_txn_begin(&f.t, S, mode));
        if (mode == ENT_TXN_WRITE) ENT_OK_(ent_create(S, f.t, e));
        ENT_OK_(ent_scan(&f.it, S, f.t, T("doc"), NULL, NULL));
        CU_ASSERT_FATAL(pthread_create(&th, NULL, use_foreign_txn, &f) == 0);
        pthread_join(th, NULL);
        CU_ASSERT_EQUAL(f.rc_next, ENT_INVALID);
        CU_ASSERT_EQUAL(f.rc_more, ENT_INVALID);
        CU_ASSERT_PTR_NOT_NULL(strstr(f.free_msg, "ent_iter_free: the iterator belongs to the thread that began its transaction"));
        {
            ent_entity *g = NULL; /* the iterator is still its thread's, where it stood */
            int want = mode == ENT_TXN_WRITE ? ENT_OK : ENT_NOTFOUND;
            ENT_CHECK_RC(ent_iter_next(&g, f.it), want);
            ent_entity_free(g);
        }
        ent_iter_free(f.it);
        CU_ASSERT_EQUAL(f.rc_get, ENT_INVALID);
        CU_ASSERT_EQUAL(f.rc_create, ENT_INVALID);
        CU_ASSERT_EQUAL(f.rc_commit, ENT_INVALID);
        CU_ASSERT_PTR_NOT_NULL(strstr(f.msg, "belongs to the thread that began it"));
        if (mode == ENT_TXN_WRITE) {
            ent_entity *g = NULL;
            ENT_OK_(ent_get(&g, S, f.t, T("doc"), &k1)); /* still usable by its own thread */
            ent_entity_free(g);
            ENT_OK_(ent_txn_commit(f.t));
        } else {
            ent_txn_abort(f.t);
        }
    }
    ENT_OK_(ent_exists(S, NULL, T("doc"), &k1));
    CU_ASSERT_EQUAL(ent_exists(S, NULL, T("doc"), &k2), ENT_NOTFOUND);
    {
        /* an iterator with a read txn of its own (txn NULL): freed by another thread, it unlinked
         * itself from lists its owner walks, and its txn (refused there) stayed open for good */
        ent_entity *g = NULL;
        memset(&f, 0, sizeof f);
        ENT_OK_(ent_scan(&f.it, S, NULL, T("doc"), NULL, NULL));
        CU_ASSERT_FATAL(pthread_create(&th, NULL, free_foreign_iter, &f) == 0);
        pthread_join(th, NULL);
        CU_ASSERT_PTR_NOT_NULL(strstr(f.free_msg, "belongs to the thread"));
        ENT_OK_(ent_iter_next(&g, f.it)); /* still whole */
        ent_entity_free(g);
        ent_iter_free(f.it);
    }
    /* this thread no longer holds a writer: a write without a txn goes through */
    ent_entity_free(e);
    e = doc("f3");
    ENT_OK_(ent_create(S, NULL, e));
    ENT_OK_(ent_exists(S, NULL, T("doc"), &k3));
    ent_entity_free(e);
    close_store();
}

/* Accessors have no code to return: a NULL handle gives an empty answer, not a crash. */
static void t_null_accessors(void)
{
    CU_ASSERT_STRING_EQUAL(ent_store_backend(NULL), "");
    CU_ASSERT_EQUAL(ent_store_durability(NULL), ENT_DURABILITY_STORED);
    CU_ASSERT_STRING_EQUAL(ent_store_path(NULL), "");
    CU_ASSERT_STRING_EQUAL(ent_store_id(NULL), "");
    CU_ASSERT_PTR_NULL(ent_store_mirror_of(NULL));
    CU_ASSERT_PTR_NULL(ent_store_schema(NULL));
    CU_ASSERT_EQUAL(ent_log_cursor_pos(NULL), 0);
}

/* ent_store_copy() from the thread that holds the store's writer is ENT_BUSY, like a second
 * writer: LMDB's plain copy takes the writer's lock to start its snapshot and waited for itself,
 * forever (an explicit write txn, or ent_txn_run()'s fn). A compact copy took no lock. */
typedef struct copy_arg {
    const char *dest;
    int rc;
} copy_arg;

static int copy_inside(ent_txn *txn, void *payload)
{
    copy_arg *a = payload;
    (void)txn;
    a->rc = ent_store_copy(S, a->dest, 0);
    return ENT_OK;
}

static void t_copy_beside_own_writer_is_busy(void)
{
    char dest[ENT_TEST_PATH_MAX];
    ent_txn *w = NULL;
    copy_arg a;
    open_store();
    ENT_TEST_PATH(dest, "%s/copy", dir);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(ent_store_copy(S, dest, 0), ENT_BUSY);
    ENT_ASSERT_MSG("holds the store's write transaction");
    ENT_CHECK_RC(ent_store_copy(S, dest, 1), ENT_BUSY);
    ENT_OK_(ent_txn_commit(w));
    a = (copy_arg){dest, 0};
    ENT_OK_(ent_txn_run(S, copy_inside, &a));
    CU_ASSERT_EQUAL(a.rc, ENT_BUSY);
    /* once the writer is gone the copy goes on (a memory store has nothing to copy to disk) */
    ENT_CHECK_RC(ent_store_copy(S, dest, 0), strcmp(backend, "memory") == 0 ? ENT_INVALID : ENT_OK);
    close_store();
}

/* A copy fills an empty directory (or makes one): into a directory of other files it made a store
 * among them. Refused naming one of them, the files as they were and no store made; a dead
 * copy's data.mdb.copying alone is taken over. */
static void t_copy_into_other_files_refused(void)
{
    char dest[ENT_TEST_PATH_MAX], file[ENT_TEST_PATH_MAX], part[ENT_TEST_PATH_MAX], data[ENT_TEST_PATH_MAX];
    FILE *f;
    open_store();
    ENT_TEST_PATH(dest, "%s/full", dir);
    ENT_TEST_PATH(file, "%s/keep.txt", dest);
    ENT_TEST_PATH(part, "%s/data.mdb.copying", dest);
    ENT_TEST_PATH(data, "%s/data.mdb", dest);
    CU_ASSERT_EQUAL_FATAL(mkdir(dest, 0700), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(file, "w"));
    fputs("mine", f);
    fclose(f);
    for (int compact = 0; compact <= 1; compact++) {
        if (strcmp(backend, "memory") == 0) {
            ENT_CHECK_RC(ent_store_copy(S, dest, compact), ENT_INVALID);
            continue;
        }
        ENT_CHECK_RC(ent_store_copy(S, dest, compact), ENT_CONFLICT);
        ENT_ASSERT_MSG("is not empty: it holds keep.txt");
        CU_ASSERT_NOT_EQUAL(access(data, F_OK), 0);
        CU_ASSERT_NOT_EQUAL(access(part, F_OK), 0);
    }
    CU_ASSERT_EQUAL(access(file, F_OK), 0);
    CU_ASSERT_EQUAL(unlink(file), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(part, "w")); /* what a killed copy leaves */
    fclose(f);
    ENT_CHECK_RC(ent_store_copy(S, dest, 0), strcmp(backend, "memory") == 0 ? ENT_INVALID : ENT_OK);
    if (strcmp(backend, "memory") != 0) {
        CU_ASSERT_EQUAL(access(data, F_OK), 0);
        CU_ASSERT_NOT_EQUAL(access(part, F_OK), 0);
    }
    close_store();
}

/* The calls without a transaction parameter that write (ent_sub_create(), ent_sub_delete(),
 * ent_log_truncate(), ent_store_copy()) refused beside the thread's own writer name themselves and
 * say to call them once the transaction has ended: they said "pass it to the call", which none of
 * them can be. A call that takes a transaction (ent_sub_ack() with NULL) still says to pass it. */
static void t_txnless_calls_beside_own_writer_say_so(void)
{
    char dest[ENT_TEST_PATH_MAX];
    ent_txn *w = NULL;
    open_store();
    ENT_OK_(ent_sub_create(S, "s", 0));
    ENT_TEST_PATH(dest, "%s/copy2", dir);
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(ent_sub_create(S, "t", 0), ENT_BUSY);
    ENT_ASSERT_MSG("ent_sub_create: this thread holds the store's write transaction");
    ENT_ASSERT_MSG("this call takes none: call it once the transaction has ended");
    ENT_CHECK_RC(ent_sub_delete(S, "s"), ENT_BUSY);
    ENT_ASSERT_MSG("ent_sub_delete: this thread holds");
    ENT_ASSERT_MSG("takes none");
    ENT_CHECK_RC(ent_log_truncate(S, 1, 1), ENT_BUSY);
    ENT_ASSERT_MSG("ent_log_truncate: this thread holds");
    ENT_ASSERT_MSG("takes none");
    ENT_CHECK_RC(ent_store_copy(S, dest, 0), ENT_BUSY);
    ENT_ASSERT_MSG("ent_store_copy: this thread holds");
    ENT_ASSERT_MSG("takes none");
    ENT_CHECK_RC(ent_sub_ack(S, NULL, "s", 0), ENT_BUSY);
    ENT_ASSERT_MSG("pass it to the call");
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_sub_create(S, "t", 0)); /* once it has ended */
    ENT_OK_(ent_sub_delete(S, "s"));
    close_store();
}

/* ent_store_sync() from the thread that holds the store's writer: LMDB's sync takes the writer's
 * lock (to cover a commit whose record is not yet written) and answered ENT_BUSY saying "through
 * another handle of the same store", a code its header did not list, while a memory store
 * answered ENT_OK. Both refuse it with ENT_BUSY now, as ent_store_copy() does; once the writer
 * ends the sync goes on. */
static int sync_inside(ent_txn *txn, void *payload)
{
    (void)txn;
    *(int *)payload = ent_store_sync(S);
    return ENT_OK;
}

static void t_sync_beside_own_writer_is_busy(void)
{
    ent_txn *w = NULL;
    int rc = ENT_OK;
    open_store();
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_CHECK_RC(ent_store_sync(S), ENT_BUSY);
    ENT_ASSERT_MSG("holds the store's write transaction");
    ENT_OK_(ent_txn_commit(w));
    ENT_OK_(ent_txn_run(S, sync_inside, &rc));
    CU_ASSERT_EQUAL(rc, ENT_BUSY);
    ENT_OK_(ent_store_sync(S));
    close_store();
}

/* ent_store_sync() while another thread holds the store's write transaction, with nothing left to
 * make durable: it returns at once. LMDB's took the writer's lock to look (to cover a commit whose
 * record is not yet written), so two threads each in a transaction of one store, syncing the
 * other's, waited for each other for ever (a helper's probe). */
typedef struct writer_hold {
    atomic_int holding, release, synced;
    int rc;
} writer_hold;

static void *hold_writer(void *p)
{
    writer_hold *h = p;
    ent_txn *w = NULL;
    struct timespec nap = {0, 1000000};
    if (ent_txn_begin(&w, S, ENT_TXN_WRITE) != ENT_OK) {
        atomic_store(&h->holding, -1);
        return NULL;
    }
    atomic_store(&h->holding, 1);
    while (!atomic_load(&h->release)) nanosleep(&nap, NULL);
    ent_txn_abort(w);
    return NULL;
}

static void *sync_main(void *p)
{
    writer_hold *h = p;
    h->rc = ent_store_sync(S);
    atomic_store(&h->synced, 1);
    return NULL;
}

/* The suite's store again, with this handle durable (LMDB: its commits logged in the write-ahead
 * file, whose state tells a sync what is left to make durable); map_size 0: the default. */
static void reopen_durable(size_t map_size)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.backend = backend;
    o.durability = ENT_DURABLE;
    o.map_size = map_size;
    if (strcmp(backend, "memory") == 0) return; /* a new open would be a new, empty store */
    ent_store_close(S);
    S = NULL;
    ENT_OK_(ent_store_open(&S, dir, SC, &o));
    ENT_OK_(ent_store_set_group_commit(S, ent_test_group_mode()));
}

static void t_sync_beside_another_threads_writer(void)
{
    writer_hold h = {0};
    pthread_t hw, sy;
    struct timespec nap = {0, 1000000};
    ent_entity *e;
    open_store();
    reopen_durable(0);
    e = doc("synced");
    ENT_OK_(ent_create(S, NULL, e));
    ent_entity_free(e);
    ENT_OK_(ent_store_sync(S)); /* every commit durable: nothing left for the next sync */
    CU_ASSERT_FATAL(pthread_create(&hw, NULL, hold_writer, &h) == 0);
    for (int i = 0; i < 20000 && !atomic_load(&h.holding); i++) nanosleep(&nap, NULL); /* a guard, not a timing */
    CU_ASSERT_EQUAL_FATAL(atomic_load(&h.holding), 1);
    CU_ASSERT_FATAL(pthread_create(&sy, NULL, sync_main, &h) == 0);
    for (int i = 0; i < 20000 && !atomic_load(&h.synced); i++) nanosleep(&nap, NULL);
    CU_ASSERT(atomic_load(&h.synced)); /* returned while the other thread still holds the writer */
    atomic_store(&h.release, 1);
    pthread_join(hw, NULL);
    pthread_join(sy, NULL);
    CU_ASSERT_EQUAL(h.rc, ENT_OK);
    close_store();
}

/* ent_store_sync() in a loop while another thread's durable writes grow the map: the sync that
 * finds nothing left to make durable reads LMDB's state from the map without the writer, and a
 * growth replaces the map; it must do so under a hold, as a txn's reads do (it read the map being
 * unmapped: a crash, or ASan's report). */
typedef struct grow_sync {
    atomic_int stop, syncs;
    int failures, last_rc;
} grow_sync;

static void *sync_loop(void *p)
{
    grow_sync *g = p;
    while (!atomic_load(&g->stop)) {
        int rc = ent_store_sync(S);
        atomic_fetch_add(&g->syncs, 1);
        if (rc != ENT_OK) {
            g->failures++;
            g->last_rc = rc;
        }
    }
    return NULL;
}

static void t_sync_while_the_map_grows(void)
{
    grow_sync g = {0};
    pthread_t th;
    char blob[3000], key[32];
    ent_store_info before, after;
    open_store();
    reopen_durable(ENT_MAP_SIZE_MIN);
    ENT_OK_(ent_store_get_info(&before, S));
    memset(blob, 'b', sizeof blob);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, sync_loop, &g) == 0);
    { /* the syncs under way before the writes begin (bounded: a guard, not a timing) */
        struct timespec nap = {0, 1000000};
        for (int i = 0; i < 20000 && !atomic_load(&g.syncs); i++) nanosleep(&nap, NULL);
    }
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof key, "grow-%04d", i);
        ent_entity *e = doc(key);
        ENT_OK_(ent_entity_set_bytes(e, "blob", blob, sizeof blob));
        ENT_OK_(ent_create(S, NULL, e));
        ent_entity_free(e);
    }
    atomic_store(&g.stop, 1);
    pthread_join(th, NULL);
    ENT_OK_(ent_store_get_info(&after, S));
    if (strcmp(backend, "memory") != 0) CU_ASSERT(after.map_size > before.map_size); /* it grew meanwhile */
    CU_ASSERT(atomic_load(&g.syncs) > 0);
    CU_ASSERT_EQUAL(g.failures, 0);
    if (g.failures) fprintf(stderr, "sync: %s (%d)\n", ent_strerror(g.last_rc), g.last_rc);
    close_store();
}

/* store.h (ent_iter_next): an iterator in a write txn sees the txn's own writes made while it is
 * open, the same on every backend: an update that moves the entity it visits ahead of the
 * iterator's position (n += 10 over an open range of n) meets it again. Pinned so that the
 * backends keep agreeing on what the header warns about (a host's such loop never ends). */
static void t_write_txn_iterator_meets_entities_moved_ahead(void)
{
    ent_txn *w = NULL;
    ent_iter *it = NULL;
    ent_entity *e = NULL;
    ent_range_opts ro = ENT_RANGE_OPTS_INIT;
    ent_value from = ent_value_int(0);
    int visits = 0, rc;
    int64_t n = 0;
    open_store();
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    for (int i = 0; i < 2; i++) {
        e = doc(i ? "b" : "a");
        ENT_OK_(ent_entity_set_int(e, "n", i));
        ENT_OK_(ent_create(S, w, e));
        ent_entity_free(e);
    }
    ro.from = &from;
    ENT_OK_(ent_range(&it, S, w, F("doc", "n"), &ro));
    while (visits < 20 && (rc = ent_iter_next(&e, it)) == ENT_OK) {
        visits++;
        ENT_OK_(ent_entity_get_int(&n, e, "n"));
        ENT_OK_(ent_entity_set_int(e, "n", n + 10));
        ENT_OK_(ent_update(S, w, e, ENT_VERSION_ANY));
        ent_entity_free(e);
    }
    CU_ASSERT_EQUAL(visits, 20); /* met again and again: it never ran out */
    ent_iter_free(it);
    ent_txn_abort(w);
    close_store();
}

/* store.h (read_only): one process keeps one LMDB environment per store, read-only when its first
 * handle was: a writable open beside a read-only handle of the process is ENT_BUSY, saying so,
 * whereas a read-only open beside a writable handle shares it. Undocumented, the order in which
 * a host's threads opened decided whether its writer could open. */
static void t_writable_open_beside_own_read_only_handle(void)
{
    ent_store *ro = NULL, *rw = NULL, *ro2 = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, r = ENT_STORE_OPTS_INIT;
    ent_entity *e;
    ent_key k = ent_key_str("ro");
    if (strcmp(backend, "memory") == 0) return; /* every memory open is a store of its own */
    open_store();
    ent_store_close(S); /* the store exists; the handles below are the test's */
    S = NULL;
    o.backend = r.backend = backend;
    r.read_only = 1;
    ENT_OK_(ent_store_open(&ro, dir, NULL, &r));
    ENT_CHECK_RC(ent_store_open(&rw, dir, NULL, &o), ENT_BUSY);
    ENT_ASSERT_MSG("already open read-only in this process");
    CU_ASSERT_PTR_NULL(rw);
    ent_store_close(ro);
    ENT_OK_(ent_store_open(&rw, dir, NULL, &o)); /* writable first: a read-only open shares it */
    ENT_OK_(ent_store_open(&ro2, dir, NULL, &r));
    ENT_OK_(ent_entity_new(&e, ent_store_type(rw, "doc")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_string(e, "name", "written"));
    ENT_OK_(ent_create(rw, NULL, e));
    ENT_OK_(ent_exists(ro2, NULL, ent_store_type(ro2, "doc"), &k));
    ENT_CHECK_RC(ent_create(ro2, NULL, e), ENT_READONLY);
    {
        /* nor a write transaction of its own, though the environment it shares is writable */
        ent_txn *w = NULL;
        ENT_CHECK_RC(ent_txn_begin(&w, ro2, ENT_TXN_WRITE), ENT_READONLY);
        ENT_ASSERT_MSG("is open read-only");
        CU_ASSERT_PTR_NULL(w);
    }
    ent_entity_free(e);
    ent_store_close(ro2);
    S = rw;
    close_store();
}

/* Two handles of one store in a process (LMDB: the same directory; each memory open is a store of
 * its own). The thread that holds the writer through one handle and writes through the other is
 * refused with ENT_BUSY, like a second writer on the same handle: the write waited for itself. */
static void t_second_handle_beside_own_writer_is_busy(void)
{
    ent_store *s2 = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_txn *w = NULL, *w2 = NULL;
    ent_entity *e;
    int same = strcmp(backend, "memory") != 0;
    ent_key k = ent_key_str("h2");
    open_store();
    o.backend = backend;
    ENT_OK_(ent_store_open(&s2, dir, SC, &o));
    ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s2, "doc")));
    ENT_OK_(ent_entity_set_key(e, &k));
    ENT_OK_(ent_entity_set_string(e, "name", "second"));
    ENT_CHECK_RC(ent_create(s2, NULL, e), same ? ENT_BUSY : ENT_OK);
    if (same) ENT_ASSERT_MSG("another handle of the same store");
    ENT_CHECK_RC(ent_txn_begin(&w2, s2, ENT_TXN_WRITE), same ? ENT_BUSY : ENT_OK);
    if (w2) ent_txn_abort(w2);
    ent_txn_abort(w);
    if (same) ENT_OK_(ent_create(s2, NULL, e)); /* the writer gone, the write goes on */
    ENT_OK_(ent_exists(s2, NULL, ent_store_type(s2, "doc"), &k));
    ent_entity_free(e);
    ent_store_close(s2);
    close_store();
}

/* ---- small thread stacks -------------------------------------------------------------------- */

/* A host's threads may have small stacks (pthread_attr_setstacksize: 64 KiB is common for pools).
 * Entity, event and patch JSON nested to jansson's own limit (2048 levels) crashed such a thread
 * (SIGSEGV: jansson's parser recursed 200 levels deep into a 64 KiB stack, 1000 into 256 KiB,
 * and the library's conversions recursed further) before anything refused the text; now text
 * nested deeper than 64 levels is refused first, and everything the library stores (24 levels)
 * reads, validates, writes and logs on 64 KiB. Schema JSON recurses per level of its specs: 128
 * KiB hold the deepest (256 levels; README "Host programs"). Sanitized and unoptimized builds
 * get 512 KiB (their frames are larger): jansson at 2040 levels still needs more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
#define HOST_STACK_DATA (512 * 1024)
#define HOST_STACK_SCHEMA (1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HOST_STACK_DATA (512 * 1024)
#define HOST_STACK_SCHEMA (1024 * 1024)
#endif
#endif
#ifndef HOST_STACK_DATA
#define HOST_STACK_DATA (64 * 1024)
#define HOST_STACK_SCHEMA (128 * 1024)
#endif

/* head, then n copies of open, inner, n copies of close, then tail: a new string (free()). */
static char *nested(const char *head, const char *open, int n, const char *inner, const char *close, const char *tail)
{
    size_t lo = strlen(open), lc = strlen(close), lh = strlen(head);
    char *t = malloc(lh + (lo + lc) * (size_t)n + strlen(inner) + strlen(tail) + 1), *p = t;
    if (!t) return NULL;
    p += sprintf(p, "%s", head);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s", open);
    p += sprintf(p, "%s", inner);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s", close);
    sprintf(p, "%s", tail);
    return t;
}

typedef struct stack_case {
    int failures;
} stack_case;

#define STACK_CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\n  small stack: " __VA_ARGS__);                                      \
            fprintf(stderr, " (%s)\n", ent_errmsg());                                              \
            sc->failures++;                                                                        \
        }                                                                                          \
    } while (0)

/* On the small thread: every reader of entity data refuses 2040 levels naming the limit, and a
 * value at the stored limit goes through JSON in and out, validation, a create, a read and the
 * event's JSON. CUnit's asserts are not for other threads: failures are counted. */
static void *small_stack_data(void *arg)
{
    stack_case *sc = arg;
    const ent_type *t = T("doc");
    ent_entity *e = NULL, *got = NULL;
    ent_event *ev = NULL;
    ent_key k = ent_key_str("deep");
    char *deep = nested("{\"attrs\":{\"x\":", "[", 2040, "1", "]", "}}");
    char *ev_deep = nested("{\"seq\":1,\"ts\":\"2020-01-01T00:00:00.000000000Z\",\"txn\":1,\"type\":\"doc\",\"key\":\"a\","
                           "\"op\":\"create\",\"version\":1,\"data\":{\"attrs\":{\"x\":", "[", 2040, "1", "]", "}}}");
    char *patch_deep = nested("[{\"op\":\"add\",\"path\":\"/attrs/x\",\"value\":", "[", 2040, "1", "]", "}]");
    char *value_deep = nested("", "[", 2040, "1", "]", "");
    /* attrs (a map) and 23 arrays in it: the 24 levels a stored value may nest */
    char *ok = nested("{\"name\":\"n\",\"attrs\":{\"x\":", "[", 23, "1.5", "]", "}}");
    char *text = NULL;
    int rc;
    if (!deep || !ev_deep || !patch_deep || !value_deep || !ok) {
        sc->failures++;
        goto done;
    }
    rc = ent_entity_from_json(&e, t, deep, strlen(deep));
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "from_json: %d", rc);
    ent_entity_free(e);
    e = NULL;
    rc = ent_entity_from_body(&e, NULL, t, deep, strlen(deep));
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "from_body: %d", rc);
    ent_entity_free(e);
    e = NULL;
    rc = ent_event_from_json(&ev, SC, ev_deep, strlen(ev_deep));
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "event_from_json: %d", rc);
    ent_event_free(ev);
    ev = NULL;
    STACK_CHECK(ent_entity_new(&e, t) == ENT_OK, "entity_new");
    rc = ent_entity_patch_json(e, deep, strlen(deep));
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "patch_json: %d", rc);
    rc = ent_entity_json_patch(e, patch_deep, strlen(patch_deep));
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "json_patch: %d", rc);
    rc = ent_entity_set_json(e, "attrs.x", value_deep);
    STACK_CHECK(rc == ENT_INVALID && strstr(ent_errmsg(), "nested deeper than 64 levels"), "set_json: %d", rc);
    ent_entity_free(e);
    e = NULL;
    /* the deepest value a store holds, all the way through */
    rc = ent_entity_from_json(&e, t, ok, strlen(ok));
    STACK_CHECK(rc == ENT_OK, "from_json at the stored limit: %d", rc);
    if (rc) goto done;
    STACK_CHECK(ent_entity_set_key(e, &k) == ENT_OK, "set_key");
    STACK_CHECK(ent_entity_validate(e) == ENT_OK, "validate at the stored limit");
    STACK_CHECK(ent_create(S, NULL, e) == ENT_OK, "create at the stored limit");
    STACK_CHECK(ent_get(&got, S, NULL, t, &k) == ENT_OK, "get at the stored limit");
    STACK_CHECK(got && ent_entity_to_json(&text, got, 0) == ENT_OK && strstr(text, "[[[1.5]]]"), "to_json");
    free(text);
    text = NULL;
    {
        uint64_t first = 0, last = 0;
        STACK_CHECK(ent_log_bounds(&first, &last, S, NULL) == ENT_OK && last > 0, "log bounds");
        STACK_CHECK(ent_log_get(&ev, S, NULL, last) == ENT_OK && ent_event_to_json(&text, ev, 0) == ENT_OK &&
                        strstr(text, "[[[1.5]]]"),
                    "event JSON at the stored limit");
    }
    {
        uint64_t problems = 1;
        STACK_CHECK(ent_store_verify(&problems, S, NULL, NULL) == ENT_OK && problems == 0, "verify");
    }
done:
    free(text);
    ent_event_free(ev);
    ent_entity_free(got);
    ent_entity_free(e);
    free(deep);
    free(ev_deep);
    free(patch_deep);
    free(value_deep);
    free(ok);
    return NULL;
}

/* Schema JSON: arrays nested past the deepest schema's text refused before parsing; the deepest
 * schema the builder takes (256 levels of maps) loads. */
static void *small_stack_schema(void *arg)
{
    stack_case *sc = arg;
    ent_schema *z = NULL;
    char *junk = nested("{\"schema\":\"z\",\"version\":1,\"types\":{},\"junk\":", "[", 2040, "1", "]", "}");
    char *maps = nested("{\"schema\":\"z\",\"version\":1,\"types\":{\"d\":{\"key\":\"string\",\"fields\":{\"x\":",
                        "{\"id\":1,\"type\":\"map\",\"fields\":{\"a\":", 255, "{\"id\":1,\"type\":\"int\"}", "}}", "}}}}");
    int rc;
    if (!junk || !maps) {
        sc->failures++;
        goto done;
    }
    rc = ent_schema_load_json(&z, junk, strlen(junk), "junk");
    STACK_CHECK(rc == ENT_SCHEMA && strstr(ent_errmsg(), "nested deeper than"), "schema of 2040 levels: %d", rc);
    ent_schema_free(z);
    z = NULL;
    rc = ent_schema_load_json(&z, maps, strlen(maps), "maps");
    STACK_CHECK(rc == ENT_OK, "schema of 256 levels of maps: %d", rc);
done:
    ent_schema_free(z);
    free(junk);
    free(maps);
    return NULL;
}

static void run_on_stack(void *(*fn)(void *), size_t size, stack_case *sc)
{
    pthread_attr_t at;
    pthread_t th;
    CU_ASSERT_FATAL(pthread_attr_init(&at) == 0);
    CU_ASSERT_FATAL(pthread_attr_setstacksize(&at, size) == 0);
    CU_ASSERT_FATAL(pthread_create(&th, &at, fn, sc) == 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&at);
}

static void t_small_thread_stacks(void)
{
    stack_case sc = {0};
    open_store();
    run_on_stack(small_stack_data, HOST_STACK_DATA, &sc);
    run_on_stack(small_stack_schema, HOST_STACK_SCHEMA, &sc);
    CU_ASSERT_EQUAL(sc.failures, 0);
    close_store();
}

int main(int argc, char **argv)
{
    static char suite[64];
    static const ent_test_case cases[] = {
        ENT_TEST(t_borrowed_pointers_survive_writes),
        ENT_TEST(t_second_writer_on_the_writing_thread_is_busy),
        ENT_TEST(t_write_beside_own_read),
        ENT_TEST(t_resume_token_of_another_index_is_refused),
        ENT_TEST(t_iterator_says_when_no_page_follows),
        ENT_TEST(t_own_write_after_iter_more),
        ENT_TEST(t_own_write_after_scan_more),
        ENT_TEST(t_iter_more_changes_nothing),
        ENT_TEST(t_iterator_outliving_its_txn),
        ENT_TEST(t_map_size_floor),
        ENT_TEST(t_sub_ack_in_read_txn_is_readonly),
        ENT_TEST(t_apply_kinds_is_a_change),
        ENT_TEST(t_field_handle_of_another_schema_object),
        ENT_TEST(t_messages_use_the_right_article),
        ENT_TEST(t_float_json_shortest_and_exact),
        ENT_TEST(t_event_type_is_the_store_type),
        ENT_TEST(t_store_path_null),
        ENT_TEST(t_relative_path_after_chdir),
        ENT_TEST(t_store_descriptors_close_on_exec),
        ENT_TEST(t_out_of_descriptors_names_the_limit),
        ENT_TEST(t_close_beside_another_threads_txn),
        ENT_TEST(t_txn_of_another_thread_is_refused),
        ENT_TEST(t_null_accessors),
        ENT_TEST(t_copy_beside_own_writer_is_busy),
        ENT_TEST(t_copy_into_other_files_refused),
        ENT_TEST(t_txnless_calls_beside_own_writer_say_so),
        ENT_TEST(t_second_handle_beside_own_writer_is_busy),
        ENT_TEST(t_sync_beside_own_writer_is_busy),
        ENT_TEST(t_sync_beside_another_threads_writer),
        ENT_TEST(t_sync_while_the_map_grows),
        ENT_TEST(t_write_txn_iterator_meets_entities_moved_ahead),
        ENT_TEST(t_writable_open_beside_own_read_only_handle),
        ENT_TEST(t_small_thread_stacks),
        {NULL, NULL},
    };
    backend = argc > 1 ? argv[1] : "lmdb";
    snprintf(suite, sizeof suite, "contract_host_%s", backend);
    return ent_test_run(suite, cases);
}
