/* entity: commands that write, follow, export and check a store. */
#include <entity/entity.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

int is_option(const char *arg) { return arg[0] == '-' && arg[1] == '-' && arg[2]; }

int parse_u64(uint64_t *out, const char *text, const char *what)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(text, &end, 10);
    /* digits only: strtoull() also takes blanks, '+' and '-' (" -1" would be 2^64 - 1) */
    if (!isdigit((unsigned char)text[0]) || *end || (errno && errno != ERANGE)) {
        msg("%s: \"%s\" is not a non-negative integer", what, text);
        return 2;
    }
    if (errno == ERANGE) { /* a number, out of range: it said "not a non-negative integer" of it */
        msg("%s: %s is too large (at most %llu)", what, text, (unsigned long long)UINT64_MAX);
        return 2;
    }
    *out = v;
    return 0;
}

/* --expect-version V: 2^64-1 is ENT_VERSION_ANY inside, which a write takes as "any version"
 * (the option given that value wrote unconditionally, as serve's If-Match did); no entity has it. */
static int parse_expect(uint64_t *out, const char *text)
{
    int rc = parse_u64(out, text, "--expect-version");
    if (rc) return rc;
    if (*out == ENT_VERSION_ANY) {
        msg("--expect-version: %s is no version (it stands for any version inside)", text);
        return 2;
    }
    return 0;
}

/* The most JSON text put reads, and a line of load may hold, unless --max-input / --max-line
 * raise it: 256 MiB, far above what entities usually hold, and bounded so that /dev/zero or a
 * stream without a newline ends with an error rather than with the memory (parsing a text takes
 * about 4 times its size more). A stored entity may be larger (a value holds up to 4 GiB - 1, and
 * LMDB a record up to 4 GiB - 1): its JSON needs the option raised. */
#define MAX_TEXT_DEFAULT ((uint64_t)256 << 20)

/* A dump's first line (format 2, from 2026-12-07). The format promises an end line, written last:
 * {"end":"dump","lines":N,"entities":{T:n,...}} (N the lines between the two, n the entities of
 * each type dumped), with "left_out":K when dump left K damaged items out. A dump without this
 * header (older) has no end line, and loads as before. */
#define DUMP_HEADER "{\"dump\":\"entity\",\"format\":2}"
#define DUMP_FORMAT 2
#define DUMP_END_PREFIX "{\"end\":"

/* Read all of stdin (for JSON given as "-" or omitted), at most max bytes of it. NULL with a
 * message when it cannot be read: a directory or a closed descriptor is no empty input (the JSON
 * error named neither), and input over max is refused once max + 1 bytes are in (/dev/zero ran
 * until memory was exhausted). over: what to say then after "WHAT: ", or NULL for the bound and
 * the --max-input that raises it. */
static char *read_stdin(size_t *out_len, const char *what, size_t max, const char *over)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap), *more;
    for (;;) {
        size_t got;
        if (buf && n + 1 >= cap) {
            cap = cap - 1 > max / 2 ? max + 2 : cap * 2; /* room for max + 1 bytes and the NUL */
            if (!(more = realloc(buf, cap))) free(buf);
            buf = more;
        }
        if (!buf) {
            msg("%s: reading the input: out of memory", what);
            return NULL;
        }
        got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (n > max) {
            if (over) msg("%s: %s", what, over);
            else msg("%s: the input is longer than %zu bytes, the most %s reads (%s --max-input BYTES raises it)", what, max, what, what);
            free(buf);
            return NULL;
        }
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        msg("%s: reading the input: %s", what, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out_len = n; /* a NUL byte read is no end of the input */
    return buf;
}

/* A command's JSON argument (put, patch): the text given, or stdin's when it is "-" or omitted
 * (NULL), into *json and *len; *in is what to free (NULL for an argument). Returns 0, or 1 with a
 * message: stdin unreadable, over max, or holding a NUL byte. */
static int json_arg(const char **json, size_t *len, char **in, const char *what, size_t max)
{
    const char *nul;
    *in = NULL;
    if (*json && strcmp(*json, "-")) {
        *len = strlen(*json);
        return 0;
    }
    if (!(*json = *in = read_stdin(len, what, max, NULL))) return 1;
    if ((nul = memchr(*in, '\0', *len))) { /* jansson said "end of file expected near end of file" */
        msg("%s: the input holds a NUL byte at byte %zu (JSON holds none: a string writes it \\u0000)", what,
            (size_t)(nul - *in) + 1);
        free(*in);
        *in = NULL;
        return 1;
    }
    return 0;
}

/* --max-input / --max-line BYTES: from 1 up to what a size_t holds with room to spare. */
static int parse_max_text(uint64_t *out, const char *text, const char *what)
{
    int rc = parse_u64(out, text, what);
    if (rc) return rc;
    if (*out == 0 || *out > SIZE_MAX / 8) {
        msg("%s must be 1 to %zu bytes, not %s", what, SIZE_MAX / 8, text);
        return 2;
    }
    return 0;
}

int durability_arg(int *out, const char *text)
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

/* The directory a failed init made, emptied and removed. The store's open may have failed after
 * the backend made its files (a schema the store refuses: limits that admit no value, more
 * tables than a store may have), and rmdir() alone left the directory with them: a store of no
 * schema, "no libentity store at" it. Only regular files go, and only from a directory this init
 * made and holds the lock of. */
/* The regular files in dir, which a failed command made there (a store's data.mdb and lock.mdb
 * in a directory that held nothing else). */
static void remove_made_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d) {
        int fd = dirfd(d);
        while ((de = readdir(d))) {
            struct stat st;
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) unlinkat(fd, de->d_name, 0);
        }
        closedir(d);
    }
}

/* dir, which a failed command made, and the files it made in it. */
static void remove_made_dir(const char *dir)
{
    remove_made_files(dir);
    rmdir(dir);
}

/* The schema descriptor of init --schema and schema --apply: FILE, or stdin with "-", as put and
 * patch read their JSON (a schema made by a program had to be written to a file first; "-" was a
 * file "-" not found). Read to the bound a file has, and parsed by the same call: bad input says
 * what a file's would. Returns 0, or 1 with a message. */
static int load_schema_arg(ent_schema **out, const char *file)
{
    char over[128], *text;
    size_t len = 0;
    int rc;
    if (strcmp(file, "-")) return ent_schema_load_file(out, file) == ENT_OK ? 0 : fail("schema");
    snprintf(over, sizeof over, "<stdin>: over %zu MiB, the most a schema file may hold: not a schema descriptor",
             ENT_SCHEMA_FILE_MAX >> 20);
    if (!(text = read_stdin(&len, "schema", ENT_SCHEMA_FILE_MAX, over))) return 1;
    rc = ent_schema_load_json(out, text, len, "<stdin>");
    free(text);
    return rc == ENT_OK ? 0 : fail("schema");
}

int cmd_init(int argc, char **argv)
{
    const char *file = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    char path[4096];
    struct stat st;
    int rc, dfd = -1, made = 0;
    o.durability = ENT_DURABLE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--schema") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--durability") && i + 1 < argc) {
            if ((rc = durability_arg(&o.durability, argv[++i]))) return rc;
        } else return bad_word(argv[0], argv[i]);
    }
    if (!file) return missing(argv[0], "--schema FILE"); /* with the usage line every other missing word gets */
    /* Two inits of one new directory at once both found no store and both opened it, the second
     * the first's store (or evolving it to its own schema), and both said "created". The
     * directory, locked, orders them: the second finds the store. Where it cannot be made or
     * opened, the library says why below. */
    if ((made = mkdir(store_dir, 0775) == 0) || errno == EEXIST) {
        dfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        while (dfd >= 0 && flock(dfd, LOCK_EX) < 0 && errno == EINTR) {}
    }
    snprintf(path, sizeof path, "%s/data.mdb", store_dir);
    if (stat(path, &st) == 0) {
        /* LMDB files without a libentity store in them (an init that failed, on a full disk
         * say) may be initialised; a store, or a damaged file, is left alone */
        ent_store_opts ro = ENT_STORE_OPTS_INIT;
        ent_store *x = NULL;
        ro.read_only = 1;
        rc = ent_store_open(&x, store_dir, NULL, &ro);
        ent_store_close(x);
        if (rc == ENT_OK) {
            msg("a store exists at %s already", store_dir);
            rc = 1;
            goto out;
        }
        if (rc != ENT_NOTFOUND) {
            rc = fail(store_dir);
            goto out;
        }
    }
    if ((rc = load_schema_arg(&sc, file))) goto out;
    rc = ent_store_open(&s, store_dir, sc, &o) == ENT_OK ? 0 : fail(store_dir);
    if (!rc) fprintf(stderr, "entity: created %s (schema %s v%u)\n", store_dir, ent_schema_name(sc),
                     (unsigned)ent_schema_version(sc));
    ent_store_close(s);
    ent_schema_free(sc);
out:
    if (rc && made) remove_made_dir(store_dir); /* as it was: a failed init leaves no directory */
    if (dfd >= 0) close(dfd);         /* and its lock with it */
    return rc;
}

/* schema --apply FILE|- */
int cmd_schema_apply(const char *file)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc;
    o.no_create = 1;
    if (load_schema_arg(&sc, file)) return 1;
    rc = ent_store_open(&s, store_dir, sc, &o) == ENT_OK ? 0 : fail("schema --apply");
    if (!rc) fprintf(stderr, "entity: the store is at schema %s v%u\n", ent_schema_name(sc), (unsigned)ent_schema_version(sc));
    ent_store_close(s);
    ent_schema_free(sc);
    return rc;
}

/* A write's entity on stdout, the write committed by then. When it cannot be printed (a full disk,
 * a closed pipe), exit 1 said only "writing the output", and a script that wrote again on exit 1
 * made a second entity of an auto type: the message says the write was done. Returns 0 or 1. */
static int print_written(const ent_entity *e, const char *what)
{
    ent_key k = ent_entity_key(e);
    if (!print_entity(e, isatty(1) ? ENT_JSON_PRETTY : 0) && !out_failed()) return 0;
    if (k.kind == ENT_KEY_AUTO)
        msg("%s: %s %llu was written (version %llu): only its output was lost", what, ent_type_name(ent_entity_type(e)),
            (unsigned long long)k.id, (unsigned long long)ent_entity_version(e));
    else
        msg("%s: %s \"%.*s\" was written (version %llu): only its output was lost", what, ent_type_name(ent_entity_type(e)),
            (int)k.len, k.str, (unsigned long long)ent_entity_version(e));
    return 1;
}

static int same_key(const ent_key *a, const ent_key *b)
{
    return a->kind == b->kind && (a->kind == ENT_KEY_AUTO ? a->id == b->id : a->len == b->len && !memcmp(a->str, b->str, a->len));
}

/* "--" and no word after it: wrong usage. It says an operand follows (one that may start with '-');
 * none did (an unquoted empty variable, a word cut off), and find looked up the value "--", put
 * and patch would read stdin instead. Returns 2. */
static int dash_dash_alone(const char *cmd, const char *what)
{
    msg("%s: -- with nothing after it: give %s after it", cmd, what);
    return usage();
}

/* A second operand: wrong usage, named (after "--" an option is one: find -- -5 --limit 1). Returns 2. */
static int extra_operand(const char *cmd, const char *what, const char *word, int after_dashes)
{
    msg("%s: one %s only, and %s is another%s", cmd, what, word, after_dashes ? " (after --, no word is an option)" : "");
    return usage();
}

int key_after_dashes(int *argc, char **argv)
{
    if (*argc == 3) return dash_dash_alone(argv[0], "KEY");
    argv[2] = argv[3]; /* the key, whatever it starts with */
    argv[3] = "--";    /* and what follows it still operands only (patch's JSON) */
    if (*argc == 4) {
        (*argc)--; /* nothing follows: no "--" left for a parser that takes none */
        return 0;
    }
    if (strcmp(argv[0], "patch")) return extra_operand(argv[0], "KEY", argv[4], 1);
    return 0;
}

/* A write transaction for put, patch and rm, and *t (looked up at the open: a type the store
 * has, else the command already refused it) again as of it. The open took the store's writer and
 * let it go: another process may have evolved the schema since, and the write was refused with
 * the C API's "resolve types again with ent_store_type()". A transaction holds the writer, so the
 * schema it sees stays until the commit. Returns 0, or 1 with the message printed. */
static int write_begin(ent_txn **w, ent_store *s, const ent_type **t, const char *name, const char *what)
{
    if (ent_txn_begin(w, s, ENT_TXN_WRITE) != ENT_OK) return fail(what);
    if (!(*t = ent_txn_type(*w, name))) {
        /* an evolution cannot remove a type; said rather than assumed */
        msg("%s: unknown type \"%s\" (the schema changed under the command)", what, name);
        return 1;
    }
    return 0;
}

/* The commit of write_begin()'s transaction (*w NULL after it). Returns 0, or 1 with the message. */
static int write_commit(ent_txn **w, const char *what)
{
    int r = ent_txn_commit(*w);
    *w = NULL;
    return r == ENT_OK ? 0 : fail(what);
}

/* --wait SUB [--wait-timeout MS] of put, patch and rm: semi-synchronous replication for a write
 * made outside C (README, "Losing no acknowledged write"). After the commit the command waits
 * until subscription SUB (the relay's "relay") acknowledged the last event of the write's own
 * transaction, so that exit 0 says the write left the host; a script that answers "written" on
 * exit 0 answers it only then. */
typedef struct write_wait {
    const char *sub;   /* NULL: no wait */
    int64_t ms;        /* -1: --wait-timeout not given (the default then) */
    uint64_t before;   /* the log's last seq when the write transaction began */
    uint64_t seq;      /* the write's last event; 0: it wrote none, nothing to wait for */
} write_wait;

#define WAIT_MS_DEFAULT 10000

/* One of the options --wait SUB, --wait-timeout MS at argv[*i]: 0 taken (*i on its value), -1 not
 * one of them, or 2 wrong usage (said). */
static int wait_option(write_wait *ww, int argc, char **argv, int *i)
{
    uint64_t ms;
    int rc;
    if (*i + 1 >= argc) return -1;
    if (!strcmp(argv[*i], "--wait")) {
        ww->sub = argv[++*i];
        if (!*ww->sub) return (msg("%s: --wait needs a subscription name (e.g. relay)", argv[0]), 2);
        /* a name no subscription can have is wrong usage, as an empty one (the library's
         * refusal of it came after the store was opened, exit 1) */
        if (strlen(ww->sub) > 200) return (msg("%s: --wait: a subscription name is 1 to 200 bytes", argv[0]), 2);
        for (const char *p = ww->sub; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return (msg("%s: --wait: a subscription name has no control characters", argv[0]), 2);
        return 0;
    }
    if (strcmp(argv[*i], "--wait-timeout")) return -1;
    if ((rc = parse_u64(&ms, argv[++*i], "--wait-timeout"))) return rc;
    if (ms > INT32_MAX) return (msg("--wait-timeout: %s ms is too long (at most %d, 24 days)", argv[*i], INT32_MAX), 2);
    ww->ms = (int64_t)ms;
    return 0;
}

/* --wait-timeout without --wait: wrong usage (it would wait for nothing, silently). 0 or 2. */
static int wait_usage(const write_wait *ww, const char *cmd)
{
    if (ww->ms >= 0 && !ww->sub) return (msg("%s: --wait-timeout needs --wait SUB", cmd), 2);
    return 0;
}

/* In the write transaction, before the writes: SUB must exist. Checked before anything is written:
 * a misspelt name made a write that could never be acknowledged, and exit 1 after it would make a
 * script write again. Records the log's last seq, to tell a write that made no event. 0 or 1. */
static int wait_begin(write_wait *ww, ent_store *s, ent_txn *w, const char *what)
{
    uint64_t cp;
    int r;
    if (!ww->sub) return 0;
    r = ent_sub_checkpoint(&cp, s, w, ww->sub);
    if (r == ENT_NOTFOUND)
        return (msg("%s: --wait %s: no such subscription (`entity subs` lists them): nothing was written", what, ww->sub), 1);
    if (r != ENT_OK || ent_log_bounds(NULL, &ww->before, s, w) != ENT_OK) return fail(what);
    return 0;
}

/* In the write transaction, after the writes: the seq the transaction ends at. 0 or 1. */
static int wait_seq(write_wait *ww, ent_store *s, ent_txn *w, const char *what)
{
    uint64_t last;
    if (!ww->sub) return 0;
    if (ent_log_bounds(NULL, &last, s, w) != ENT_OK) return fail(what);
    ww->seq = last > ww->before ? last : 0; /* no event (a write that changed nothing): no wait */
    return 0;
}

/* After the commit: wait for SUB's acknowledgement of the write's seq. `written` says what was
 * written ("customer 5 was written (version 3)"): on a timeout, or SUB gone meanwhile, the message
 * says it, as the write stands and must not be made again. 0 acknowledged (or nothing to wait
 * for), 1 with the message. */
static int wait_acked(const write_wait *ww, ent_store *s, const char *what, const char *written)
{
    uint64_t cp = 0;
    int64_t ms = ww->ms >= 0 ? ww->ms : WAIT_MS_DEFAULT;
    int r;
    if (!ww->sub || !ww->seq) return 0;
    r = ent_sub_wait(&cp, s, ww->sub, ww->seq, (int)ms);
    if (r == ENT_OK) return 0;
    if (r == ENT_TIMEOUT)
        msg("%s: %s, but subscription %s has not acknowledged its seq %" PRIu64 " within %" PRId64 " ms (it is at %" PRIu64
            "): the write is done, do not make it again", what, written, ww->sub, ww->seq, ms, cp);
    else if (r == ENT_NOTFOUND)
        msg("%s: %s, but subscription %s is gone: nothing acknowledges its seq %" PRIu64 " (the write is done, do not make it again)",
            what, written, ww->sub, ww->seq);
    else
        msg("%s: %s, but the wait for subscription %s to acknowledge its seq %" PRIu64 " failed: %s (the write is done)", what,
            written, ww->sub, ww->seq, ent_errmsg());
    return 1;
}

/* "TYPE KEY was written (version V)" of a written entity, for wait_acked(). */
static void written_text(char *buf, size_t size, const ent_entity *e)
{
    ent_key k = ent_entity_key(e);
    if (k.kind == ENT_KEY_AUTO)
        snprintf(buf, size, "%s %llu was written (version %llu)", ent_type_name(ent_entity_type(e)), (unsigned long long)k.id,
                 (unsigned long long)ent_entity_version(e));
    else
        snprintf(buf, size, "%s \"%.*s\" was written (version %llu)", ent_type_name(ent_entity_type(e)),
                 (int)(k.len < 300 ? k.len : 300), k.str, (unsigned long long)ent_entity_version(e));
}

/* put TYPE [--key K] [--expect-version V] [--wait SUB [--wait-timeout MS]] [JSON|-] */
int cmd_put(int argc, char **argv)
{
    write_wait ww = {NULL, -1, 0, 0};
    char written[400];
    const char *key_text = NULL, *json = NULL;
    size_t json_len = 0;
    uint64_t expect = ENT_VERSION_ANY, max_input = MAX_TEXT_DEFAULT;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_txn *w = NULL;
    const ent_type *t;
    char *in = NULL, kb[32];
    ent_key ik;             /* the input's "key" (ENT_KEY_NONE without one), borrowed from e */
    uint64_t in_version = 0; /* the input's "version", 0 without one */
    int rc, operands;
    if (argc < 2) return missing(argv[0], "TYPE");
    operands = 0;
    for (int i = 2; i < argc; i++) {
        /* "--" ends the options, as find's does: a JSON argument after it is taken whatever it
         * starts with ("-" is still stdin) */
        if (operands || (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
            if (json) return extra_operand(argv[0], "JSON", argv[i], operands);
            json = argv[i];
        } else if (!strcmp(argv[i], "--")) operands = 1;
        else if (!strcmp(argv[i], "--key") && i + 1 < argc) key_text = argv[++i];
        else if (!strcmp(argv[i], "--expect-version") && i + 1 < argc) {
            if ((rc = parse_expect(&expect, argv[++i]))) return rc;
        } else if (!strcmp(argv[i], "--max-input") && i + 1 < argc) {
            if ((rc = parse_max_text(&max_input, argv[++i], "--max-input"))) return rc;
        } else if ((rc = wait_option(&ww, argc, argv, &i)) < 0) return bad_word(argv[0], argv[i]);
        else if (rc) return rc;
    }
    if ((rc = wait_usage(&ww, "put"))) return rc;
    if (operands && !json) return dash_dash_alone("put", "JSON, or - for stdin");
    if (!key_text && expect != ENT_VERSION_ANY) {
        /* a create has no version to match: the condition was dropped and the entity made,
         * whatever the caller made the write depend on (serve refuses a POST with If-Match) */
        msg("put: --expect-version needs --key (a new entity of an auto type has no version to match)");
        return 2;
    }
    if (json_arg(&json, &json_len, &in, "put", (size_t)max_input)) return 1;
    if ((rc = open_store(&s, 0))) goto out;
    if (!(t = type_arg(s, argv[1]))) {
        rc = 1;
        goto out;
    }
    /* TYPE's data, or the entity's JSON as get prints it (the library's rule, which serve's PUT
     * takes too): `get > e.json`, an edit, `put < e.json` failed on "type" as an unknown field */
    if (ent_entity_from_body(&e, &in_version, t, json, json_len) != ENT_OK) {
        rc = fail("put");
        goto out;
    }
    /* The write in a transaction of its own, with the type as of it: another process may have
     * evolved the schema since the open (which released the writer), and none can now. The write
     * was refused then, "type product is from schema version 1; the store is at version 2
     * (resolve types again with ent_store_type())", a C API's advice, for a compatible evolution
     * that changed nothing of the input. Parsed again under the new version when it changed (the
     * parse stays outside the writer otherwise: a large input holds no other writer back). */
    if ((rc = write_begin(&w, s, &t, argv[1], "put")) || (rc = wait_begin(&ww, s, w, "put"))) goto out;
    if (t != ent_entity_type(e)) {
        ent_entity_free(e);
        e = NULL;
        if (ent_entity_from_body(&e, &in_version, t, json, json_len) != ENT_OK) {
            rc = fail("put");
            goto out;
        }
    }
    /* The entity's JSON names its key and the version it was read at. The key is --key's when
     * --key is left out, and must be --key's when given: a write to another entity than the one
     * read is a mistake, not a choice. The version is a condition, as serve takes it: a write
     * over a later version would undo what came between (as a stale --expect-version would). */
    ik = ent_entity_key(e);
    if (ik.kind == ENT_KEY_AUTO) snprintf(kb, sizeof kb, "%llu", (unsigned long long)ik.id);
    if (ik.kind != ENT_KEY_NONE && key_text) {
        ent_key a;
        if ((rc = parse_key(&a, t, key_text))) goto out;
        if (!same_key(&a, &ik)) {
            int n = ik.kind == ENT_KEY_AUTO ? (int)strlen(kb) : ik.len < 300 ? (int)ik.len : 300;
            const char *it = ik.kind == ENT_KEY_AUTO ? kb : ik.str;
            msg("put: the input's \"key\" %.*s is not --key %.300s (the input is %s %.*s as read; give its key, or "
                "leave \"key\" out)", n, it, key_text, ent_type_name(t), n, it);
            rc = 1;
            goto out;
        }
    }
    if (in_version) {
        if (!key_text && ik.kind == ENT_KEY_NONE) {
            msg("put: the input's \"version\" needs a key (a new entity starts at version 1: leave \"version\" out)");
            rc = 1;
            goto out;
        }
        if (expect != ENT_VERSION_ANY && expect != in_version) {
            msg("put: the input's \"version\" %llu is not --expect-version %llu: give one of them", (unsigned long long)in_version,
                (unsigned long long)expect);
            rc = 1;
            goto out;
        }
        expect = in_version;
    }
    if (key_text || ik.kind != ENT_KEY_NONE) {
        ent_key k;
        /* --key, or the input's key, which the entity already holds */
        if (key_text && (rc = parse_key(&k, t, key_text))) goto out;
        if (key_text && ent_entity_set_key(e, &k) != ENT_OK) {
            rc = fail("put");
            goto out;
        }
        if (ent_type_key(t) == ENT_KEY_AUTO) {
            /* an auto type with --key replaces an existing entity and fails if there is none;
             * "customer 5 not found" alone read as a failed look-up, not as the rule. Also with
             * --expect-version 0 (must not exist): ent_upsert() created the entity with the id
             * given, and an id of 2^64-1 ended every later create of the type. */
            int r = ent_replace(s, w, e, expect);
            if (r == ENT_NOTFOUND)
                rc = (msg("put: %s: with --key, put replaces an existing entity of a type with auto ids "
                          "(leave --key out to create one)", ent_errmsg()), 1);
            else
                rc = r == ENT_OK ? 0 : fail("put");
        } else {
            rc = ent_upsert(s, w, e, expect) == ENT_OK ? 0 : fail("put");
        }
    } else {
        if (ent_type_key(t) == ENT_KEY_STRING) {
            msg("put: %s has string keys: give --key", ent_type_name(t));
            rc = 1;
            goto out;
        }
        rc = ent_create(s, w, e) == ENT_OK ? 0 : fail("put");
    }
    if (!rc) rc = wait_seq(&ww, s, w, "put");
    if (!rc) rc = write_commit(&w, "put");
    if (!rc) {
        /* the output once acknowledged, and also when not: it says what was written */
        int unacked;
        written_text(written, sizeof written, e);
        unacked = wait_acked(&ww, s, "put", written);
        rc = print_written(e, "put") | unacked;
    }
out:
    ent_txn_abort(w);
    free(in);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

/* patch TYPE KEY [--expect-version V] [--max-input BYTES] [JSON|-]: an object is an RFC 7396 merge
 * patch, an array an RFC 6902 JSON Patch (which can write a free-form null, insert into and remove
 * from arrays). The patch from stdin when "-" or none is given, as put reads its JSON: a patch
 * made by a program, or too long for an argument (ARG_MAX), had no way in. */
int cmd_patch(int argc, char **argv)
{
    write_wait ww = {NULL, -1, 0, 0};
    char written[400];
    uint64_t expect = ENT_VERSION_ANY, max_input = MAX_TEXT_DEFAULT;
    const char *json = NULL;
    size_t json_len = 0;
    char *in = NULL;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_txn *w = NULL;
    const ent_type *t;
    ent_key k;
    uint64_t in_version = 0; /* the input's "version", 0 without one */
    int rc, operands;
    if (argc < 3) return missing(argv[0], argc < 2 ? "TYPE and KEY" : "KEY");
    operands = 0;
    for (int i = 3; i < argc; i++) {
        if (operands || !is_option(argv[i])) { /* after "--" (put's and find's too), whatever it starts with */
            if (!operands && !strcmp(argv[i], "--")) {
                operands = 1;
                continue;
            }
            if (json) return extra_operand(argv[0], "JSON", argv[i], operands);
            json = argv[i];
        } else if (!strcmp(argv[i], "--expect-version") && i + 1 < argc) {
            if ((rc = parse_expect(&expect, argv[++i]))) return rc;
        } else if (!strcmp(argv[i], "--max-input") && i + 1 < argc) {
            if ((rc = parse_max_text(&max_input, argv[++i], "--max-input"))) return rc;
        } else if ((rc = wait_option(&ww, argc, argv, &i)) < 0) return bad_word(argv[0], argv[i]);
        else if (rc) return rc;
    }
    if ((rc = wait_usage(&ww, "patch"))) return rc;
    if (operands && !json) return dash_dash_alone("patch", "JSON, or - for stdin");
    if (json_arg(&json, &json_len, &in, "patch", (size_t)max_input)) return 1;
    if ((rc = open_store(&s, 0))) goto out;
    /* The read, the patch and the write in one write transaction, as serve's PATCH: the entity
     * read and patched was read apart from the write, and another writer's change between them
     * refused a patch given no version ("is at version 8, expected 7": expected by nobody), or
     * a schema evolution between them refused it with a C API's advice ("resolve types again
     * with ent_store_type()"). The type is resolved as of the transaction (ent_txn_type()). */
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else if ((rc = write_begin(&w, s, &t, argv[1], "patch")) || (rc = wait_begin(&ww, s, w, "patch"))) ;
    else if (parse_key(&k, t, argv[2])) rc = 1;
    else if (ent_get(&e, s, w, t, &k) != ENT_OK) rc = fail("patch");
    /* a JSON Patch array, a merge patch of the data, or the entity's JSON as get prints it (the
     * library's rule, which serve's PATCH takes too), whose "key" the library holds to KEY's */
    else if (ent_entity_patch_body(&in_version, e, json, json_len) != ENT_OK) rc = fail("patch");
    /* The entity's JSON names the version it was read at, as for put: the write's condition (a
     * patch of a stale read over a later version would undo what came between). */
    else if (in_version && expect != ENT_VERSION_ANY && expect != in_version)
        rc = (msg("patch: the input's \"version\" %llu is not --expect-version %llu: give one of them",
                  (unsigned long long)in_version, (unsigned long long)expect), 1);
    else if (ent_replace(s, w, e, in_version ? in_version : expect == ENT_VERSION_ANY ? ent_entity_version(e) : expect) != ENT_OK)
        rc = fail("patch");
    else if (!(rc = wait_seq(&ww, s, w, "patch")) && !(rc = write_commit(&w, "patch"))) {
        int unacked; /* the output printed either way, as put's */
        written_text(written, sizeof written, e);
        unacked = wait_acked(&ww, s, "patch", written);
        rc = print_written(e, "patch") | unacked;
    }
out:
    ent_txn_abort(w);
    free(in);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

/* rm TYPE KEY [--expect-version V] [--wait SUB [--wait-timeout MS]] */
int cmd_rm(int argc, char **argv)
{
    uint64_t expect = ENT_VERSION_ANY;
    write_wait ww = {NULL, -1, 0, 0};
    ent_store *s = NULL;
    ent_txn *w = NULL;
    const ent_type *t;
    ent_key k;
    char written[400];
    int rc;
    if (argc < 3) return missing(argv[0], argc < 2 ? "TYPE and KEY" : "KEY");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--expect-version") && i + 1 < argc) {
            if ((rc = parse_expect(&expect, argv[++i]))) return rc;
        } else if ((rc = wait_option(&ww, argc, argv, &i)) < 0) return bad_word(argv[0], argv[i]);
        else if (rc) return rc;
    }
    if ((rc = wait_usage(&ww, "rm"))) return rc;
    if ((rc = open_store(&s, 0))) return rc;
    /* the type as of the delete's own transaction, as put's and patch's (see write_begin()) */
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else if ((rc = write_begin(&w, s, &t, argv[1], "rm")) || (rc = wait_begin(&ww, s, w, "rm"))) ;
    else if (ent_delete(s, w, t, &k, expect) != ENT_OK) rc = fail("rm");
    else if (!(rc = wait_seq(&ww, s, w, "rm")) && !(rc = write_commit(&w, "rm"))) {
        if (k.kind == ENT_KEY_AUTO)
            snprintf(written, sizeof written, "%s %llu was deleted", ent_type_name(t), (unsigned long long)k.id);
        else
            snprintf(written, sizeof written, "%s \"%.*s\" was deleted", ent_type_name(t), (int)(k.len < 300 ? k.len : 300), k.str);
        rc = wait_acked(&ww, s, "rm", written);
    }
    ent_txn_abort(w);
    ent_store_close(s);
    return rc;
}

/* find's VALUE for a field with an enum: 1 saying so when it is none of the field's values, else 0.
 * No entity can hold another value (an evolution may not remove one), so a look-up of one listed
 * nothing with exit 0, a misspelt "Paid" as a "paid" that none had; a value of the wrong kind
 * exits 1 naming it, and so does this (entity-http's ?value= answers 400 alike). A range's bounds
 * may lie between the values ("--from p"), and are not checked. */
static int not_in_enum(const ent_field *f, const char *value)
{
    if (ent_field_enum_check(f, value) == ENT_OK) return 0;
    msg("find: %s", ent_errmsg());
    return 1;
}

/* find TYPE FIELD VALUE | find TYPE FIELD [--from A] [--to B] [--limit N] [--reverse]: a range is
 * [A, B) with either bound left out, as GET /api/TYPE/by/FIELD?from=&to= takes it (--to alone
 * was wrong usage: "the lowest prices up to 10" needed a made-up lowest value); --reverse alone
 * is the whole index from its top. */
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
    /* one buffer per value: bytes bounds are decoded into them and must not alias */
    unsigned char buf_v[ENT_VALUE_PARSE_BUF_SIZE], buf_from[ENT_VALUE_PARSE_BUF_SIZE], buf_to[ENT_VALUE_PARSE_BUF_SIZE];
    uint64_t damaged = 0;
    int rc, limit_zero = 0, operands;
    if (argc < 3) return missing(argv[0], argc < 2 ? "TYPE, FIELD and VALUE (or a range)" : "FIELD and VALUE (or a range)");
    operands = 0;
    for (int i = 3; i < argc; i++) {
        /* a value may start with '-' (-5, -0.5, -x); "--" ends the options, as getopt's does, so
         * that one spelled as an option (--limit) is a value too. A "--" with nothing after it
         * was the value "--" itself: now VALUE is missing, as for put and patch no word follows */
        if (operands || (!is_option(argv[i]) && strcmp(argv[i], "--"))) {
            if (value) return extra_operand("find", "VALUE", argv[i], operands);
            value = argv[i];
        } else if (!strcmp(argv[i], "--")) operands = 1;
        else if (!strcmp(argv[i], "--from") && i + 1 < argc) from = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) to = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if ((rc = parse_u64(&o.limit, argv[++i], "--limit"))) return rc;
            limit_zero = o.limit == 0;
        } else if (!strcmp(argv[i], "--reverse")) o.flags |= ENT_ITER_REVERSE;
        else return bad_word(argv[0], argv[i]);
    }
    if (operands && !value) return dash_dash_alone("find", "VALUE");
    if (value && (from || to || (o.flags & ENT_ITER_REVERSE))) {
        /* a look-up gives its entities in key order: --from, --to and --reverse are for ranges */
        msg("find: %s is for a range, not with VALUE (a look-up of one value lists its entities in key order)",
            from ? "--from" : to ? "--to" : "--reverse");
        return 2;
    }
    if (!value && !from && !to && !(o.flags & ENT_ITER_REVERSE))
        return missing(argv[0], "VALUE, or a range: --from A, --to B or --reverse");
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
        if ((rc = not_in_enum(f, value))) goto out;
        if (ent_value_parse(&v, buf_v, sizeof buf_v, f, value) != ENT_OK || ent_find(&it, s, NULL, f, &v) != ENT_OK) {
            rc = fail("find");
            goto out;
        }
    } else {
        if (from && ent_value_parse(&vfrom, buf_from, sizeof buf_from, f, from) != ENT_OK) {
            rc = fail("find --from");
            goto out;
        }
        o.from = from ? &vfrom : NULL;
        if (to) {
            if (ent_value_parse(&vto, buf_to, sizeof buf_to, f, to) != ENT_OK) {
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
    /* --limit 0 prints nothing, as head -n 0 does (the library's 0 means "no limit"); a look-up
     * counts its own (ent_find takes no limit) */
    for (uint64_t n = 0; !limit_zero && (!value || !o.limit || n < o.limit) && (rc = next_sound(&e, it, "find", &damaged)) == ENT_OK; n++) {
        int unprinted = print_entity(e, 0);
        ent_entity_free(e);
        if (unprinted) { /* a listing short of an entity must not pass for whole */
            rc = 1;
            goto out;
        }
    }
    rc = rc == ENT_NOTFOUND || rc == ENT_OK ? 0 : fail("find"); /* OK: --limit 0 */
    if (damaged_left_out("find", damaged)) rc = 1;
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

/* Catch SIGINT and SIGTERM with handler, as events --follow always has (even where a shell
 * without job control started it in the background with SIGINT ignored: tests stop it so). No
 * SA_RESTART: a read waiting on a pipe returns. */
static void catch_stops(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int op_arg(unsigned *out, const char *text)
{
    if (!strcmp(text, "create")) *out |= ENT_OP_CREATE;
    else if (!strcmp(text, "update")) *out |= ENT_OP_UPDATE;
    else if (!strcmp(text, "delete")) *out |= ENT_OP_DELETE;
    else if (!strcmp(text, "last_id")) *out |= ENT_OP_LAST_ID;
    else {
        msg("--op must be create, update, delete or last_id, not \"%s\"", text);
        return 2;
    }
    return 0;
}

/* Which events a listing prints: those of one type (by name, as the cursor matches them: a type
 * of an older schema still filters) and of the ops asked for (0: all). */
typedef struct ev_filter {
    const char *type;
    unsigned ops;
} ev_filter;

/* Events from..to were trimmed before a listing read them: said (exit 1). */
static int trimmed_unread(const char *what, uint64_t from, uint64_t to)
{
    if (from == to) msg("%s: event %" PRIu64 " was trimmed from the log before it was read", what, from);
    else msg("%s: events %" PRIu64 " to %" PRIu64 " were trimmed from the log before they were read", what, from, to);
    return 1;
}

/* Print the events of c (on s) that f keeps, up to limit (0: all there are), counting them in *n,
 * each as it was written (ent_event_as_written(): read with the store's schema, an event written
 * before a field was removed lacked its value, which the log holds and the relay publishes).
 * *next is the seq the next event must have (0: whatever comes first). A `trim --force` that
 * drops events the cursor has not read yet is its ENT_TRUNCATED (such a listing went on at the
 * first event kept, exit 0). Returns 0, or 1 with a message: a
 * library failure (named by what), events trimmed before they were read, or output that could
 * not be written, which a follower must see at once (it wrote nothing for ever to a full disk). */
static int print_events(ent_store *s, ent_log_cursor *c, const ev_filter *f, uint64_t limit, uint64_t *n,
                        uint64_t *next, const char *what)
{
    ent_event *ev;
    int rc = ENT_OK;
    uint64_t at = 0;
    while ((!limit || *n < limit) && (at = ent_log_cursor_pos(c), rc = ent_log_next(&ev, c)) == ENT_OK) {
        char *j = NULL;
        ent_event *w = NULL;
        if (*next && ev->seq != *next) { /* a defence: the cursor says ENT_TRUNCATED (below) */
            ent_event_free(ev);
            return trimmed_unread(what, *next, ev->seq - 1);
        }
        *next = ev->seq + 1;
        if ((f->type && strcmp(ent_type_name(ev->type), f->type)) || (f->ops && !(f->ops & (unsigned)ev->op))) {
            ent_event_free(ev);
            continue;
        }
        rc = ent_event_as_written(&w, s, ev);
        /* trimmed since the cursor read it (trim --force): it was in the log, and ev is what is
         * left of it; skipping it would be a gap */
        if (rc == ENT_NOTFOUND) rc = ENT_OK;
        /* an event that cannot be written as JSON (a damaged one) stops the listing: skipping it
         * would be a gap nobody sees */
        if (rc == ENT_OK) rc = ent_event_to_json(&j, w ? w : ev, 0);
        if (rc == ENT_OK) out_line(j);
        free(j);
        ent_event_free(w);
        ent_event_free(ev);
        if (rc) return fail(what);
        (*n)++;
    }
    if (out_failed()) return 1;
    if (rc == ENT_TRUNCATED) return trimmed_unread(what, at, ent_log_cursor_pos(c) - 1);
    return rc == ENT_OK || rc == ENT_NOTFOUND ? 0 : fail(what);
}

/* Has the reader of stdout gone (a pipe whose read end is closed reports POLLERR)? A follower
 * with no new event to write would otherwise wait for one to learn it, as tail -f once did. */
static int out_gone(void)
{
    struct pollfd p = {STDOUT_FILENO, 0, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* Whether events at `pos` and after it were trimmed before they could be read (the log now starts
 * past pos): said, for a reader who asked for them and would otherwise get a later one as if it
 * were the next. */
static int trimmed_past(ent_store *s, uint64_t pos, const char *what)
{
    uint64_t first = 0, last = 0;
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK) return fail(what);
    if (first <= pos) return 0;
    if (first - 1 == pos)
        msg("%s: event %" PRIu64 " was trimmed from the log, which starts at %" PRIu64 " now", what, pos, first);
    else
        msg("%s: events %" PRIu64 " to %" PRIu64 " were trimmed from the log, which starts at %" PRIu64 " now", what, pos,
            first - 1, first);
    return 1;
}

/* A --follow from past the log's last event (the store was restored from an older copy, or made
 * anew, since the reader's last seq) starts after that event and says so, as `serve` does: waiting
 * for that seq skipped every event written up to it without a word. */
static int follow_from_past_end(ent_store *s, uint64_t *from)
{
    uint64_t first = 0, last = 0;
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK) return fail("events --follow");
    if (*from <= last + 1) return 0;
    msg("events --follow: --from %" PRIu64 " is past the log's last event (%" PRIu64 "): following from %" PRIu64
        " (waiting for %" PRIu64 " would skip the events before it)",
        *from, last, last + 1, *from);
    *from = last + 1;
    return 0;
}

int store_moved(ent_store *s)
{
    int rc = ent_store_check_path(s);
    return rc == ENT_NOTFOUND ? 1 : rc == ENT_CONFLICT ? 2 : 0;
}

/* Whether the store a follower has open is gone. Deleted (rm -rf) or replaced, it gets no commit
 * ever again, as the writers write the store now at the path: the follower waited for good,
 * printing nothing. */
static int store_gone(ent_store *s)
{
    int how = store_moved(s);
    if (how == 1) msg("events --follow: %s/data.mdb was removed: the store it followed is gone", store_dir);
    else if (how == 2)
        msg("events --follow: %s/data.mdb is another file now (the store was replaced): follow the new one "
            "with --from the seq after the last one printed", store_dir);
    return how != 0;
}

/* events [--from SEQ] [--limit N] [--type T] [--op OP] [--follow]. Without --from (or with
 * --from 0) from the first event kept; a --from below it is an error, as is a --follow whose next
 * event was trimmed before it was read. */
int cmd_events(int argc, char **argv)
{
    uint64_t from = 0, limit = 0, n = 0, next = 0;
    ev_filter f;
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
        else return bad_word(argv[0], argv[i]);
    }
    if ((rc = open_store(&s, 1))) return rc;
    if (type && !(t = type_arg(s, type))) {
        ent_store_close(s);
        return 1;
    }
    f.type = t ? ent_type_name(t) : NULL;
    f.ops = ops;
    if (from && trimmed_past(s, from, "events")) rc = 1;
    else if (follow && (rc = follow_from_past_end(s, &from))) {
    } else if (ent_log_cursor_open(&c, s, from, NULL, ENT_OP_ALL) != ENT_OK) rc = fail("events"); /* 0: the first kept */
    else if (!limit_zero) {
        next = from; /* at or past the log's first event (above): a jump from it is a trim since */
        rc = print_events(s, c, &f, limit, &n, &next, "events");
    }
    if (!rc && follow && !limit_zero) {
        catch_stops(on_signal);
        while (!stop && (!limit || n < limit)) {
            int w = ent_log_wait(NULL, s, ent_log_cursor_pos(c) - 1, 200);
            if (w == ENT_TIMEOUT && out_gone()) {
                msg("writing the output: the reader has closed it");
                rc = 1;
                break;
            }
            if (w == ENT_TIMEOUT && (rc = store_gone(s))) break;
            if (w == ENT_TIMEOUT) continue;
            if (w) {
                rc = fail("events --follow");
                break;
            }
            if ((rc = trimmed_past(s, ent_log_cursor_pos(c), "events --follow"))) break;
            if ((rc = print_events(s, c, &f, limit, &n, &next, "events --follow"))) break;
        }
    }
    ent_log_cursor_free(c);
    ent_store_close(s);
    return rc;
}

/* A subscription whose next events were trimmed (trim --force) cannot read them: refused, naming
 * them and the way on (it read from the log's first event on, without a word). */
static int trimmed_since_ack(ent_store *s, ent_log_cursor *c, const char *name)
{
    uint64_t first = 0, last = 0, pos = ent_log_cursor_pos(c);
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK) return fail("subs read");
    if (!trimmed_past(s, pos, "subs read")) return 0;
    msg("subs read: subscription %s has not acknowledged them; `entity subs ack %s %" PRIu64
        "` goes on from the log's first event", name, name, first - 1);
    return 1;
}

/* subs wait NAME SEQ [--timeout MS]: exit 0 once NAME's checkpoint reached SEQ (printed as `subs`
 * prints a subscription), 1 when MS passed first, NAME does not exist (or went), the store went,
 * or a signal stopped the wait. Without --timeout it waits until then. The wait is cut into
 * slices so that SIGINT and SIGTERM end it (ent_sub_wait() cannot be interrupted) and a removed
 * store is noticed, as events --follow does. */
static int subs_wait(const char *name, uint64_t seq, int64_t timeout_ms)
{
    ent_store *s = NULL;
    struct timespec start, now;
    uint64_t cp = 0;
    int rc, w;
    if ((rc = open_store(&s, 1))) return rc;
    catch_stops(on_signal);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int64_t left = -1, elapsed;
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = ((int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec)) / 1000000;
        if (timeout_ms >= 0) left = timeout_ms > elapsed ? timeout_ms - elapsed : 0;
        w = ent_sub_wait(&cp, s, name, seq, left < 0 || left > 200 ? 200 : (int)left);
        if (w != ENT_TIMEOUT) break;
        if (left >= 0 && left <= 200) {
            msg("subs wait: subscription %s has acknowledged up to %" PRIu64 ", not %" PRIu64 ", within %" PRId64 " ms", name,
                cp, seq, timeout_ms);
            rc = 1;
            break;
        }
        if (stop) {
            msg("subs wait: stopped by a signal; subscription %s has acknowledged up to %" PRIu64 ", not %" PRIu64, name, cp, seq);
            rc = 1;
            break;
        }
        if (store_moved(s)) { /* no ack can reach the store it waits on any more */
            msg("subs wait: %s/data.mdb was removed or replaced: the store it waited on is gone", store_dir);
            rc = 1;
            break;
        }
    }
    if (w == ENT_OK) {
        json_t *o = json_pack("{s:s,s:I}", "name", name, "checkpoint", (json_int_t)cp);
        char *j = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (j) puts(j);
        else rc = (msg("subs wait: cannot print the subscription as JSON"), 1);
        free(j);
        json_decref(o);
    } else if (w != ENT_TIMEOUT) {
        rc = fail("subs wait");
    }
    ent_store_close(s);
    return rc;
}

/* subs | subs add NAME [--from-now] | subs rm NAME | subs read NAME [--limit N] | subs ack NAME SEQ |
 * subs wait NAME SEQ [--timeout MS];
 * NAME may follow "--" (subs add -- -h). */
int cmd_subs(int argc, char **argv)
{
    ent_store *s = NULL;
    int rc, dashed = 0;
    if (argc == 1) {
        ent_sub_info *list = NULL;
        size_t n = 0;
        uint64_t first = 0, last = 0;
        if ((rc = open_store(&s, 1))) return rc;
        if (ent_sub_list(&list, &n, s) != ENT_OK || ent_log_bounds(&first, &last, s, NULL) != ENT_OK) rc = fail("subs");
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *o = json_pack("{s:s,s:I,s:I}", "name", list[i].name, "checkpoint", (json_int_t)list[i].checkpoint,
                                  "lag", (json_int_t)(last > list[i].checkpoint ? last - list[i].checkpoint : 0));
            char *j = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (j) puts(j);
            else rc = (msg("subs: cannot print subscription %zu as JSON", i + 1), 1);
            free(j);
            json_decref(o);
        }
        free(list);
        ent_store_close(s);
        return rc;
    }
    if (strcmp(argv[1], "add") && strcmp(argv[1], "rm") && strcmp(argv[1], "read") && strcmp(argv[1], "ack") &&
        strcmp(argv[1], "wait"))
        return (msg("subs: %s is no subcommand (add, rm, read, ack, wait)", argv[1]), usage());
    if (argc >= 3 && !strcmp(argv[2], "--")) {
        /* NAME after "--", whatever it looks like ("-h" is help after the subcommand, a name
         * spelled as an option is refused there); "--" was taken as the name "--" itself. After
         * "--" no word is an option, as for get's KEY: only ack's SEQ may follow NAME. */
        char sub[16];
        int ack = !strcmp(argv[1], "ack") || !strcmp(argv[1], "wait"); /* NAME SEQ */
        snprintf(sub, sizeof sub, "subs %s", argv[1]);
        if (argc == 3) return dash_dash_alone(sub, "NAME");
        if (argc > (ack ? 5 : 4)) return extra_operand(sub, ack ? "SEQ" : "NAME", argv[ack ? 5 : 4], 1);
        for (int i = 2; i + 1 < argc; i++) argv[i] = argv[i + 1];
        argc--;
        dashed = 1;
    }
    if (argc < 3) {
        char sub[16];
        snprintf(sub, sizeof sub, "subs %s", argv[1]);
        return missing(sub, !strcmp(argv[1], "ack") || !strcmp(argv[1], "wait") ? "NAME and SEQ" : "NAME");
    }
    if (argc >= 3 && is_option(argv[2]) && !dashed) /* a NAME, not an option */
        return (msg("subs %s: NAME comes first, not %s", argv[1], argv[2]), usage());
    if (!strcmp(argv[1], "ack") && argc == 3) return missing("subs ack", "SEQ");
    if (!strcmp(argv[1], "wait") && (argc == 3 || (argc >= 4 && !strcmp(argv[3], "--timeout") && !dashed)))
        return missing("subs wait", "SEQ");
    if (!strcmp(argv[1], "add")) {
        int from_now = argc == 4 && !strcmp(argv[3], "--from-now");
        if (argc > 4 || (argc == 4 && !from_now)) /* --from-now twice: refused before (main.c) */
            return bad_word(argv[0], argv[argc > 4 && !strcmp(argv[3], "--from-now") ? 4 : 3]);
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
    } else if (!strcmp(argv[1], "wait") && (argc == 4 || (argc == 6 && !strcmp(argv[4], "--timeout") && !dashed))) {
        uint64_t seq, ms = 0;
        if ((rc = parse_u64(&seq, argv[3], "seq"))) return rc;
        if (argc == 6 && (rc = parse_u64(&ms, argv[5], "--timeout"))) return rc;
        if (ms > INT32_MAX) return (msg("--timeout: %s ms is too long (at most %d, 24 days)", argv[5], INT32_MAX), 2);
        return subs_wait(argv[2], seq, argc == 6 ? (int64_t)ms : -1);
    } else if (!strcmp(argv[1], "read") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "--limit")))) {
        uint64_t limit = 0, n = 0, next = 0;
        ev_filter f = {NULL, 0};
        ent_log_cursor *c = NULL;
        if (argc == 5 && (rc = parse_u64(&limit, argv[4], "--limit"))) return rc;
        if ((rc = open_store(&s, 1))) return rc;
        uint64_t cp = 0;
        /* every event after the checkpoint, the id counters' raises too (ent_sub_cursor() keeps
         * create, update and delete): the log as `entity events` prints it */
        if (ent_sub_checkpoint(&cp, s, NULL, argv[2]) != ENT_OK || ent_log_cursor_open(&c, s, cp + 1, NULL, ENT_OP_ALL) != ENT_OK)
            rc = fail("subs read");
        else if (trimmed_since_ack(s, c, argv[2])) rc = 1;
        else if (!(argc == 5 && limit == 0)) {
            next = ent_log_cursor_pos(c); /* its checkpoint + 1, still in the log (above) */
            rc = print_events(s, c, &f, limit, &n, &next, "subs read");
        }
        ent_log_cursor_free(c);
    } else if (!strcmp(argv[1], "wait")) { /* a word too many, or one that is not --timeout MS */
        const char *word = argv[argc > 6 && !strcmp(argv[4], "--timeout") ? 6 : 4];
        /* another subcommand's option (--limit 5) read as "--limit needs a value": it had one */
        if (is_option(word) && strcmp(word, "--timeout") && !strchr(word, '='))
            return (msg("subs wait: %s is no option of subs wait (it takes --timeout MS)", word), usage());
        return bad_word(argv[0], word);
    } else { /* rm or ack with a word too many, read with one that is not --limit N */
        return bad_word(argv[0], argv[!strcmp(argv[1], "read") && !strcmp(argv[3], "--limit") && argc > 5 ? 5 : !strcmp(argv[1], "ack") ? 4 : 3]);
    }
    ent_store_close(s);
    return rc;
}

/* dump [TYPE...] */
int next_sound(ent_entity **out, ent_iter *it, const char *what, uint64_t *damaged)
{
    int rc;
    char *at = NULL; /* the position of the last damage named */
    /* A damaged record is named and left out, and the listing goes on: it is how what is sound
     * gets out of a damaged store (dump, ls and find stopped there, and every entity after it was
     * lost to them too). */
    while ((rc = ent_iter_next(out, it)) == ENT_CORRUPT) {
        const char *pos = ent_iter_resume(it);
        /* ent_iter_next() steps past a record it cannot decode; damage below it (a cursor's) may
         * give the same answer at the same place again */
        if (!pos || (at && !strcmp(at, pos))) break;
        msg("%s: %s (left out)", what, ent_errmsg());
        ++*damaged;
        free(at);
        if (!(at = strdup(pos))) break;
    }
    free(at);
    return rc;
}

int damaged_left_out(const char *what, uint64_t damaged)
{
    if (!damaged) return 0;
    msg("%s: %llu damaged entit%s left out (entity check names every problem)", what, (unsigned long long)damaged,
        damaged == 1 ? "y" : "ies");
    return 1;
}

int cmd_dump(int argc, char **argv)
{
    ent_store *s = NULL;
    ent_txn *r = NULL;
    const ent_schema *sc;
    uint64_t dumped = 0, damaged = 0, bad_pages = 0, lines_out = 0, type_dumped = 0, types_left_out = 0;
    json_t *ends = NULL; /* entities dumped, by type: the end line's counts */
    int rc, prc, counter_lost = 0;
    for (int i = 1; i < argc; i++)
        if (is_option(argv[i])) return bad_word(argv[0], argv[i]); /* dump has no options: a type name */
    if ((rc = open_store(&s, 1))) return rc;
    /* One snapshot for every type: a dump taken while others write is the store at one moment
     * (an order never without its customer, which load would refuse), and the types stay those
     * of its schema when another process evolves it meanwhile. The schema after the begin: the
     * transaction notices an evolution made since the open. */
    if (ent_txn_begin(&r, s, ENT_TXN_READ) != ENT_OK) {
        rc = fail("dump");
        ent_store_close(s);
        return rc;
    }
    progress("entity: dump: entities", 0, 0);
    sc = ent_store_schema(s);
    for (int i = 1; i < argc; i++)
        if (!type_arg(s, argv[i])) rc = 1;
    /* The dump's header and, after everything else, its end line with its counts: a dump cut at a
     * line's end (a full disk, a killed pipe, a copy cut short) loaded without a word, and the
     * copy was silently short of the rest. The header's format 2 promises the end line, so load
     * tells a cut dump from one written before (no header, no end line), which loads as before. */
    if (!rc && !(ends = json_object())) rc = (msg("dump: out of memory"), 1);
    if (!rc) out_line(DUMP_HEADER);
    for (size_t i = 0; !rc && i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        ent_iter *it = NULL;
        ent_entity *e;
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++) wanted |= !strcmp(argv[a], ent_type_name(t));
        if (!wanted) continue;
        /* The type's id counter first: ids handed out and deleted before the dump (above the
         * largest one dumped) are not handed out again by a store loaded from it. Without it a
         * copy counted from its largest loaded id, and an id a host kept named a new entity. */
        if (ent_type_key(t) == ENT_KEY_AUTO) {
            uint64_t last = 0;
            char buf[ENT_NAME_MAX + 64];
            int lrc = ent_last_id(&last, s, r, t);
            if (lrc == ENT_CORRUPT) { /* damage: named and left out, as a damaged record is */
                msg("dump: %s: %s (its id counter left out: a store loaded from this dump may hand out ids the store did)",
                    ent_type_name(t), ent_errmsg());
                counter_lost = 1;
            } else if (lrc != ENT_OK) {
                rc = fail("dump");
                break;
            }
            if (last && lrc == ENT_OK) {
                /* above 2^63-1 a decimal string, as a version or a key (JSON readers hold no larger integer) */
                snprintf(buf, sizeof buf, last > INT64_MAX ? "{\"type\":\"%s\",\"last_id\":\"%llu\"}"
                                                           : "{\"type\":\"%s\",\"last_id\":%llu}",
                         ent_type_name(t), (unsigned long long)last);
                out_line(buf);
                lines_out++;
            }
        }
        /* A damaged page of the type's records (a flipped byte in a header or a node) made the
         * scan below die inside liblmdb, and the types after it were never dumped: its pages are
         * walked with pread first (2-4 % of a dump's time), and a damaged type is named and left
         * out, the others dumped (exit 1). */
        if ((prc = ent_type_check_pages(&bad_pages, s, r, t)) != ENT_OK) {
            if (prc != ENT_CORRUPT) {
                rc = fail("dump");
                break;
            }
            msg("dump: %s (left out)", ent_errmsg());
            types_left_out++;
            continue;
        }
        if (ent_scan(&it, s, r, t, NULL, NULL) != ENT_OK) {
            rc = fail("dump");
            break;
        }
        /* a damaged record is named and left out; still exit 1: a dump short of an entity is no backup */
        type_dumped = 0;
        while ((rc = next_sound(&e, it, "dump", &damaged)) == ENT_OK) {
            int unprinted = print_entity(e, 0);
            ent_entity_free(e);
            if (unprinted) break; /* a dump short of an entity is no backup: exit 1 */
            type_dumped++;
            progress("entity: dump: entities", ++dumped, 0);
        }
        rc = rc == ENT_NOTFOUND ? 0 : rc == ENT_OK ? 1 : fail("dump");
        ent_iter_free(it);
        if (!rc && json_object_set_new(ends, ent_type_name(t), json_integer((json_int_t)type_dumped)))
            rc = (msg("dump: out of memory"), 1);
    }
    progress("entity: dump: entities", dumped, 1);
    /* The end line only once every type was walked: a dump that stopped (a failed write, an
     * entity that could not be rendered) has none, and load refuses it as cut. A dump that left
     * damage out still ends (what is sound gets out, and loads) but says so, as it exits 1. */
    if (!rc) {
        json_t *end = json_object();
        char *text = NULL;
        uint64_t left_out = damaged + types_left_out + (uint64_t)counter_lost;
        lines_out += dumped;
        if (!end || json_object_set_new(end, "end", json_string("dump")) ||
            json_object_set_new(end, "lines", json_integer((json_int_t)lines_out)) ||
            json_object_set_new(end, "entities", json_incref(ends)) ||
            (left_out && json_object_set_new(end, "left_out", json_integer((json_int_t)left_out))) ||
            !(text = json_dumps(end, JSON_COMPACT | JSON_PRESERVE_ORDER)))
            rc = (msg("dump: out of memory"), 1);
        else
            out_line(text);
        free(text);
        json_decref(end);
    }
    json_decref(ends);
    if (damaged_left_out("dump", damaged) || types_left_out || counter_lost) rc = 1;
    ent_txn_abort(r);
    ent_store_close(s);
    return rc;
}

/* load [--batch N] [--overwrite]: entity-shaped NDJSON on stdin, N entities per transaction (N >= 1) */
/* A ref that load wrote before its target was there: a dump lists types in schema order and keys
 * in key order, so refs may point forward (to a later type, to a later key of the same type, in
 * cycles). load writes them unchecked and checks each target once everything is loaded. */
typedef struct pending_ref {
    uint64_t line;
    const ent_type *type;  /* the target's type */
    ent_key key;           /* key.str owned (strdup) */
    const ent_field *f;    /* the ref field */
} pending_ref;

typedef struct pending_refs {
    pending_ref *v;
    size_t n, cap;
} pending_refs;

/* Note the refs of e (just written in w) whose targets do not exist yet. Returns 0 or 1. */
static int note_refs(pending_refs *pr, ent_store *s, ent_txn *w, const ent_type *t, const ent_entity *e, uint64_t line)
{
    for (size_t i = 0; i < ent_type_field_count(t); i++) {
        const ent_field *f = ent_type_field_at(t, i);
        const ent_type *rt = ent_field_ref_type(f);
        const char *name = ent_field_name(f), *str = NULL;
        size_t len = 0;
        uint64_t id = 0;
        ent_key k;
        int rc;
        if (ent_field_kind(f) != ENT_KIND_REF || !ent_entity_has(e, name)) continue;
        if (ent_type_key(rt) == ENT_KEY_AUTO) {
            if (ent_entity_get_uint(&id, e, name) != ENT_OK) return fail("load");
            k = ent_key_id(id);
        } else {
            if (ent_entity_get_string(&str, &len, e, name) != ENT_OK) return fail("load");
            k = (ent_key){ENT_KEY_STRING, 0, str, len}; /* by its length: it may hold NUL */
        }
        rc = ent_exists(s, w, rt, &k);
        if (rc == ENT_OK) continue;
        if (rc != ENT_NOTFOUND) return fail("load");
        if (pr->n == pr->cap) {
            size_t cap = pr->cap ? 2 * pr->cap : 64;
            pending_ref *v = realloc(pr->v, cap * sizeof *v);
            if (!v) return (msg("load: out of memory"), 1);
            pr->v = v;
            pr->cap = cap;
        }
        if (str) {
            char *copy = malloc(len + 1);
            if (!copy) return (msg("load: out of memory"), 1);
            memcpy(copy, str, len);
            copy[len] = '\0';
            k.str = copy;
        }
        pr->v[pr->n].line = line;
        pr->v[pr->n].type = rt;
        pr->v[pr->n].key = k;
        pr->v[pr->n].f = f;
        pr->n++;
    }
    return 0;
}

/* The noted refs of lines in [lo, hi) whose targets are missing (seen from w, or from the
 * committed state when w is NULL). print: one line each (at most 10, then a count), with note
 * after it. Returns how many are missing, or -1 (a failure, printed). */
static int64_t check_pending(pending_refs *pr, ent_store *s, ent_txn *w, uint64_t lo, uint64_t hi, int print,
                             const char *note)
{
    int64_t missing = 0;
    ent_txn *r = NULL;
    /* Types by name, in a transaction: the ones noted may be of a schema that another process
     * has evolved since (a transaction notices it; their handles are then refused). */
    if (!w && ent_txn_begin(&r, s, ENT_TXN_READ) != ENT_OK) {
        fail("load");
        return -1;
    }
    for (size_t i = 0; i < pr->n; i++) {
        pending_ref *p = &pr->v[i];
        const ent_type *t;
        int rc;
        if (p->line < lo || p->line >= hi) continue;
        t = ent_store_type(s, ent_type_name(p->type));
        rc = t ? ent_exists(s, w ? w : r, t, &p->key) : ENT_NOTFOUND;
        if (rc == ENT_OK) continue;
        if (rc != ENT_NOTFOUND) {
            fail("load");
            ent_txn_abort(r);
            return -1;
        }
        if (print && ++missing <= 10) {
            char kb[300], *ks = NULL;
            json_t *kj = p->key.kind == ENT_KEY_AUTO ? NULL : json_stringn(p->key.str, p->key.len);
            if (p->key.kind == ENT_KEY_AUTO) snprintf(kb, sizeof kb, "%llu", (unsigned long long)p->key.id);
            else if (!(ks = kj ? json_dumps(kj, JSON_ENCODE_ANY) : NULL)) /* quoted, a NUL as \u0000 */
                snprintf(kb, sizeof kb, "\"%s\"", p->key.str);
            json_decref(kj);
            msg("line %llu: %s.%s: %s %s does not exist%s", (unsigned long long)p->line,
                ent_type_name(ent_field_type(p->f)), ent_field_name(p->f), ent_type_name(p->type), ks ? ks : kb, note);
            free(ks);
        } else if (!print) {
            missing++;
        }
    }
    ent_txn_abort(r);
    if (print && missing > 10) msg("load: %lld refs in all point at entities that do not exist", (long long)missing);
    return missing;
}

static void pending_free(pending_refs *pr)
{
    for (size_t i = 0; i < pr->n; i++)
        if (pr->v[i].key.kind == ENT_KEY_STRING) free((char *)pr->v[i].key.str);
    free(pr->v);
}

/* Whether jansson may parse a line of len bytes. Its lexer (2.14) overruns its token buffer when
 * it cannot grow it (a segfault or an assert, not an error); it needs about 3 times the longest
 * token. A long line first asks for 4 times its length and gives it back, as the library does
 * before it parses (json_io.c): short of it, the line is refused as out of memory. Through
 * volatile pointers, as there: clang -O2 dropped a malloc() only freed and took it as a success. */
static void *(*volatile probe_alloc)(size_t) = malloc;
static void (*volatile probe_free)(void *) = free;

int room_to_parse(size_t len)
{
    void *room;
    if (len < ((size_t)1 << 20)) return 1;
    if (len > SIZE_MAX / 4 || !(room = probe_alloc(4 * len))) return 0;
    probe_free(room);
    return 1;
}

/* JSON's -0 is negative zero, and jansson reads it as the integer 0: a line's "data", printed from
 * the tree for ent_entity_from_json(), said 0, and a float field given -0 loaded as +0.0 (dump
 * writes -0.0; a line written by hand or by another tool may say -0). The library mends its own
 * reads so (json_io.c); here, only a line that may hold a bare -0 (not followed by '.', 'e', 'E'
 * or a digit, not an exponent's; one inside a string passes too, and costs a parse) is parsed
 * again with integers as reals, and an integer 0 whose twin is a negative zero, where the schema
 * says float, becomes the real -0.0. Ints take it as 0, free-form values as JSON's integer 0. */
static int may_hold_negzero(const char *s, size_t n)
{
    const char *p = s;
    while ((p = memchr(p, '-', n - (size_t)(p - s)))) {
        size_t at = (size_t)(p - s);
        char next = at + 2 < n ? s[at + 2] : ' ';
        p++;
        if (at + 1 < n && s[at + 1] == '0' && next != '.' && next != 'e' && next != 'E' && !(next >= '0' && next <= '9') &&
            !(at && (s[at - 1] == 'e' || s[at - 1] == 'E')))
            return 1;
        if (at + 1 >= n) break;
    }
    return 0;
}

/* j (at a place of field f; f NULL: t's data object) against its twin: *repl the real -0.0 for j
 * (a new reference) or NULL; places below j mended in place. -1 when out of memory. */
static int mend_negzero(json_t *j, json_t *twin, const ent_type *t, const ent_field *f, json_t **repl)
{
    *repl = NULL;
    if (!twin) return 0;
    if (f && ent_field_kind(f) == ENT_KIND_FLOAT) {
        if (json_is_integer(j) && json_integer_value(j) == 0 && json_is_real(twin) && signbit(json_real_value(twin)))
            return (*repl = json_real(-0.0)) ? 0 : -1;
        return 0;
    }
    if (f && ent_field_kind(f) == ENT_KIND_ARRAY && json_is_array(j) && json_is_array(twin)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *r;
            if (mend_negzero(json_array_get(j, i), json_array_get(twin, i), t, ent_field_items(f), &r) ||
                (r && json_array_set_new(j, i, r)))
                return -1;
        }
        return 0;
    }
    if ((!f || (ent_field_kind(f) == ENT_KIND_MAP && ent_field_field_count(f))) && json_is_object(j) && json_is_object(twin)) {
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            const char *k = json_object_iter_key(it);
            size_t kn = json_object_iter_key_len(it);
            const ent_field *sf = strlen(k) != kn ? NULL : f ? ent_field_field(f, k) : ent_type_field(t, k);
            json_t *r;
            if (!sf) continue; /* ent_entity_from_json() names it */
            if (mend_negzero(json_object_iter_value(it), json_object_getn(twin, k, kn), t, sf, &r) ||
                (r && json_object_iter_set_new(j, it, r)))
                return -1;
        }
    }
    return 0;
}

/* The line's "data" in o mended so; -1 when out of memory. */
static int mend_line_negzero(json_t *o, const char *line, size_t len, const ent_type *t)
{
    json_t *twin, *r;
    int rc;
    if (!may_hold_negzero(line, len)) return 0;
    /* parsed once already: a second parse that fails is short of memory */
    if (!(twin = json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL))) return -1;
    rc = mend_negzero(json_object_get(o, "data"), json_object_get(twin, "data"), t, NULL, &r);
    json_decref(twin);
    return rc;
}

/* The first key of a load line's object that dump does not write, or NULL. Borrowed from o. */
static const char *line_extra_key(json_t *o)
{
    const char *name;
    json_t *member;
    json_object_foreach(o, name, member) {
        (void)member;
        if (strcmp(name, "type") && strcmp(name, "key") && strcmp(name, "version") && strcmp(name, "data") &&
            strcmp(name, "kinds"))
            return name;
    }
    return NULL;
}

/* A line's version: a JSON integer, or the decimal string dump writes above 2^63-1 (JSON
 * readers hold no larger integer). 0 when it is neither or below 1. */
static uint64_t line_version(json_t *j)
{
    const char *text;
    char *end;
    unsigned long long v;
    if (json_is_integer(j)) return json_integer_value(j) > 0 ? (uint64_t)json_integer_value(j) : 0;
    text = json_string_value(j);
    if (!text || !isdigit((unsigned char)text[0])) return 0;
    errno = 0;
    v = strtoull(text, &end, 10);
    return *end || errno ? 0 : v;
}

/* A dump's line {"type":T,"last_id":N}: type T's id counter in the store dumped, to which this
 * store's is raised (never lowered, ent_last_id_raise()): ids handed out there and deleted before
 * the dump are not handed out here. No event: the entities' lines write theirs. 0, or 1 with what
 * is wrong in why. */
static int load_last_id(ent_store *s, ent_txn *w, json_t *o, char *why, size_t size)
{
    json_t *tj = json_object_get(o, "type"), *ij = json_object_get(o, "last_id"), *member;
    const char *name;
    const ent_type *t;
    uint64_t id;
    json_object_foreach(o, name, member) {
        (void)member;
        if (strcmp(name, "type") && strcmp(name, "last_id")) {
            snprintf(why, size, "unknown key \"%.64s\" beside \"last_id\": a dump's id counter line holds \"type\" and "
                     "\"last_id\"", name);
            return 1;
        }
    }
    if (!json_is_string(tj) || strlen(json_string_value(tj)) != json_string_length(tj)) {
        snprintf(why, size, "\"type\" is not a string");
        return 1;
    }
    if (!(t = ent_store_type(s, json_string_value(tj)))) {
        snprintf(why, size, "unknown type \"%.64s\"", json_string_value(tj));
        return 1;
    }
    if (ent_type_key(t) != ENT_KEY_AUTO) {
        snprintf(why, size, "%s has string keys: \"last_id\" is the id counter of a type of auto ids", ent_type_name(t));
        return 1;
    }
    if (!(id = line_version(ij))) { /* the form of a version: digits, from 1 */
        char *text = json_dumps(ij, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(why, size, "\"last_id\" %.48s is not an id (digits, from 1)", text ? text : "");
        free(text);
        return 1;
    }
    if (ent_last_id_raise(s, w, t, id) != ENT_OK) {
        snprintf(why, size, "%s", ent_errmsg());
        return 1;
    }
    return 0;
}

/* A batch whose commit failed (a full disk): say which lines are not in the store, as a bad line
 * is named, so the load can be resumed from the right line. */
static void lost_batch(const char *why, uint64_t from, uint64_t to)
{
    if (from > to && from > 1) /* no open batch: everything read is stored */
        msg("load: %severy line up to line %llu was stored, none after it", why, (unsigned long long)to);
    else if (from > 1)
        msg("load: %slines %llu to %llu were not stored, nor any after them; the lines before them were", why,
            (unsigned long long)from, (unsigned long long)to);
    else
        msg("load: %snothing was stored", why);
}

/* Commit load's open batch w, whose last line is `last`: the next batch starts after it. On
 * failure the lines the batch lost are named; returns fail()'s exit code. w is NULL after. */
static int commit_batch(ent_txn **w, uint64_t *in_txn, uint64_t *batch_from, uint64_t last)
{
    int rc = ent_txn_commit(*w);
    *w = NULL;
    if (rc != ENT_OK) {
        rc = fail("load");
        lost_batch("", *batch_from, last);
        return rc;
    }
    *in_txn = 0;
    *batch_from = last + 1;
    return 0;
}

/* Whether reading a line of stdin now would wait: nothing left in stdio's buffer (glibc's FILE;
 * elsewhere this answers no, and batches end only when full) and nothing on the descriptor. */
static int input_would_wait(void)
{
#ifdef __GLIBC__
    struct pollfd p = {fileno(stdin), POLLIN, 0};
    if (p.fd < 0 || stdin->_IO_read_ptr < stdin->_IO_read_end) return 0; /* not a descriptor (fmemopen) */
    return poll(&p, 1, 0) == 0;
#else
    return 0;
#endif
}

/* Store a line's entity e in w as given (ent_restore(), which w has refuse to move a stored
 * entity back). overwrite: an entity the store holds at the line's version or later gets the
 * line's values as its next version instead, an update like any other (nothing when they are
 * equal). On failure *why is its message (static, valid until the next call), with the option
 * named when the refusal is that one. The store is read once more only with overwrite or after a
 * conflict. Returns an ENT_ code. */
static int restore_line(ent_store *s, ent_txn *w, ent_entity *e, int overwrite, const char **why)
{
    static char text[1200];
    ent_entity *old = NULL;
    ent_key k = ent_entity_key(e);
    int rc = ENT_CONFLICT, got, later;
    if (!overwrite && (rc = ent_restore(s, w, e)) != ENT_CONFLICT) {
        *why = ent_errmsg();
        return rc;
    }
    snprintf(text, sizeof text, "%s", overwrite ? "" : ent_errmsg());
    got = ent_get(&old, s, w, ent_entity_type(e), &k);
    later = got == ENT_OK && ent_entity_version(old) >= ent_entity_version(e);
    ent_entity_free(old);
    if (got != ENT_OK && got != ENT_NOTFOUND) {
        *why = ent_errmsg();
        return got;
    }
    if (overwrite) {
        rc = later ? ent_replace(s, w, e, ENT_VERSION_ANY) : ent_restore(s, w, e);
        *why = ent_errmsg();
        return rc;
    }
    /* The library checks the version before unique values: a conflict with the stored version at
     * or past the line's is that one. */
    if (later)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 " (load --overwrite stores the line's values as the entity's next version)");
    *why = text;
    return rc;
}

/* Room in *buf (of *cap bytes) for `need` bytes, growing it in steps up to `most`: a line's
 * buffer grows as its bytes come, not to the bound at once. 0, or -1 short of memory. */
static int line_room(char **buf, size_t *cap, size_t need, size_t most)
{
    size_t want = *cap < 4096 ? 4096 : *cap;
    char *more;
    if (need <= *cap) return 0;
    while (want < need) want = want > most / 2 ? most : want * 2;
    if (want < need) want = need;
    if (!(more = realloc(*buf, want))) return -1;
    *buf = more;
    *cap = want;
    return 0;
}

/* Read one line of stdin into *buf (of *cap bytes), its newline kept, NUL-terminated; the buffer
 * grows as the line's bytes come, never past max + 3 bytes. A line of more than max bytes (its
 * "\n" or "\r\n" not counted) is read no further than max + 2 bytes: *too_long is set. Returns its
 * length, or -1 at the end of the input, on a read error (ferror(stdin) tells) or short of memory
 * (errno ENOMEM). getline() had no bound: /dev/zero or a stream without a newline ran until memory
 * was exhausted. Through stdio's buffer (input_would_wait() looks at it), a NUL byte no end.
 * quiet (may be NULL): called before the read waits for the rest of a line begun (a producer
 * that wrote half of one); non-zero from it ends the read, -1 returned. */
static ssize_t read_line(char **buf, size_t *cap, size_t max, int *too_long, int (*quiet)(void *payload), void *payload)
{
    size_t n = 0, most = max + 2; /* max bytes and "\r\n" */
    int nl = 0;
    *too_long = 0;
    while (!nl && n < most) {
#ifdef __GLIBC__
        /* What glibc's getc_unlocked() does a byte at a time, a buffer at a time (getc was 13 times
         * the instructions of getline() per byte) */
        if (stdin->_IO_read_ptr < stdin->_IO_read_end) {
            size_t take = (size_t)(stdin->_IO_read_end - stdin->_IO_read_ptr);
            char *end;
            if (take > most - n) take = most - n;
            if ((end = memchr(stdin->_IO_read_ptr, '\n', take))) {
                take = (size_t)(end - stdin->_IO_read_ptr) + 1;
                nl = 1;
            }
            if (line_room(buf, cap, n + take + 1, most + 1)) {
                errno = ENOMEM;
                return -1;
            }
            memcpy(*buf + n, stdin->_IO_read_ptr, take);
            stdin->_IO_read_ptr += take;
            n += take;
            continue;
        }
#endif
        if (n && quiet && quiet(payload)) return -1;
        int c = getc_unlocked(stdin); /* fills stdio's buffer, or the end */
        if (c == EOF) break;
        if (line_room(buf, cap, n + 2, most + 1)) {
            errno = ENOMEM;
            return -1;
        }
        (*buf)[n++] = (char)c;
        nl = c == '\n';
    }
    if (n == 0 || ferror(stdin)) return -1; /* a line cut by a read error is no line */
    (*buf)[n] = '\0';
    /* past max: only a line end may follow; no newline within max + 2 bytes is past it */
    *too_long = nl ? n - 1 - (n >= 2 && (*buf)[n - 2] == '\r') > max : n > max;
    return (ssize_t)n;
}

/* What load's open batch is, for a read that would wait in the middle of a line. */
typedef struct load_batch {
    ent_txn **w;
    uint64_t *in_txn, *batch_from, lines;
    int rc; /* commit_batch()'s, when it failed */
} load_batch;

/* read_line()'s quiet: the open batch is committed before the read waits for the rest of a line,
 * as before one that would wait (a producer that wrote a line in two writes held the store's
 * writer until the second: every other writer waited as long). Non-zero when the commit failed. */
static int commit_if_quiet(void *payload)
{
    load_batch *b = payload;
    if (!*b->w || !*b->in_txn || !input_would_wait()) return 0;
    return (b->rc = commit_batch(b->w, b->in_txn, b->batch_from, b->lines)) != 0;
}

/* A line holding only blanks (a "\r\n" line of a file from Windows, spaces): skipped, as an empty
 * line is (jansson said "'[' or '{' expected" of it and the load stopped there). */
static int blank_line(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n') return 0;
    return 1;
}

/* What load knows of the dump it reads (format 2, DUMP_HEADER): the line of the header of the
 * dump under way (0: none, or a dump written before format 2, which has no end line), the lines
 * read since it and its entities by type, which its end line's counts must match. */
typedef struct dump_state {
    uint64_t from, lines, ended; /* the header's line; lines since it; the last end line's line */
    json_t *counts;              /* type name -> entity lines read since the header */
} dump_state;

/* Whether o holds only keys of the NULL-ended list keys; else the first other one, in *extra. */
static int only_keys(json_t *o, const char *const *keys, const char **extra)
{
    const char *name;
    json_t *m;
    json_object_foreach(o, name, m) {
        size_t i = 0;
        (void)m;
        while (keys[i] && strcmp(keys[i], name)) i++;
        if (!keys[i]) return (*extra = name, 0);
    }
    return 1;
}

/* A dump's header line o (it has "dump"): a dump begins. 0, or 1 with what is wrong in why. */
static int dump_header(dump_state *d, json_t *o, uint64_t line, char *why, size_t size)
{
    static const char *const keys[] = {"dump", "format", NULL};
    json_t *dj = json_object_get(o, "dump"), *fj = json_object_get(o, "format");
    const char *extra;
    if (!only_keys(o, keys, &extra))
        snprintf(why, size, "unknown key \"%.64s\" beside \"dump\": a dump's header holds \"dump\" and \"format\"", extra);
    else if (!json_is_string(dj) || strcmp(json_string_value(dj), "entity"))
        snprintf(why, size, "\"dump\" is not \"entity\": no header of a dump of entity's");
    else if (!json_is_integer(fj) || json_integer_value(fj) < DUMP_FORMAT)
        snprintf(why, size, "\"format\" is not a dump's format (%d)", DUMP_FORMAT);
    else if (json_integer_value(fj) > DUMP_FORMAT)
        snprintf(why, size, "a dump of format %lld, newer than the %d this entity reads: load it with an entity as new as "
                 "the one that wrote it", (long long)json_integer_value(fj), DUMP_FORMAT);
    else if (d->from) /* a new dump begins (dumps joined: cat a b) before the one under way ended */
        snprintf(why, size, "a dump's header, before the end line of the dump begun at line %llu: that dump was cut short "
                 "after line %llu (a full disk, a killed pipe, a copy cut short)", (unsigned long long)d->from,
                 (unsigned long long)line - 1);
    else {
        d->from = line;
        d->lines = 0;
        json_object_clear(d->counts);
        return 0;
    }
    return 1;
}

/* A count of a dump's end line: a JSON integer from 0; -1 if it is none. */
static long long end_count(json_t *j) { return json_is_integer(j) && json_integer_value(j) >= 0 ? json_integer_value(j) : -1; }

/* A dump's end line o (it has "end"): its counts checked against what was read since its header.
 * *left_out is the damaged items its dump said it left out. 0, or 1 with what is wrong in why. */
static int dump_end(dump_state *d, json_t *o, uint64_t *left_out, char *why, size_t size)
{
    static const char *const keys[] = {"end", "lines", "entities", "left_out", NULL};
    json_t *ej = json_object_get(o, "end"), *nj = json_object_get(o, "entities"), *lj = json_object_get(o, "left_out");
    json_t *m;
    const char *extra, *name;
    if (!only_keys(o, keys, &extra)) {
        snprintf(why, size, "unknown key \"%.64s\" beside \"end\": a dump's end line holds \"end\", \"lines\", \"entities\" "
                 "and \"left_out\"", extra);
        return 1;
    }
    if (!json_is_string(ej) || strcmp(json_string_value(ej), "dump") || end_count(json_object_get(o, "lines")) < 0 ||
        !json_is_object(nj) || (lj && end_count(lj) < 0)) {
        snprintf(why, size, "not a dump's end line: {\"end\":\"dump\",\"lines\":N,\"entities\":{TYPE:N,...}}");
        return 1;
    }
    if (!d->from) {
        snprintf(why, size, "a dump's end line without its header (a dump's first line, %s)%s", DUMP_HEADER,
                 d->ended ? ": a second end line" : ": the dump lost its start");
        return 1;
    }
    json_object_foreach(nj, name, m) {
        json_t *c = json_object_get(d->counts, name);
        long long want = end_count(m), got = c ? json_integer_value(c) : 0;
        if (want < 0) {
            snprintf(why, size, "not a dump's end line: \"entities\" of \"%.64s\" is no count", name);
            return 1;
        }
        if (want != got) {
            snprintf(why, size, "the dump's end line says %lld %.64s entit%s, the dump begun at line %llu holds %lld: lines "
                     "of it are missing or were added (a dump edited, or joined from pieces)", want, name, want == 1 ? "y" : "ies",
                     (unsigned long long)d->from, got);
            return 1;
        }
    }
    json_object_foreach(d->counts, name, m) {
        if (!json_object_get(nj, name)) {
            snprintf(why, size, "the dump's end line names no %.64s entities, the dump begun at line %llu holds %lld: lines "
                     "of another dump were added", name, (unsigned long long)d->from, (long long)json_integer_value(m));
            return 1;
        }
    }
    if ((uint64_t)end_count(json_object_get(o, "lines")) != d->lines) {
        snprintf(why, size, "the dump's end line says %lld lines, the dump begun at line %llu holds %llu: lines of it are "
                 "missing or were added (a dump edited, or joined from pieces)", end_count(json_object_get(o, "lines")),
                 (unsigned long long)d->from, (unsigned long long)d->lines);
        return 1;
    }
    *left_out += lj ? (uint64_t)end_count(lj) : 0;
    d->from = 0;
    return 0;
}

/* A line of a dump under way read: its lines, and its entities of type name, counted. 0, or 1 out of memory. */
static int dump_count(dump_state *d, const char *name)
{
    json_t *c;
    if (!d->from) return 0;
    d->lines++;
    if (!name) return 0;
    if ((c = json_object_get(d->counts, name))) return json_integer_set(c, json_integer_value(c) + 1) != 0;
    return json_object_set_new(d->counts, name, json_integer(1)) != 0;
}

/* Whether stdin is a file holding a dump of format 2 (its first line the header) whose last line
 * is not its end line: a dump cut short, refused before anything is stored. (A pipe is read as it
 * comes: its cut is found at its end, and the batches committed before are named.) */
static int file_dump_cut(void)
{
    struct stat st;
    char head[sizeof DUMP_HEADER + 1], tail[4096];
    int fd = fileno(stdin);
    off_t pos, end, at, last_end;
    ssize_t n;
    size_t hl = strlen(DUMP_HEADER);
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (pos = lseek(fd, 0, SEEK_CUR)) < 0) return 0;
    if (pread(fd, head, hl + 1, pos) != (ssize_t)hl + 1 || memcmp(head, DUMP_HEADER, hl) ||
        (head[hl] != '\n' && head[hl] != '\r'))
        return 0;
    /* back from the end over blanks to the last line's start: it must begin as an end line */
    end = st.st_size;
    for (;;) {
        size_t i;
        at = end - (off_t)sizeof tail > pos ? end - (off_t)sizeof tail : pos;
        if (at >= end || (n = pread(fd, tail, (size_t)(end - at), at)) != end - at) return 0; /* read by load */
        for (i = (size_t)n; i && tail[i - 1] && strchr(" \t\r\n", tail[i - 1]); i--) end--;
        if (i) break;
        if (at == pos) return 1; /* the header alone */
    }
    /* the last line ends at end: find its start, going back at most 1 MiB (an end line of many
     * types); the input's start (pos) starts a line too. It must be a whole end line: one cut
     * inside (its first bytes there, its last not) is a cut too. */
    last_end = end;
    for (off_t lo = end - pos > (off_t)1 << 20 ? end - ((off_t)1 << 20) : pos; end > lo;) {
        at = end - (off_t)sizeof tail > lo ? end - (off_t)sizeof tail : lo;
        if ((n = pread(fd, tail, (size_t)(end - at), at)) != end - at) return 0;
        for (size_t i = (size_t)n; i; i--)
            if (tail[i - 1] == '\n') {
                off_t start = at + (off_t)i;
                size_t len = (size_t)(last_end - start);
                char *text = malloc(len);
                json_t *o;
                int cut;
                if (!text) return 0; /* for load's reading to find */
                if (pread(fd, text, len, start) != (ssize_t)len) {
                    free(text);
                    return 0;
                }
                o = json_loadb(text, len, 0, NULL);
                cut = !json_is_object(o) || !json_is_string(json_object_get(o, "end"));
                json_decref(o);
                free(text);
                return cut;
            }
        if (at == pos) return 1; /* the header is the last line */
        end = at;
    }
    return 0; /* a last line of more than 1 MiB: its end is found by reading it */
}

int cmd_load(int argc, char **argv)
{
    uint64_t batch = 1000, in_txn = 0, lines = 0, loaded = 0, max_line = MAX_TEXT_DEFAULT;
    ent_store *s = NULL;
    ent_txn *w = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    pending_refs pr = {NULL, 0, 0};
    uint64_t batch_from = 1; /* first line of the batch being written */
    load_batch lb = {&w, &in_txn, &batch_from, 0, 0};
    dump_state ds = {0, 0, 0, NULL};
    uint64_t left_out = 0; /* damaged items the dumps read said they left out */
    uint64_t nonblank = 0;  /* lines that are not blank */
    int rc, overwrite = 0, too_long = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if ((rc = parse_u64(&batch, argv[++i], "--batch"))) return rc;
            if (!batch) {
                msg("load: --batch 0: a batch holds 1 entity or more");
                return 2;
            }
        } else if (!strcmp(argv[i], "--max-line") && i + 1 < argc) {
            if ((rc = parse_max_text(&max_line, argv[++i], "--max-line"))) return rc;
        } else if (!strcmp(argv[i], "--overwrite")) {
            overwrite = 1;
        } else {
            return bad_word(argv[0], argv[i]);
        }
    }
    /* A dump cut short in a file is refused before anything is stored (it loaded without a word) */
    if (file_dump_cut()) {
        msg("load: the input's last line is not its dump's end line (dump writes it last): the dump was cut short (a full "
            "disk, a killed pipe, a copy cut short), or lines were added after it; nothing was stored");
        return 1;
    }
    if (!(ds.counts = json_object())) return (msg("load: out of memory"), 1);
    if ((rc = open_store(&s, 0))) {
        json_decref(ds.counts);
        return rc;
    }
    /* Ctrl-C or a kill ends the load at a line: the open batch is dropped and the lines stored
     * are named, as after a bad line (killed outright, it left a partial store unsaid). */
    catch_stops(on_signal);
    progress("entity: load: entities", 0, 0);
    for (;;) {
        json_error_t err;
        json_t *o, *data, *vj, *tj;
        const char *shape;
        const ent_type *t;
        ent_entity *e = NULL;
        ent_key k;
        uint64_t version;
        char *djson = NULL, keybuf[32];
        const char *why = NULL, *nul, *extra; /* the restore's message */
        /* Input that would keep the load waiting (a live producer: tail -f | entity load) ends
         * the open batch first: it holds the store's writer, which every other writer (serve, a
         * put) would wait for as long as the input is quiet. */
        if (w && in_txn && input_would_wait() && (rc = commit_batch(&w, &in_txn, &batch_from, lines))) break;
        if (stop) break;
        errno = 0;
        lb.lines = lines;
        if ((len = read_line(&line, &cap, (size_t)max_line, &too_long, commit_if_quiet, &lb)) < 0) {
            if ((rc = lb.rc)) break;
            /* short of memory for a long line is no end of the input (it loaded nothing of it
             * and said so with exit 0) */
            if (!ferror(stdin) && errno == ENOMEM) {
                progress("", 0, 2);
                msg("line %llu: out of memory reading it", (unsigned long long)lines + 1);
                rc = 1;
            }
            break;
        }
        lines++;
        if (!too_long && blank_line(line, (size_t)len)) continue;
        nonblank++;
        /* A full batch is committed once another line follows: the last one stays open until the
         * end of the input, where a dangling ref can still refuse it, or a dump's end line whose
         * counts disagree (a line that begins as one is no reason to commit). */
        if (w && in_txn == batch && !(len >= (ssize_t)strlen(DUMP_END_PREFIX) && !memcmp(line, DUMP_END_PREFIX, strlen(DUMP_END_PREFIX))) &&
            (rc = commit_batch(&w, &in_txn, &batch_from, lines - 1)))
            break;
        if (too_long) { /* a bad line as any other: the batches before it stay */
            progress("", 0, 2);
            msg("line %llu: longer than %llu bytes, the most a line may hold (load --max-line BYTES raises it)",
                (unsigned long long)lines, (unsigned long long)max_line);
            rc = 1;
            break;
        }
        /* The transaction first, then the line's type: a transaction notices an evolution made
         * by another process meanwhile, and entities of the schema before it are refused. */
        /* A line never moves a stored entity back to an older version (or to other values at
         * its version): If-Match and every consumer of the log take a version for one state. */
        /* Unique values are checked on each batch's final state: a newer dump onto an older copy
         * where two entities swapped values (or a value moved from one to another later in the
         * dump) was refused at the first of them. */
        if (!w && ((rc = ent_txn_begin(&w, s, ENT_TXN_WRITE)) || (rc = ent_txn_skip_ref_checks(w)) ||
                   (rc = ent_txn_restore_forward(w)) || (rc = ent_txn_defer_unique_checks(w)))) {
            progress("", 0, 2);
            msg("line %llu: %s", (unsigned long long)lines, ent_errmsg());
            rc = 1;
            break;
        }
        /* as put and dump: strings may hold \u0000; a NUL byte read is no end of the line, and
         * no JSON either: named as such (jansson said "end of file expected near end of file") */
        if ((nul = memchr(line, '\0', (size_t)len))) {
            progress("", 0, 2);
            msg("line %llu: a NUL byte at byte %zu (JSON holds none: a string writes it \\u0000)", (unsigned long long)lines,
                (size_t)(nul - line) + 1);
            rc = 1;
            break;
        }
        if (!room_to_parse((size_t)len)) {
            progress("", 0, 2);
            msg("line %llu: out of memory parsing it", (unsigned long long)lines);
            rc = 1;
            break;
        }
        o = json_loadb(line, (size_t)len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
        if (!o) {
            progress("", 0, 2);
            if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3) && err.position <= 3) /* as the library says it */
                snprintf(err.text, sizeof err.text, "a UTF-8 byte order mark (EF BB BF) at the start: JSON text has none "
                                                    "(save the file without it)");
            /* the input's last line, without its newline: a stream cut in the middle of a line (a
             * killed producer, a file copied short), said so rather than left to the JSON's error */
            msg("line %llu: invalid JSON at column %d: %s%s", (unsigned long long)lines, err.column, err.text,
                line[len - 1] != '\n' ? "; the input ends inside this line (no newline after it): it was likely cut short" : "");
            rc = 1;
            break;
        }
        /* a dump's header and end line (format 2), and a line after the end line of its dump */
        if (json_is_object(o) && (json_object_get(o, "dump") || json_object_get(o, "end") ||
                                  (ds.ended && !ds.from && !json_object_get(o, "dump")))) {
            char dwhy[400];
            if (json_object_get(o, "dump")) rc = dump_header(&ds, o, lines, dwhy, sizeof dwhy);
            else if (json_object_get(o, "end")) rc = dump_end(&ds, o, &left_out, dwhy, sizeof dwhy);
            else {
                snprintf(dwhy, sizeof dwhy, "a line after the end line of its dump (line %llu): a dump ends there, and "
                         "another begins with its header", (unsigned long long)ds.ended);
                rc = 1;
            }
            if (!rc && json_object_get(o, "end")) ds.ended = lines;
            json_decref(o);
            if (rc) {
                progress("", 0, 2);
                msg("line %llu: %s", (unsigned long long)lines, dwhy);
                break;
            }
            continue;
        }
        if (json_is_object(o) && json_object_get(o, "last_id")) { /* a type's id counter, not an entity */
            char lwhy[300];
            rc = load_last_id(s, w, o, lwhy, sizeof lwhy);
            json_decref(o);
            if (!rc && dump_count(&ds, NULL)) snprintf(lwhy, sizeof lwhy, "out of memory"), rc = 1;
            if (rc) {
                progress("", 0, 2);
                msg("line %llu: %s", (unsigned long long)lines, lwhy);
                break;
            }
            in_txn++;
            continue;
        }
        tj = json_object_get(o, "type");
        data = json_object_get(o, "data");
        vj = json_object_get(o, "version");
        /* name what is wrong: a line of a long input is fixed by hand */
        shape = !json_is_object(o) ? "not an object"
                : !json_is_string(tj) ? "\"type\" is not a string"
                : strlen(json_string_value(tj)) != json_string_length(tj) ? "\"type\" holds a NUL"
                : !json_object_get(o, "key") ? "no \"key\""
                : !(json_is_integer(vj) || json_is_string(vj)) ? "\"version\" is not an integer"
                : !json_is_object(data) ? "\"data\" is not an object" : NULL;
        t = shape ? NULL : ent_store_type(s, json_string_value(tj));
        if (!t) {
            progress("", 0, 2);
            if (shape)
                msg("line %llu: %s; expected {\"type\":T,\"key\":K,\"version\":V,\"data\":{...}}", (unsigned long long)lines, shape);
            else
                msg("line %llu: unknown type \"%s\"", (unsigned long long)lines, json_string_value(tj));
            json_decref(o);
            rc = 1;
            break;
        }
        /* A line holds what dump writes and nothing else. Another key was passed over: a line of
         * `entity events` (its "seq", "op") loaded an update's changed fields as the whole entity
         * and a delete as a create, and a "kind" misspelt for "kinds" stored bytes as strings. */
        if ((extra = line_extra_key(o))) {
            progress("", 0, 2);
            msg("line %llu: unknown key \"%s\": a line holds \"type\", \"key\", \"version\", \"data\" and \"kinds\", as "
                "dump writes it (an event of entity events is no entity)",
                (unsigned long long)lines, extra);
            json_decref(o);
            rc = 1;
            break;
        }
        if (!(version = line_version(vj))) {
            progress("", 0, 2);
            if (json_is_integer(vj))
                msg("line %llu: version %lld: versions start at 1", (unsigned long long)lines,
                    (long long)json_integer_value(vj));
            else
                msg("line %llu: version \"%s\" is not a version (digits, from 1)", (unsigned long long)lines,
                    json_string_value(vj));
            json_decref(o);
            rc = 1;
            break;
        }
        if (mend_line_negzero(o, line, (size_t)len, t)) {
            progress("", 0, 2);
            msg("line %llu: out of memory parsing it", (unsigned long long)lines);
            json_decref(o);
            rc = 1;
            break;
        }
        djson = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = djson ? ent_entity_from_json(&e, t, djson, strlen(djson)) : ENT_NOMEM;
        free(djson);
        /* bytes, big uints, NaN in free-form maps: dump names them in "kinds" (value.h) */
        if (!rc && json_object_get(o, "kinds")) {
            djson = json_dumps(json_object_get(o, "kinds"), JSON_COMPACT | JSON_ENCODE_ANY);
            rc = djson ? ent_entity_apply_kinds(e, djson, strlen(djson)) : ENT_NOMEM;
            free(djson);
        }
        if (!rc) {
            json_t *kj = json_object_get(o, "key");
            int bad = 0;
            if (json_is_integer(kj)) snprintf(keybuf, sizeof keybuf, "%lld", (long long)json_integer_value(kj));
            if (json_is_string(kj) && ent_type_key(t) == ENT_KEY_STRING) /* by its length: it may hold NUL */
                k = (ent_key){ENT_KEY_STRING, 0, json_string_value(kj), json_string_length(kj)};
            else bad = parse_key_quiet(&k, t, json_is_integer(kj) ? keybuf : json_is_string(kj) ? json_string_value(kj) : "");
            if (bad) {
                progress("", 0, 2);
                msg("line %llu: %s: \"key\" is not %s", (unsigned long long)lines, ent_type_name(t),
                    ent_type_key(t) == ENT_KEY_AUTO ? "an id (a positive integer)" : "a string");
                ent_entity_free(e);
                json_decref(o);
                rc = 1;
                break;
            }
            rc = ent_entity_set_key(e, &k);
        }
        /* keys and versions as given: a restore keeps both */
        if (!rc) rc = ent_entity_set_version(e, version);
        if (!rc) rc = restore_line(s, w, e, overwrite, &why);
        if (!rc && note_refs(&pr, s, w, t, e, lines)) rc = -1;
        if (!rc && dump_count(&ds, ent_type_name(t))) rc = ENT_NOMEM;
        ent_entity_free(e);
        json_decref(o);
        if (rc) {
            progress("", 0, 2);
            if (rc != -1) msg("line %llu: %s", (unsigned long long)lines, why ? why : ent_errmsg());
            rc = 1;
            break;
        }
        loaded++;
        progress("entity: load: entities", loaded, 0);
        in_txn++;
    }
    /* A dump (format 2) whose end line never came was cut short at a line's end (a full disk, a
     * killed pipe): it loaded without a word, and the store was silently short of the rest. Its
     * open batch is dropped, and the lines stored before it named. */
    if (!rc && !stop && !ferror(stdin) && ds.from) {
        progress("", 0, 2);
        msg("load: the input ends at line %llu without the end line of the dump begun at line %llu (dump writes it "
            "last): the dump was cut short (a full disk, a killed pipe, a copy cut short)",
            (unsigned long long)lines, (unsigned long long)ds.from);
        /* the open batch's lines; none open: all read before is stored (nothing, if no batch was) */
        lost_batch("", in_txn || batch_from == 1 ? batch_from : lines + 1, lines);
        if (w) ent_txn_abort(w);
        w = NULL;
        rc = 1;
    }
    if (rc && w && in_txn) /* a bad line: the good lines of its open batch go with it */
        lost_batch("", batch_from, lines - 1);
    else if (too_long) /* its read may have taken a while: what it left is said as for Ctrl-C */
        lost_batch("", batch_from, lines - 1);
    /* An empty input (or blank lines only) is what a failed producer leaves (`ssh host entity
     * dump | entity load` with ssh refused, a dump redirected into a file that was never written):
     * it said "loaded 0 entities", exit 0, and a script went on as if the copy were made. A dump
     * has its header line at least (format 2); only one of an empty store written before format 2
     * is empty, and refusing it loses nothing: there is nothing in it to load. */
    if (!rc && !stop && !ferror(stdin) && !nonblank) {
        progress("", 0, 2);
        msg("load: the input is empty%s: no dump to load (a dump holds its header line at least; an empty dump "
            "can only be one of an empty store written before 2026-12-07, which has nothing to load); nothing was stored",
            lines ? " (blank lines only)" : "");
        rc = 1;
    }
    if (!rc && (stop || ferror(stdin))) {
        /* input that cannot be read (a directory, a closed descriptor) is no empty input */
        int err = errno; /* before progress(): isatty() sets it */
        progress("", 0, 2);
        if (!stop) msg("load: reading the input: %s", strerror(err));
        lost_batch(stop ? "interrupted: " : "", batch_from, lines);
        rc = 1;
    }
    free(line);
    progress("", 0, 2);
    if (!rc && w && pr.n) {
        /* The end of the input: refs of the open (last) batch to entities in none of the lines
         * refuse it (a load of one batch stores nothing); earlier batches stay, as after a bad
         * line, and the check below names their refs that dangle. */
        int64_t n = check_pending(&pr, s, w, batch_from, UINT64_MAX, 1, "");
        if (n != 0) {
            rc = 1;
            if (n > 0 && batch_from > 1)
                msg("load: lines %llu to %llu were not stored; the lines before them were",
                    (unsigned long long)batch_from, (unsigned long long)lines);
            else if (n > 0)
                msg("load: nothing was stored");
            ent_txn_abort(w);
            w = NULL;
        }
    }
    if (w && rc) {
        ent_txn_abort(w);
        w = NULL;
    } else if (w) {
        rc = commit_batch(&w, &in_txn, &batch_from, lines);
    }
    if (pr.n && batch_from > 1 &&
        check_pending(&pr, s, NULL, 0, batch_from, 1, " (stored: its batch was committed before the end of the input)") != 0)
        rc = 1;
    /* A load runs for long, and its store may be removed or replaced meanwhile (a backup put
     * back): its batches went into the files it has open, which no other process reads any more.
     * It said "loaded N entities", exit 0, and the store at the path had none of them. */
    if (loaded) {
        int how = store_moved(s);
        if (how == 1)
            msg("load: %s/data.mdb was removed while it loaded: the entities it stored went with it; load them "
                "again into the store now there", store_dir);
        else if (how == 2)
            msg("load: %s/data.mdb is another file now (the store was replaced while it loaded): the entities it "
                "stored went into the store that was there; load them again into the store now there", store_dir);
        if (how) rc = 1;
    }
    if (!rc && left_out)
        msg("load: the dump says it left out %llu damaged item%s of its store (entities, types or id counters; its dump "
            "exited 1 naming each): this store has all the rest", (unsigned long long)left_out, left_out == 1 ? "" : "s");
    if (!rc) fprintf(stderr, "entity: loaded %llu entit%s\n", (unsigned long long)loaded, loaded == 1 ? "y" : "ies");
    json_decref(ds.counts);
    pending_free(&pr);
    ent_store_close(s);
    return rc;
}

static void print_problem(const char *line, void *payload)
{
    (void)payload;
    put_line(stdout, line);
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
    if (argc != 1) return bad_word(argv[0], argv[1]);
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
    int rc, damaged = 0;
    (void)argv;
    if (argc != 1) return bad_word(argv[0], argv[1]);
    if ((rc = open_store(&s, 1))) return rc;
    sc = ent_store_schema(s);
    o = json_object();
    types = json_object();
    for (size_t i = 0; i < ent_schema_type_count(sc); i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        uint64_t n = 0;
        json_t *idx = json_array();
        int crc = ent_count(&n, s, NULL, t);
        /* A damaged id counter record (it holds the type's count too) is named, as check names it,
         * and its count printed as null; the rest of the store is still told (stat failed whole,
         * with that one message and nothing on stdout). Exit 1. */
        if (crc == ENT_CORRUPT) {
            msg("stat: %s: its id counter and count: %s (its count printed as null; entity check names every problem)",
                ent_type_name(t), ent_errmsg());
            damaged = 1;
        } else if (crc != ENT_OK) rc = fail("stat");
        for (size_t f = 0; f < ent_type_field_count(t); f++) {
            const ent_field *fl = ent_type_field_at(t, f);
            if (ent_field_is_unique(fl)) json_array_append_new(idx, json_pack("{s:s,s:s}", "field", ent_field_name(fl), "kind", "unique"));
            else if (ent_field_is_indexed(fl)) json_array_append_new(idx, json_pack("{s:s,s:s}", "field", ent_field_name(fl), "kind", "indexed"));
        }
        json_object_set_new(types, ent_type_name(t), crc == ENT_CORRUPT ? json_pack("{s:n,s:o}", "count", "indexes", idx)
                                                                         : json_pack("{s:I,s:o}", "count", (json_int_t)n, "indexes", idx));
    }
    if (ent_log_bounds(&first, &last, s, NULL) != ENT_OK || ent_sub_list(&list, &nsubs, s) != ENT_OK) rc = fail("stat");
    subs = json_array();
    for (size_t i = 0; i < nsubs; i++)
        json_array_append_new(subs, json_pack("{s:s,s:I,s:I}", "name", list[i].name, "checkpoint", (json_int_t)list[i].checkpoint,
                                              "lag", (json_int_t)(last > list[i].checkpoint ? last - list[i].checkpoint : 0)));
    free(list);
    json_object_set_new(o, "id", json_string(ent_store_id(s)));
    if (ent_store_mirror_of(s)) {
        uint64_t applied = 0;
        /* a damaged position is named, not printed as 0 */
        if (ent_mirror_position(&applied, NULL, s) != ENT_OK) rc = fail("stat");
        json_object_set_new(o, "mirror_of", json_pack("{s:s,s:I}", "primary", ent_store_mirror_of(s), "applied_seq", (json_int_t)applied));
    }
    /* a version is up to 2^32-1: as an int, one above 2^31-1 printed negative */
    json_object_set_new(o, "schema", json_pack("{s:s,s:I}", "name", ent_schema_name(sc), "version", (json_int_t)ent_schema_version(sc)));
    json_object_set_new(o, "backend", json_string(ent_store_backend(s)));
    {
        static const char *modes[] = {"durable", "lazy", "none"};
        ent_durability d = ent_store_durability(s); /* read-only open: the mode stored in it */
        json_object_set_new(o, "durability", json_string(d >= ENT_DURABLE && d <= ENT_NONE ? modes[d] : "?"));
    }
    json_object_set_new(o, "types", types);
    json_object_set_new(o, "log", json_pack("{s:I,s:I}", "first_seq", (json_int_t)first, "last_seq", (json_int_t)last));
    json_object_set_new(o, "subscriptions", subs);
    {
        char p[4096];
        struct stat st;
        ent_store_info info;
        snprintf(p, sizeof p, "%s/data.mdb", store_dir);
        /* allocated blocks: LMDB's file may be sparse */
        if (stat(p, &st) == 0) json_object_set_new(o, "disk_bytes", json_integer((json_int_t)st.st_blocks * 512));
        if (ent_store_get_info(&info, s) == ENT_OK) {
            json_object_set_new(o, "used_bytes", json_integer((json_int_t)info.used_bytes));
            json_object_set_new(o, "map_size", json_integer((json_int_t)info.map_size));
        }
        /* a process holding an old snapshot keeps data.mdb growing under writes: who, and how old */
        ent_store_readers rd;
        if (ent_store_get_readers(&rd, s) == ENT_OK)
            json_object_set_new(o, "readers", json_pack("{s:I,s:I,s:I}", "count", (json_int_t)rd.readers, "oldest_behind",
                                                        (json_int_t)rd.oldest_behind, "oldest_pid", (json_int_t)rd.oldest_pid));
    }
    /* out of memory: jansson's calls then return NULL (or -1), and a part left out would print
     * as a store without it: nothing printed rather than a partial answer */
    j = o && types && subs && json_object_size(o) >= 7 && json_object_size(types) == ent_schema_type_count(sc)
            ? json_dumps(o, (isatty(1) ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER)
            : NULL;
    if (!rc && !j) rc = (msg("stat: out of memory"), 1);
    if (!rc) puts(j);
    free(j);
    json_decref(o);
    ent_store_close(s);
    return rc || damaged;
}

int cmd_trim(int argc, char **argv)
{
    uint64_t below = 0;
    int force = 0, have_below = 0, rc;
    ent_store *s = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--below") && i + 1 < argc) {
            if ((rc = parse_u64(&below, argv[++i], "--below"))) return rc;
            have_below = 1;
        } else if (!strcmp(argv[i], "--force")) force = 1;
        else return bad_word(argv[0], argv[i]);
    }
    if (!have_below) return missing(argv[0], "--below SEQ");
    if ((rc = open_store(&s, 0))) return rc;
    if ((rc = ent_log_truncate(s, below, force)) == ENT_CONFLICT && !force)
        /* a subscription that has not acknowledged what the trim would drop: the option that overrides */
        msg("trim: %s; --force trims anyway", ent_errmsg());
    rc = rc == ENT_OK ? 0 : rc == ENT_CONFLICT && !force ? 1 : fail("trim");
    ent_store_close(s);
    return rc;
}

/* Failover: the mirror at the store's directory made the primary (ent_mirror_promote()). One line
 * on stdout says what it became: the primary's id (its relay goes on in the primary's stream) and
 * the seq its log ends at. */
int cmd_promote(int argc, char **argv)
{
    ent_store *s = NULL;
    uint64_t seq = 0;
    char was[37];
    int rc, dur = ENT_DURABILITY_STORED;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--durability") && i + 1 < argc) {
            if ((rc = durability_arg(&dur, argv[++i]))) return rc;
        } else return bad_word(argv[0], argv[i]);
    }
    if ((rc = open_store(&s, 0))) return rc;
    snprintf(was, sizeof was, "%s", ent_store_id(s));
    if (ent_mirror_promote(s, dur, &seq) != ENT_OK) rc = fail("promote");
    else {
        char line[256];
        snprintf(line, sizeof line, "promoted: store %s (the primary's id; it was mirror %s), log at seq %" PRIu64
                 ", new writes from seq %" PRIu64, ent_store_id(s), was, seq, seq + 1);
        out_line(line);
    }
    ent_store_close(s);
    return rc;
}

/* Is there no store at dir, or an empty one? Checked before opening it with the source's schema,
 * which would evolve a store that the replay then refuses. Prints why not. */
static int dest_is_empty(const char *dir)
{
    ent_store *x = NULL;
    ent_store_opts ro = ENT_STORE_OPTS_INIT;
    uint64_t last = 0, n = 0;
    const ent_schema *sc;
    int empty = 1;
    ro.read_only = 1;
    if (ent_store_open(&x, dir, NULL, &ro) != ENT_OK) {
        /* None there: it is created, in a new or empty directory only (a store made among other
         * files goes with them when the replay is removed, as a copy's would: ent_store_copy).
         * A data.mdb that did not open is the open's to name. */
        DIR *d = opendir(dir);
        struct dirent *de;
        const char *other = NULL;
        while (d && (de = readdir(d)) && !other) {
            if (!strcmp(de->d_name, "data.mdb")) break;
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) other = de->d_name;
        }
        if (other) msg("replay: %s is not empty: it holds %s (a replay builds a new store in a new or empty directory)", dir, other);
        if (d) closedir(d);
        return !other;
    }
    sc = ent_store_schema(x);
    if (ent_log_bounds(NULL, &last, x, NULL) != ENT_OK || last > 0) empty = 0;
    for (size_t i = 0; empty && i < ent_schema_type_count(sc); i++)
        if (ent_count(&n, x, NULL, ent_schema_type_at(sc, i)) != ENT_OK || n > 0) empty = 0;
    ent_store_close(x);
    if (!empty) {
        /* A replay killed before its end left it: the open for writing refuses it, saying so.
         * Without a schema it evolves nothing. */
        x = NULL;
        if (ent_store_open(&x, dir, NULL, NULL) == ENT_CORRUPT) msg("replay: %s", ent_errmsg());
        else msg("replay: %s holds a store that is not empty; replay builds a new store", dir);
        ent_store_close(x);
    }
    return empty;
}

/* A signal during one long library call that cannot stop at a clean point (a replay): the handler
 * says what the call leaves (write() only, a message made before), then the signal kills as
 * before. */
static char cut_msg[4400];
static volatile sig_atomic_t cut_len; /* read by the handler */

static void on_signal_cut(int sig)
{
    ssize_t w = write(STDERR_FILENO, cut_msg, (size_t)cut_len);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void say_when_cut(const char *text)
{
    size_t i = 0;
    /* one line, as msg() writes it: control characters of a directory name as '?' */
    for (const char *p = "entity: "; *p && i < sizeof cut_msg - 2; p++) cut_msg[i++] = *p;
    for (const char *p = text; *p && i < sizeof cut_msg - 2; p++)
        cut_msg[i++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    cut_msg[i++] = '\n';
    cut_len = (sig_atomic_t)i;
    catch_stops(on_signal_cut);
}

/* The last seq of d's log that is src's event (a replay's copy): ent_store_replay() raises the id
 * counters to src's at the end, in events of d's own (ENT_OP_LAST_ID), when what it replayed
 * left them lower (--to: ids src gave out after it). *own: how many such events follow. */
static uint64_t replayed_upto(ent_store *d, ent_store *s, uint64_t last, uint64_t *own)
{
    *own = 0;
    for (; last; last--, ++*own) {
        ent_event *a = NULL, *b = NULL;
        int same;
        if (ent_log_get(&a, d, NULL, last) != ENT_OK) break;
        same = a->op != ENT_OP_LAST_ID || (ent_log_get(&b, s, NULL, last) == ENT_OK && b->op == a->op && b->ts == a->ts &&
                                           b->txn == a->txn && b->key.id == a->key.id);
        ent_event_free(a);
        ent_event_free(b);
        if (same) break;
    }
    return last;
}

int cmd_replay(int argc, char **argv)
{
    const char *into = NULL;
    uint64_t to = 0, src_last = 0;
    ent_store *s = NULL, *d = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    int rc, dest_existed = 0, dest_had_store = 0, nothing_written = 0, opened = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--into") && i + 1 < argc) into = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            if ((rc = parse_u64(&to, argv[++i], "--to"))) return rc;
            /* 0 is the library's "no bound": --to 0 replayed the whole log, not none of it */
            if (to == 0) return (msg("replay: --to 0 would replay no event (seqs start at 1); leave --to out to replay them all"), 2);
        } else return bad_word(argv[0], argv[i]);
    }
    if (into && !*into) return (msg("replay needs a directory: --into DIR"), usage());
    if (!into) return missing(argv[0], "--into DIR");
    if ((rc = open_store(&s, 1))) return rc;
    if (!dest_is_empty(into)) {
        ent_store_close(s);
        return 1;
    }
    {
        /* The source itself (an empty one: a store with entities or events is not empty, above),
         * by its path or another: the open for writing below was refused as "already open
         * read-only in this process", which named no mistake of the user's. */
        struct stat a, b;
        if (stat(store_dir, &a) == 0 && stat(into, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            msg("replay: %s is the source store itself; replay builds a new store from its log (--into another directory)", into);
            ent_store_close(s);
            return 1;
        }
    }
    {
        /* A log trimmed below seq 1 cannot be replayed: said before the destination is made (the
         * replay's own refusal came after, and left an empty store there that check called sound) */
        uint64_t first = 0;
        if (ent_log_bounds(&first, &src_last, s, NULL) != ENT_OK) rc = fail("replay");
        else if (first > 1)
            rc = (msg("replay: the source log was truncated below %llu; it cannot be replayed from seq 1", (unsigned long long)first), 1);
        if (rc) {
            ent_store_close(s);
            return rc;
        }
    }
    {
        /* what DEST was, to leave it so when the replay refuses before it writes an event */
        struct stat st;
        char data[4200];
        snprintf(data, sizeof data, "%s/data.mdb", into);
        dest_existed = stat(into, &st) == 0;
        dest_had_store = stat(data, &st) == 0;
    }
    if (ent_store_open(&d, into, ent_store_schema(s), &o) != ENT_OK) rc = fail(into);
    else {
        opened = 1;
        progress("", 0, 0);
        ent_store_set_progress(s, lib_progress, NULL);
        {
            /* killed, it left a store that check calls damaged (unique indexes are built at the
             * end) and that a second replay refuses, without a word */
            char text[4300];
            snprintf(text, sizeof text,
                     "replay: interrupted: %s holds a partial replay (check finds it damaged); remove it before replaying again", into);
            say_when_cut(text);
        }
        int rrc = ent_store_replay(d, s, to);
        cut_len = 0; /* done: a signal from here on has nothing to add */
        progress("", 0, 2);
        if (rrc != ENT_OK) {
            uint64_t last = 0;
            rc = fail("replay");
            /* What was committed stays (ent_store_replay()): a store that looks whole and that a
             * second replay refuses as not empty. Say so. */
            if (ent_log_bounds(NULL, &last, d, NULL) == ENT_OK && last > 0)
                msg("replay: %s holds a partial replay, up to seq %llu; remove it before replaying again", into,
                    (unsigned long long)last);
            else if (ent_log_bounds(NULL, &last, d, NULL) == ENT_OK)
                nothing_written = 1;
        } else if (to) {
            /* The store made is not the source at --to when --to cuts a transaction (left out
             * whole: the source never had half of it) or lies past the log: said with the seq
             * the new log ends at (it said nothing; --to 2 inside a batch of 3 made an empty store). */
            uint64_t last = 0, own = 0;
            const char *raised = ", then its id counters raised to the source's (ids given out after it), in events of its own";
            if (ent_log_bounds(NULL, &last, d, NULL) != ENT_OK) rc = fail("replay");
            else if ((last = replayed_upto(d, s, last, &own)) < to && last >= src_last)
                msg("replay: --to %llu is past the log's last seq: %s holds the log up to seq %llu%s", (unsigned long long)to,
                    into, (unsigned long long)last, own ? raised : "");
            else if (last < to)
                msg("replay: seq %llu lies inside a transaction, left out whole: %s holds the log up to seq %llu%s",
                    (unsigned long long)to, into, (unsigned long long)last, own ? raised : "");
        }
    }
    ent_store_close(d);
    ent_store_close(s);
    /* A replay refused before its first event (the source's log damaged, say) left an empty store
     * at DEST, made by its open: a failed command leaves DEST as it found it (no directory, or an
     * empty one; dest_is_empty() let nothing else through). An empty store that was there stays. */
    if (rc && (nothing_written || !opened) && !dest_had_store) {
        if (dest_existed) remove_made_files(into);
        else remove_made_dir(into);
    }
    return rc;
}

/* copy DEST [--compact] */
int cmd_copy(int argc, char **argv)
{
    ent_store *s = NULL;
    const char *dest = NULL;
    int compact = 0, rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--compact")) compact = 1;
        else if (!dest && !is_option(argv[i])) dest = argv[i];
        else return bad_word(argv[0], argv[i]);
    }
    if (dest && !*dest) return (msg("copy needs a directory: copy DEST"), usage());
    if (!dest) return missing(argv[0], "DEST");
    if ((rc = open_store(&s, 1))) return rc;
    rc = ent_store_copy(s, dest, compact) == ENT_OK ? 0 : fail("copy");
    ent_store_close(s);
    return rc;
}
