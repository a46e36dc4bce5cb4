/* entity: commands that write, follow, export and check a store. */
#include <entity/entity.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include <time.h>

/* A progress line on stderr, only on a terminal and only once the work has run a second.
 * n <= 1 and done 0 starts timing; done 1 ends with a last count; done 2 just ends the line. */
static void progress(const char *what, uint64_t n, int done)
{
    static struct timespec start, last;
    static int shown;
    struct timespec now;
    if (!isatty(2)) return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (n <= 1 && !done) {
        start = last = now;
        shown = 0;
        return;
    }
    if (done) {
        if (done == 1 && now.tv_sec - start.tv_sec >= 1) fprintf(stderr, "\r%s %llu\n", what, (unsigned long long)n);
        else if (done == 2 && shown) fputc('\n', stderr);
        shown = 0;
        return;
    }
    if (now.tv_sec - start.tv_sec < 1 || (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 250) return;
    last = now;
    shown = 1;
    fprintf(stderr, "\r%s %llu", what, (unsigned long long)n);
}

int parse_u64(uint64_t *out, const char *text, const char *what)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-') {
        msg("%s: \"%s\" is not a non-negative integer", what, text);
        return 2;
    }
    *out = v;
    return 0;
}

/* Read all of stdin (for JSON given as "-" or omitted). */
static char *read_stdin(void)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        size_t got;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) break;
    }
    buf[n] = '\0';
    return buf;
}

static int durability_arg(int *out, const char *text)
{
    if (!strcmp(text, "durable")) *out = ENT_DURABLE;
    else if (!strcmp(text, "lazy")) *out = ENT_LAZY;
    else if (!strcmp(text, "none")) *out = ENT_NONE;
    else {
        msg("--durability must be durable, lazy or none, not \"%s\"", text);
        return 2;
    }
    return 0;
}

int cmd_init(int argc, char **argv)
{
    const char *file = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    char path[4096];
    struct stat st;
    int rc;
    o.durability = ENT_DURABLE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--schema") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--durability") && i + 1 < argc) {
            if ((rc = durability_arg(&o.durability, argv[++i]))) return rc;
        } else return usage();
    }
    if (!file) {
        msg("init needs --schema FILE");
        return 2;
    }
    snprintf(path, sizeof path, "%s/data.mdb", store_dir);
    if (stat(path, &st) == 0) {
        msg("a store exists at %s already", store_dir);
        return 1;
    }
    if (ent_schema_load_file(&sc, file) != ENT_OK) return fail("schema");
    rc = ent_store_open(&s, store_dir, sc, &o) == ENT_OK ? 0 : fail(store_dir);
    if (!rc) fprintf(stderr, "entity: created %s (schema %s v%u)\n", store_dir, ent_schema_name(sc),
                     (unsigned)ent_schema_version(sc));
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

int cmd_schema_apply(const char *file)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.no_create = 1;
    if (ent_schema_load_file(&sc, file) != ENT_OK) return fail("schema");
    rc = ent_store_open(&s, store_dir, sc, &o) == ENT_OK ? 0 : fail("schema --apply");
    if (!rc) fprintf(stderr, "entity: the store is at schema %s v%u\n", ent_schema_name(sc), (unsigned)ent_schema_version(sc));
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

/* put TYPE [--key K] [--expect-version V] [JSON|-] */
int cmd_put(int argc, char **argv)
{
    const char *key_text = NULL, *json = NULL;
    uint64_t expect = ENT_VERSION_ANY;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    const ent_type *t;
    char *in = NULL;
    int rc;
    if (argc < 2) return usage();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < argc) key_text = argv[++i];
        else if (!strcmp(argv[i], "--expect-version") && i + 1 < argc) {
            if ((rc = parse_u64(&expect, argv[++i], "--expect-version"))) return rc;
        } else if (!json && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) json = argv[i];
        else return usage();
    }
    if (!json || !strcmp(json, "-")) json = in = read_stdin();
    if ((rc = open_store(&s, 0))) goto out;
    if (!(t = type_arg(s, argv[1]))) {
        rc = 1;
        goto out;
    }
    if (ent_entity_from_json(&e, t, json, strlen(json)) != ENT_OK) {
        rc = fail("put");
        goto out;
    }
    if (key_text) {
        ent_key k;
        if ((rc = parse_key(&k, t, key_text))) goto out;
        if (ent_entity_set_key(e, &k) != ENT_OK) {
            rc = fail("put");
            goto out;
        }
        if (ent_type_key(t) == ENT_KEY_AUTO && expect == ENT_VERSION_ANY) {
            /* an auto type with --key replaces an existing entity and fails if there is none */
            rc = ent_replace(s, NULL, e, ENT_VERSION_ANY) == ENT_OK ? 0 : fail("put");
        } else {
            rc = ent_upsert(s, NULL, e, expect) == ENT_OK ? 0 : fail("put");
        }
    } else {
        if (ent_type_key(t) == ENT_KEY_STRING) {
            msg("put: %s has string keys: give --key", ent_type_name(t));
            rc = 1;
            goto out;
        }
        rc = ent_create(s, NULL, e) == ENT_OK ? 0 : fail("put");
    }
    if (!rc) rc = print_entity(e, isatty(1) ? ENT_JSON_PRETTY : 0);
out:
    free(in);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

/* patch TYPE KEY [--expect-version V] JSON */
int cmd_patch(int argc, char **argv)
{
    uint64_t expect = ENT_VERSION_ANY;
    const char *json = NULL;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    const ent_type *t;
    ent_key k;
    int rc;
    if (argc < 4) return usage();
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--expect-version") && i + 1 < argc) {
            if ((rc = parse_u64(&expect, argv[++i], "--expect-version"))) return rc;
        } else if (!json) json = argv[i];
        else return usage();
    }
    if (!json) return usage();
    if ((rc = open_store(&s, 0))) return rc;
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else if (ent_get(&e, s, NULL, t, &k) != ENT_OK) rc = fail("patch");
    else if (ent_entity_patch_json(e, json, strlen(json)) != ENT_OK) rc = fail("patch");
    else if (ent_replace(s, NULL, e, expect == ENT_VERSION_ANY ? ent_entity_version(e) : expect) != ENT_OK) rc = fail("patch");
    else rc = print_entity(e, isatty(1) ? ENT_JSON_PRETTY : 0);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

/* rm TYPE KEY [--expect-version V] */
int cmd_rm(int argc, char **argv)
{
    uint64_t expect = ENT_VERSION_ANY;
    ent_store *s = NULL;
    const ent_type *t;
    ent_key k;
    int rc;
    if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--expect-version"))) return usage();
    if (argc == 5 && (rc = parse_u64(&expect, argv[4], "--expect-version"))) return rc;
    if ((rc = open_store(&s, 0))) return rc;
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else rc = ent_delete(s, NULL, t, &k, expect) == ENT_OK ? 0 : fail("rm");
    ent_store_close(s);
    return rc;
}

/* find TYPE FIELD VALUE | find TYPE FIELD --from A [--to B] [--limit N] [--reverse] */
int cmd_find(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *value = NULL;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    ent_store *s = NULL;
    const ent_type *t;
    const ent_field *f;
    ent_iter *it = NULL;
    ent_entity *e;
    ent_value vfrom, vto, v;
    int rc, limit_zero = 0;
    if (argc < 4) return usage();
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc) from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) to = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if ((rc = parse_u64(&o.limit, argv[++i], "--limit"))) return rc;
            limit_zero = o.limit == 0;
        } else if (!strcmp(argv[i], "--reverse")) o.flags |= ENT_ITER_REVERSE;
        else if (!value && argv[i][0] != '-') value = argv[i];
        else return usage();
    }
    if (!value == !from) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1]))) {
        rc = 1;
        goto out;
    }
    if (!(f = ent_type_field(t, argv[2]))) {
        msg("%s has no field \"%s\"", argv[1], argv[2]);
        rc = 1;
        goto out;
    }
    if (value) {
        if (ent_value_parse(&v, f, value) != ENT_OK || ent_find(&it, s, NULL, f, &v) != ENT_OK) {
            rc = fail("find");
            goto out;
        }
    } else {
        if (ent_value_parse(&vfrom, f, from) != ENT_OK) {
            rc = fail("find --from");
            goto out;
        }
        {
            /* the two bounds must not share the thread's bytes buffer */
            static unsigned char from_copy[512];
            if (vfrom.kind == ENT_KIND_BYTES && vfrom.v.s.len <= sizeof from_copy) {
                memcpy(from_copy, vfrom.v.s.ptr, vfrom.v.s.len);
                vfrom.v.s.ptr = from_copy;
            }
        }
        o.from = &vfrom;
        if (to) {
            if (ent_value_parse(&vto, f, to) != ENT_OK) {
                rc = fail("find --to");
                goto out;
            }
            o.to = &vto;
        }
        if (ent_range(&it, s, NULL, f, &o) != ENT_OK) {
            rc = fail("find");
            goto out;
        }
    }
    /* --limit 0 prints nothing, as head -n 0 does (the library's 0 means "no limit") */
    while (!limit_zero && (rc = ent_iter_next(&e, it)) == ENT_OK) {
        print_entity(e, 0);
        ent_entity_free(e);
    }
    rc = rc == ENT_NOTFOUND || rc == ENT_OK ? 0 : fail("find"); /* OK: --limit 0 */
out:
    ent_iter_free(it);
    ent_store_close(s);
    return rc;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int op_arg(unsigned *out, const char *text)
{
    if (!strcmp(text, "create")) *out |= ENT_OP_CREATE;
    else if (!strcmp(text, "update")) *out |= ENT_OP_UPDATE;
    else if (!strcmp(text, "delete")) *out |= ENT_OP_DELETE;
    else {
        msg("--op must be create, update or delete, not \"%s\"", text);
        return 2;
    }
    return 0;
}

static int print_events(ent_log_cursor *c, uint64_t limit, uint64_t *n)
{
    ent_event *ev;
    int rc;
    while ((!limit || *n < limit) && (rc = ent_log_next(&ev, c)) == ENT_OK) {
        char *j = NULL;
        if (ent_event_to_json(&j, ev, 0) == ENT_OK) puts(j);
        free(j);
        ent_event_free(ev);
        (*n)++;
    }
    fflush(stdout);
    return limit && *n >= limit ? ENT_OK : rc == ENT_NOTFOUND ? ENT_OK : rc;
}

/* events [--from SEQ] [--limit N] [--type T] [--op OP] [--follow] */
int cmd_events(int argc, char **argv)
{
    uint64_t from = 1, limit = 0, n = 0;
    const char *type = NULL;
    unsigned ops = 0;
    int follow = 0, rc, limit_zero = 0;
    ent_store *s = NULL;
    ent_log_cursor *c = NULL;
    const ent_type *t = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc) {
            if ((rc = parse_u64(&from, argv[++i], "--from"))) return rc;
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if ((rc = parse_u64(&limit, argv[++i], "--limit"))) return rc;
            limit_zero = limit == 0;
        } else if (!strcmp(argv[i], "--type") && i + 1 < argc) type = argv[++i];
        else if (!strcmp(argv[i], "--op") && i + 1 < argc) {
            if ((rc = op_arg(&ops, argv[++i]))) return rc;
        } else if (!strcmp(argv[i], "--follow")) follow = 1;
        else return usage();
    }
    if ((rc = open_store(&s, 1))) return rc;
    if (type && !(t = type_arg(s, type))) {
        ent_store_close(s);
        return 1;
    }
    if (ent_log_cursor_open(&c, s, from, t, ops) != ENT_OK) rc = fail("events");
    else if (!limit_zero && print_events(c, limit, &n) != ENT_OK) rc = fail("events");
    if (!rc && follow && !limit_zero) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!stop && (!limit || n < limit)) {
            int w = ent_log_wait(NULL, s, ent_log_cursor_pos(c) - 1, 200);
            if (w == ENT_TIMEOUT) continue;
            if (w || print_events(c, limit, &n) != ENT_OK) {
                rc = fail("events --follow");
                break;
            }
        }
    }
    ent_log_cursor_free(c);
    ent_store_close(s);
    return rc;
}

/* subs | subs add NAME [--from-now] | subs rm NAME | subs read NAME [--limit N] | subs ack NAME SEQ */
int cmd_subs(int argc, char **argv)
{
    ent_store *s = NULL;
    int rc;
    if (argc == 1) {
        ent_sub_info *list = NULL;
        size_t n = 0;
        uint64_t first = 0, last = 0;
        if ((rc = open_store(&s, 1))) return rc;
        if (ent_sub_list(&list, &n, s) != ENT_OK || ent_log_bounds(&first, &last, s, NULL) != ENT_OK) rc = fail("subs");
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *o = json_pack("{s:s,s:I,s:I}", "name", list[i].name, "checkpoint", (json_int_t)list[i].checkpoint,
                                  "lag", (json_int_t)(last > list[i].checkpoint ? last - list[i].checkpoint : 0));
            char *j = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            puts(j);
            free(j);
            json_decref(o);
        }
        free(list);
        ent_store_close(s);
        return rc;
    }
    if (argc < 3) return usage();
    if (!strcmp(argv[1], "add")) {
        int from_now = argc == 4 && !strcmp(argv[3], "--from-now");
        if (argc > 4 || (argc == 4 && !from_now)) return usage();
        if ((rc = open_store(&s, 0))) return rc;
        rc = ent_sub_create(s, argv[2], from_now) == ENT_OK ? 0 : fail("subs add");
    } else if (!strcmp(argv[1], "rm") && argc == 3) {
        if ((rc = open_store(&s, 0))) return rc;
        rc = ent_sub_delete(s, argv[2]) == ENT_OK ? 0 : fail("subs rm");
    } else if (!strcmp(argv[1], "ack") && argc == 4) {
        uint64_t seq;
        if ((rc = parse_u64(&seq, argv[3], "seq"))) return rc;
        if ((rc = open_store(&s, 0))) return rc;
        rc = ent_sub_ack(s, NULL, argv[2], seq) == ENT_OK ? 0 : fail("subs ack");
    } else if (!strcmp(argv[1], "read") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "--limit")))) {
        uint64_t limit = 0, n = 0;
        ent_log_cursor *c = NULL;
        if (argc == 5 && (rc = parse_u64(&limit, argv[4], "--limit"))) return rc;
        if ((rc = open_store(&s, 1))) return rc;
        if (ent_sub_cursor(&c, s, argv[2]) != ENT_OK || (!(argc == 5 && limit == 0) && print_events(c, limit, &n) != ENT_OK))
            rc = fail("subs read");
        ent_log_cursor_free(c);
    } else {
        return usage();
    }
    ent_store_close(s);
    return rc;
}

/* dump [TYPE...] */
int cmd_dump(int argc, char **argv)
{
    ent_store *s = NULL;
    const ent_schema *sc;
    uint64_t dumped = 0;
    int rc;
    if ((rc = open_store(&s, 1))) return rc;
    progress("entity: dump: entities", 0, 0);
    sc = ent_store_schema(s);
    for (int i = 1; i < argc; i++)
        if (!type_arg(s, argv[i])) rc = 1;
    for (size_t i = 0; !rc && i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        ent_iter *it = NULL;
        ent_entity *e;
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++) wanted |= !strcmp(argv[a], ent_type_name(t));
        if (!wanted) continue;
        if (ent_scan(&it, s, NULL, t, NULL, NULL) != ENT_OK) {
            rc = fail("dump");
            break;
        }
        while ((rc = ent_iter_next(&e, it)) == ENT_OK) {
            print_entity(e, 0);
            ent_entity_free(e);
            progress("entity: dump: entities", ++dumped, 0);
        }
        rc = rc == ENT_NOTFOUND ? 0 : fail("dump");
        ent_iter_free(it);
    }
    progress("entity: dump: entities", dumped, 1);
    ent_store_close(s);
    return rc;
}

/* load [--batch N]: entity-shaped NDJSON on stdin, N entities per transaction */
int cmd_load(int argc, char **argv)
{
    uint64_t batch = 1000, in_txn = 0, lines = 0, loaded = 0;
    ent_store *s = NULL;
    ent_txn *w = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc;
    if (argc == 3 && !strcmp(argv[1], "--batch")) {
        if ((rc = parse_u64(&batch, argv[2], "--batch"))) return rc;
        if (!batch) batch = 1;
    } else if (argc != 1) {
        return usage();
    }
    if ((rc = open_store(&s, 0))) return rc;
    progress("entity: load: entities", 0, 0);
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        json_error_t err;
        json_t *o, *data;
        const ent_type *t;
        ent_entity *e = NULL;
        ent_key k;
        char *djson = NULL, keybuf[32];
        lines++;
        if (len <= 1 && (len == 0 || line[0] == '\n')) continue;
        o = json_loads(line, 0, &err);
        if (!o) {
            progress("", 0, 2);
            msg("line %llu: invalid JSON at column %d: %s", (unsigned long long)lines, err.column, err.text);
            rc = 1;
            break;
        }
        t = json_is_string(json_object_get(o, "type")) ? ent_store_type(s, json_string_value(json_object_get(o, "type"))) : NULL;
        data = json_object_get(o, "data");
        if (!t || !json_is_object(data) || !json_is_integer(json_object_get(o, "version"))) {
            progress("", 0, 2);
            msg("line %llu: expected {\"type\":T,\"key\":K,\"version\":V,\"data\":{...}} with a known type", (unsigned long long)lines);
            json_decref(o);
            rc = 1;
            break;
        }
        djson = json_dumps(data, JSON_COMPACT);
        rc = ent_entity_from_json(&e, t, djson, strlen(djson));
        free(djson);
        if (!rc) {
            json_t *kj = json_object_get(o, "key");
            if (json_is_integer(kj)) snprintf(keybuf, sizeof keybuf, "%lld", (long long)json_integer_value(kj));
            rc = parse_key(&k, t, json_is_integer(kj) ? keybuf : json_is_string(kj) ? json_string_value(kj) : "");
            if (!rc) rc = ent_entity_set_key(e, &k);
        }
        if (!rc && !w) rc = ent_txn_begin(&w, s, ENT_TXN_WRITE);
        /* keys and versions as given: a restore keeps both */
        if (!rc) rc = ent_entity_set_version(e, (uint64_t)json_integer_value(json_object_get(o, "version")));
        if (!rc) rc = ent_restore(s, w, e);
        ent_entity_free(e);
        json_decref(o);
        if (rc) {
            progress("", 0, 2);
            msg("line %llu: %s", (unsigned long long)lines, ent_errmsg());
            rc = 1;
            break;
        }
        loaded++;
        progress("entity: load: entities", loaded, 0);
        if (++in_txn == batch) {
            if (ent_txn_commit(w) != ENT_OK) {
                w = NULL;
                rc = fail("load");
                break;
            }
            w = NULL;
            in_txn = 0;
        }
    }
    free(line);
    progress("", 0, 2);
    if (w) {
        if (rc) ent_txn_abort(w);
        else if (ent_txn_commit(w) != ENT_OK) rc = fail("load");
    }
    if (!rc) fprintf(stderr, "entity: loaded %llu entities\n", (unsigned long long)loaded);
    ent_store_close(s);
    return rc;
}

static void print_problem(const char *line, void *payload)
{
    (void)payload;
    puts(line);
}

/* The library's progress of verify and replay, as the tool's progress line. */
static void lib_progress(const char *what, uint64_t done, void *payload)
{
    (void)payload;
    progress(!strcmp(what, "verify") ? "entity: check: items looked at" : "entity: replay: events replayed", done, 0);
}

int cmd_check(int argc, char **argv)
{
    ent_store *s = NULL;
    uint64_t problems = 0;
    int rc;
    (void)argv;
    if (argc != 1) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    progress("", 0, 0);
    ent_store_set_progress(s, lib_progress, NULL);
    rc = ent_store_verify(&problems, s, print_problem, NULL);
    progress("", 0, 2);
    if (rc == ENT_OK) puts("ok");
    else if (rc == ENT_CORRUPT && problems) rc = 1;
    else rc = fail("check");
    ent_store_close(s);
    return rc ? 1 : 0;
}

int cmd_stat(int argc, char **argv)
{
    ent_store *s = NULL;
    const ent_schema *sc;
    json_t *o, *types, *subs;
    ent_sub_info *list = NULL;
    size_t nsubs = 0;
    uint64_t first = 0, last = 0;
    char *j;
    int rc;
    (void)argv;
    if (argc != 1) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    sc = ent_store_schema(s);
    o = json_object();
    types = json_object();
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        uint64_t n = 0;
        json_t *idx = json_array();
        if (ent_count(&n, s, NULL, t) != ENT_OK) rc = fail("stat");
        for (size_t f = 0; f < ent_type_field_count(t); f++) {
            const ent_field *fl = ent_type_field_at(t, f);
            if (ent_field_is_unique(fl)) json_array_append_new(idx, json_pack("{s:s,s:s}", "field", ent_field_name(fl), "kind", "unique"));
            else if (ent_field_is_indexed(fl)) json_array_append_new(idx, json_pack("{s:s,s:s}", "field", ent_field_name(fl), "kind", "indexed"));
        }
        json_object_set_new(types, ent_type_name(t), json_pack("{s:I,s:o}", "count", (json_int_t)n, "indexes", idx));
    }
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK || ent_sub_list(&list, &nsubs, s) != ENT_OK) rc = fail("stat");
    subs = json_array();
    for (size_t i = 0; i < nsubs; i++)
        json_array_append_new(subs, json_pack("{s:s,s:I,s:I}", "name", list[i].name, "checkpoint", (json_int_t)list[i].checkpoint,
                                              "lag", (json_int_t)(last > list[i].checkpoint ? last - list[i].checkpoint : 0)));
    free(list);
    json_object_set_new(o, "schema", json_pack("{s:s,s:i}", "name", ent_schema_name(sc), "version", (int)ent_schema_version(sc)));
    json_object_set_new(o, "backend", json_string(ent_store_backend(s)));
    json_object_set_new(o, "types", types);
    json_object_set_new(o, "log", json_pack("{s:I,s:I}", "first_seq", (json_int_t)first, "last_seq", (json_int_t)last));
    json_object_set_new(o, "subscriptions", subs);
    {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/data.mdb", store_dir);
        if (stat(p, &st) == 0) json_object_set_new(o, "disk_bytes", json_integer((json_int_t)st.st_blocks * 512));
    }
    j = json_dumps(o, (isatty(1) ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
    if (!rc) puts(j);
    free(j);
    json_decref(o);
    ent_store_close(s);
    return rc;
}

int cmd_trim(int argc, char **argv)
{
    uint64_t below = 0;
    int force = 0, rc;
    ent_store *s = NULL;
    if (argc < 3 || strcmp(argv[1], "--below")) return usage();
    if ((rc = parse_u64(&below, argv[2], "--below"))) return rc;
    if (argc == 4 && !strcmp(argv[3], "--force")) force = 1;
    else if (argc != 3) return usage();
    if ((rc = open_store(&s, 0))) return rc;
    rc = ent_log_truncate(s, below, force) == ENT_OK ? 0 : fail("trim");
    ent_store_close(s);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    const char *into = NULL;
    uint64_t to = 0;
    ent_store *s = NULL, *d = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--into") && i + 1 < argc) into = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            if ((rc = parse_u64(&to, argv[++i], "--to"))) return rc;
        } else return usage();
    }
    if (!into) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    if (ent_store_open(&d, into, ent_store_schema(s), &o) != ENT_OK) rc = fail(into);
    else {
        progress("", 0, 0);
        ent_store_set_progress(s, lib_progress, NULL);
        if (ent_store_replay(d, s, to) != ENT_OK) rc = fail("replay");
        progress("", 0, 2);
    }
    ent_store_close(d);
    ent_store_close(s);
    return rc;
}

/* copy DEST [--compact] */
int cmd_copy(int argc, char **argv)
{
    ent_store *s = NULL;
    int compact = argc == 3 && !strcmp(argv[2], "--compact"), rc;
    if (argc != 2 && !compact) return usage();
    if ((rc = open_store(&s, 1))) return rc;
    rc = ent_store_copy(s, argv[1], compact) == ENT_OK ? 0 : fail("copy");
    ent_store_close(s);
    return rc;
}
