/* Stores of many tables (LMDB): one per type and per index, so a schema of a few hundred indexed
 * types needs a thousand. LMDB's bound on tables is fixed for an environment's life, and was 256
 * for every store: such a schema was refused at creation ("the store holds its maximum of 256
 * tables"), and a store near it could take no evolution. The bound is now sized when the store is
 * first opened in the process, from the tables it holds and those of the schema it is opened
 * with (twice that, at least 256). Here: a store of 1 200 tables made, written, reopened without
 * a schema and verified; a store of 213 reopened (room made beyond 256) then evolved in the same
 * process to 453; an evolution past the room of the process's open environment refused with a
 * clear ENT_FULL naming the way out (reopen), nothing of it applied, and the same evolution
 * done once every handle was closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "test_tmp.h"
#include "test_util.h"

static char dir[ENT_TEST_PATH_MAX];

/* A schema of version `version` with types t0..t<ntypes-1>, each with a unique and an indexed
 * field: 3 tables per type. */
static ent_schema *many_types(unsigned version, unsigned ntypes)
{
    size_t cap = 200 + (size_t)ntypes * 160, n = 0;
    char *j = malloc(cap);
    ent_schema *sc = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    n += (size_t)snprintf(j + n, cap - n, "{\"schema\":\"many\",\"version\":%u,\"types\":{", version);
    for (unsigned i = 0; i < ntypes; i++)
        n += (size_t)snprintf(j + n, cap - n,
                              "%s\"t%u\":{\"key\":\"auto\",\"fields\":{\"u\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
                              "\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}}",
                              i ? "," : "", i);
    snprintf(j + n, cap - n, "}}");
    if (ent_schema_load_json(&sc, j, strlen(j), "many") != ENT_OK) fprintf(stderr, "\n  schema: %s\n", ent_errmsg());
    free(j);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    return sc;
}

static void put_one(ent_store *s, unsigned type, const char *u, int64_t n)
{
    char name[16];
    ent_entity *e = NULL;
    snprintf(name, sizeof name, "t%u", type);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ent_store_type(s, name));
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, name)));
    ENT_OK_(ent_entity_set_string(e, "u", u));
    ENT_OK_(ent_entity_set_int(e, "n", n));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
}

/* The entity of type t<type> whose unique u is `u` has n == `n`. */
static void expect_one(ent_store *s, unsigned type, const char *u, int64_t n)
{
    char name[16];
    ent_entity *e = NULL;
    int64_t got = -1;
    const ent_type *t;
    snprintf(name, sizeof name, "t%u", type);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t = ent_store_type(s, name));
    ent_value v = ent_value_string(u);
    ENT_OK_(ent_find_unique(&e, s, NULL, ent_type_field(t, "u"), &v));
    if (e) ENT_OK_(ent_entity_get_int(&got, e, "n"));
    CU_ASSERT_EQUAL(got, n);
    ent_entity_free(e);
}

static void verify_clean(ent_store *s)
{
    uint64_t problems = 99;
    ENT_OK_(ent_store_verify(&problems, s, NULL, NULL));
    CU_ASSERT_EQUAL(problems, 0);
}

static void t_thousand_tables(void)
{
    ent_schema *sc = many_types(1, 400); /* 1 200 tables and the store's own */
    ent_store *s = NULL;
    ENT_TEST_MKDTEMP(dir, "many-tables");
    if (ent_store_open(&s, dir, sc, NULL) != ENT_OK) fprintf(stderr, "\n  open: %s\n", ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    put_one(s, 0, "first", 1);
    put_one(s, 399, "last", 399);
    ent_store_close(s);
    s = NULL;
    /* without a schema: sized from what the store holds */
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    expect_one(s, 0, "first", 1);
    expect_one(s, 399, "last", 399);
    put_one(s, 200, "middle", 200);
    verify_clean(s);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

static void t_reopened_near_the_old_bound(void)
{
    ent_schema *v1 = many_types(1, 70), *v2 = many_types(2, 150); /* 213 tables, then 453 */
    ent_store *s = NULL, *s2 = NULL;
    ENT_TEST_MKDTEMP(dir, "many-tables");
    ENT_OK_(ent_store_open(&s, dir, v1, NULL));
    put_one(s, 69, "a", 1);
    ent_store_close(s);
    s = NULL;
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL)); /* holds 213: room is made for 426 and more */
    /* a second handle in the same process shares the environment: the evolution fits its room */
    if (ent_store_open(&s2, dir, v2, NULL) != ENT_OK) fprintf(stderr, "\n  evolve: %s\n", ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    put_one(s2, 149, "b", 2);
    expect_one(s2, 69, "a", 1);
    verify_clean(s2);
    ent_store_close(s2);
    ent_store_close(s);
    ent_schema_free(v1);
    ent_schema_free(v2);
    ent_test_rm_rf(dir);
}

static void t_evolution_past_the_room_of_an_open_store(void)
{
    ent_schema *v1 = many_types(1, 10), *v2 = many_types(2, 300);
    ent_store *a = NULL, *b = NULL;
    int rc;
    ENT_TEST_MKDTEMP(dir, "many-tables");
    ENT_OK_(ent_store_open(&a, dir, v1, NULL)); /* 38 tables: room for 256 in this process */
    put_one(a, 9, "a", 1);
    rc = ent_store_open(&b, dir, v2, NULL);
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "room for 256 tables"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "open it again"));
    /* nothing of it applied: the open handle goes on at version 1 */
    put_one(a, 8, "b", 2);
    expect_one(a, 9, "a", 1);
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(a)), 1);
    verify_clean(a);
    ent_store_close(a);
    a = NULL;
    /* every handle closed: the next open makes room for the schema it brings */
    if (ent_store_open(&b, dir, v2, NULL) != ENT_OK) fprintf(stderr, "\n  evolve: %s\n", ent_errmsg());
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(b)), 2);
    expect_one(b, 8, "b", 2);
    put_one(b, 299, "c", 3);
    verify_clean(b);
    ent_store_close(b);
    ent_schema_free(v1);
    ent_schema_free(v2);
    ent_test_rm_rf(dir);
}

/* Types t0..t<ntypes-1> as many_types() has them, then "zz" (last), which gains an indexed field
 * "m" when zz_m. */
static ent_schema *with_zz(unsigned version, unsigned ntypes, int zz_m)
{
    size_t cap = 400 + (size_t)ntypes * 160, n = 0;
    char *j = malloc(cap);
    ent_schema *sc = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    n += (size_t)snprintf(j + n, cap - n, "{\"schema\":\"many\",\"version\":%u,\"types\":{", version);
    for (unsigned i = 0; i < ntypes; i++)
        n += (size_t)snprintf(j + n, cap - n,
                              "\"t%u\":{\"key\":\"auto\",\"fields\":{\"u\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
                              "\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true}}},", i);
    n += (size_t)snprintf(j + n, cap - n, "\"zz\":{\"key\":\"auto\",\"fields\":{\"u\":{\"id\":1,\"type\":\"string\",\"unique\":true}%s}}}}",
                          zz_m ? ",\"m\":{\"id\":2,\"type\":\"int\",\"indexed\":true}" : "");
    if (ent_schema_load_json(&sc, j, strlen(j), "many") != ENT_OK) fprintf(stderr, "\n  schema: %s\n", ent_errmsg());
    free(j);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    return sc;
}

static int put_zz(ent_store *s, const char *u)
{
    ent_entity *e = NULL;
    const ent_type *t = ent_store_type(s, "zz");
    int rc;
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    ENT_OK_(ent_entity_new(&e, t));
    ENT_OK_(ent_entity_set_string(e, "u", u));
    if (ent_type_field(t, "m")) ENT_OK_(ent_entity_set_int(e, "m", 7));
    rc = ent_create(s, NULL, e);
    ent_entity_free(e);
    return rc;
}

static uint64_t count_of(ent_store *s, const char *type)
{
    uint64_t n = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(ent_store_type(s, type));
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, type)));
    return n;
}

/* Another process evolves the store past the tables this process made room for while it holds
 * the store open. The reload of the schema failed on the first table without room, and with it
 * every transaction of the store: reads and writes of the types the process knew, the log's and
 * the checkpoints' (a relay or a server stopped on ENT_FULL). It keeps working now on the tables
 * it has; a type or an index it has no room for is a clear ENT_FULL, nothing of the write applied
 * (never a write that skips an index: zz's new index "m" is such a table). */
static void t_another_process_evolves_past_the_room(void)
{
    ent_schema *v1 = with_zz(1, 10, 0), *v2 = with_zz(2, 300, 1);
    ent_store *a = NULL;
    ent_txn *t = NULL;
    uint64_t first = 0, last = 0, before;
    pid_t pid;
    int status = -1, rc;
    ENT_TEST_MKDTEMP(dir, "many-tables");
    ENT_OK_(ent_store_open(&a, dir, v1, NULL)); /* 32 tables and the store's own: room for 256 */
    put_one(a, 9, "a", 1);
    CU_ASSERT_EQUAL(put_zz(a, "z1"), ENT_OK);
    ENT_OK_(ent_sub_create(a, "reader", 0));
    if ((pid = fork()) == 0) { /* the other process: its own environment, sized for v2 */
        ent_store *b = NULL;
        int ok = ent_store_open(&b, dir, v2, NULL) == ENT_OK;
        if (ok) {
            ent_entity *e = NULL;
            ok = ent_entity_new(&e, ent_store_type(b, "t299")) == ENT_OK && ent_entity_set_string(e, "u", "c") == ENT_OK &&
                 ent_entity_set_int(e, "n", 3) == ENT_OK && ent_create(b, NULL, e) == ENT_OK;
            ent_entity_free(e);
        }
        if (!ok) fprintf(stderr, "\n  other process: %s\n", ent_errmsg());
        ent_store_close(b);
        _exit(ok ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    waitpid(pid, &status, 0);
    CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a read transaction (which loads version 2) */
    rc = ent_txn_begin(&t, a, ENT_TXN_READ);
    CU_ASSERT_EQUAL(rc, ENT_OK);
    if (rc) fprintf(stderr, "\n  read txn: %s\n", ent_errmsg());
    if (!rc) ent_txn_abort(t);
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(a)), 2);
    /* the types it knew: read and written */
    expect_one(a, 9, "a", 1);
    put_one(a, 8, "b", 2);
    expect_one(a, 8, "b", 2);
    /* the log and the checkpoints */
    ENT_OK_(ent_log_bounds(&first, &last, a, NULL));
    CU_ASSERT_EQUAL(last, 4);
    ENT_OK_(ent_sub_ack(a, NULL, "reader", last));
    /* a type it has no room for: refused, saying what to do */
    {
        ent_entity *e = NULL;
        ENT_OK_(ent_entity_new(&e, ent_store_type(a, "t299")));
        ENT_OK_(ent_entity_set_string(e, "u", "d"));
        rc = ent_create(a, NULL, e);
        ent_entity_free(e);
        CU_ASSERT_EQUAL(rc, ENT_FULL);
        CU_ASSERT_EQUAL(ent_errdetail(), ENT_DETAIL_NO_SPACE);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "open it again"));
    }
    /* a type it knew whose new index it has no room for: refused whole, no record without its index */
    before = count_of(a, "zz");
    rc = put_zz(a, "z2");
    CU_ASSERT_EQUAL(rc, ENT_FULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "open it again"));
    CU_ASSERT_EQUAL(count_of(a, "zz"), before);
    ent_store_close(a);
    a = NULL;

    /* reopened: room for all of it, and nothing lost or half-written */
    ENT_OK_(ent_store_open(&a, dir, NULL, NULL));
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    expect_one(a, 299, "c", 3);
    expect_one(a, 8, "b", 2);
    CU_ASSERT_EQUAL(count_of(a, "zz"), 1);
    CU_ASSERT_EQUAL(count_of(a, "t299"), 1);
    CU_ASSERT_EQUAL(put_zz(a, "z2"), ENT_OK);
    verify_clean(a);
    ent_store_close(a);
    ent_schema_free(v1);
    ent_schema_free(v2);
    ent_test_rm_rf(dir);
}

/* An open that finds more tables than its first try made room for opens once more, sized for
 * them; another process that adds tables between the tries (an evolution on its open) left the
 * second try short too, and the open failed with ENT_FULL and a stale message. It tries again now
 * while the store outgrows each try, a few times (ENT_BUSY saying to open again after that).
 * The other process runs between the tries: this test links with --wrap=mdb_env_open, and the
 * wrapper, when armed, has it evolve the store before the tries it names (each try is one
 * mdb_env_open), waiting until it has. */
int __real_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);
int __wrap_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);
static int env_opens, evolve_from, evolve_to; /* evolve before opens [from, to] of this process */
static int evolve_go = -1, evolve_done = -1;  /* pipes to the evolving child (-1: not armed) */

int __wrap_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode)
{
    if (evolve_go >= 0) {
        int k = ++env_opens;
        char c = 0;
        if (k >= evolve_from && k <= evolve_to) {
            CU_ASSERT(write(evolve_go, "g", 1) == 1);
            CU_ASSERT(read(evolve_done, &c, 1) == 1 && c == 'k');
        }
    }
    return __real_mdb_env_open(env, path, flags, mode);
}

/* Evolves the store at dir to many_types(i + 2, ntypes[i]) on each byte read from go; answers
 * 'k' (or 'x') on done. */
static int evolver(int go, int done, const unsigned *ntypes, int n)
{
    for (int i = 0; i < n; i++) {
        ent_schema *sc = NULL;
        ent_store *s = NULL;
        char c;
        int ok;
        if (read(go, &c, 1) != 1) return 1;
        sc = many_types((unsigned)i + 2, ntypes[i]);
        ok = ent_store_open(&s, dir, sc, NULL) == ENT_OK;
        if (!ok) fprintf(stderr, "\n  evolver: %s\n", ent_errmsg());
        ent_store_close(s);
        ent_schema_free(sc);
        if (write(done, ok ? "k" : "x", 1) != 1) return 1;
    }
    return 0;
}

/* Open dir without a schema while a child evolves it (to ntypes[i] types, 3 tables each) before
 * the opens from..to of this process. The open's code; *s is the store on ENT_OK. */
static int open_while_evolved(ent_store **s, int from, const unsigned *ntypes, int n)
{
    int go[2], done[2], status = -1, rc;
    pid_t pid;
    CU_ASSERT_FATAL(pipe(go) == 0 && pipe(done) == 0);
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) == 0) _exit(evolver(go[0], done[1], ntypes, n));
    CU_ASSERT_FATAL(pid > 0);
    env_opens = 0;
    evolve_from = from;
    evolve_to = from + n - 1;
    evolve_go = go[1];
    evolve_done = done[0];
    rc = ent_store_open(s, dir, NULL, NULL);
    evolve_go = evolve_done = -1;
    close(go[1]); /* a child still waiting for a go ends */
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]);
    close(done[0]);
    close(done[1]);
    return rc;
}

static void t_tables_added_between_the_tries_of_an_open(void)
{
    ent_schema *v1 = many_types(1, 70); /* 213 tables: more than a first try's room of 256 holds */
    static const unsigned grown[] = {100, 200, 400}; /* 303, 603, 1 203 tables */
    ent_store *s = NULL;
    int rc;
    ENT_TEST_MKDTEMP(dir, "many-tables");
    ENT_OK_(ent_store_open(&s, dir, v1, NULL));
    put_one(s, 69, "a", 1);
    ent_store_close(s);
    s = NULL;

    /* evolved to 303 tables between the first try (room 256) and the second (room 512) */
    rc = open_while_evolved(&s, 2, grown, 1);
    if (rc) fprintf(stderr, "\n  open: %d %s\n", rc, ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 2);
    put_one(s, 99, "b", 2);
    expect_one(s, 69, "a", 1);
    verify_clean(s);
    ent_store_close(s);
    s = NULL;

    /* outgrowing every try: a clear ENT_BUSY (fresh store: the tries start at 213 tables again) */
    ent_test_rm_rf(dir);
    ENT_TEST_MKDTEMP(dir, "many-tables");
    ENT_OK_(ent_store_open(&s, dir, v1, NULL));
    ent_store_close(s);
    s = NULL;
    rc = open_while_evolved(&s, 2, grown, 3);
    CU_ASSERT_EQUAL(rc, ENT_BUSY);
    CU_ASSERT_PTR_NULL(s);
    ENT_ASSERT_MSG("added tables");
    ENT_ASSERT_MSG("open it again");
    /* and the next open has room for all of it */
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    CU_ASSERT_EQUAL(ent_schema_version(ent_store_schema(s)), 4);
    put_one(s, 399, "c", 3);
    verify_clean(s);
    ent_store_close(s);
    ent_schema_free(v1);
    ent_test_rm_rf(dir);
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(t_thousand_tables), ENT_TEST(t_reopened_near_the_old_bound),
                                          ENT_TEST(t_evolution_past_the_room_of_an_open_store),
                                          ENT_TEST(t_another_process_evolves_past_the_room),
                                          ENT_TEST(t_tables_added_between_the_tries_of_an_open), {NULL, NULL}};
    return ent_test_run("many_tables", cases);
}
