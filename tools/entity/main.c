/* entity — the command-line tool: options, dispatch, and the read commands (schema, get, ls, count).
 * A thin client of the public API: it opens any store with the schema stored inside it. */
#include <entity/entity.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *store_dir;
const char *prog_name = "entity";

void put_line(FILE *f, const char *s)
{
    /* One line, whatever the text holds: names read from a damaged store may carry newlines. */
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('\n', f);
}

void msg(const char *fmt, ...)
{
    char buf[2048], *all = NULL;
    va_list ap, again;
    int n;
    va_start(ap, fmt);
    va_copy(again, ap);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf && (all = malloc((size_t)n + 1)) && vsnprintf(all, (size_t)n + 1, fmt, again) == n) {
        /* Too long: its start and its end, as ent_errmsg() keeps them. The cause comes last, and
         * cut at the end, a store path of 2 kB or more ("DIR: DIR: no store at DIR") said nothing
         * of why the command failed. */
        static const char cut[] = " [...] ";
        size_t tail = 640, head = sizeof buf - 1 - (sizeof cut - 1) - tail;
        const char *t = all + n - tail;
        while (head > 0 && ((unsigned char)all[head] & 0xC0) == 0x80) head--; /* whole UTF-8 characters */
        while (((unsigned char)*t & 0xC0) == 0x80) t++;
        memcpy(buf + head, cut, sizeof cut - 1);
        memmove(buf + head + sizeof cut - 1, t, (size_t)(all + n - t) + 1);
    }
    va_end(again);
    free(all);
    fputs("entity: ", stderr);
    put_line(stderr, buf);
}

/* The errno of the first failed write to stdout: stdio keeps only an error flag, and errno read
 * at the end was stale ("Connection timed out") or 0. */
static int out_errno;

void out_line(const char *s)
{
    if (puts(s) == EOF && !out_errno) out_errno = errno;
}

int out_failed(void)
{
    static int said;
    errno = 0;
    if (fflush(stdout) == EOF && !out_errno) out_errno = errno;
    if (!ferror(stdout)) return 0;
    if (!said++) msg("writing the output: %s", out_errno ? strerror(out_errno) : "a write failed");
    return 1;
}

int fail(const char *what) /* a library failure: exit 1 */
{
    const char *m = ent_errmsg()[0] ? ent_errmsg() : "failed";
    size_t n = strlen(what), head = 384;
    const char *tail;
    if (n <= 2 * head + 64) {
        msg("%s: %s", what, m);
        return 1;
    }
    /* A store path of kilobytes cut in its middle: the library's message after it names the
     * path again (itself cut to its start and end), and with both whole the cause between them
     * was cut from the line ("DIR: no store at DIR" said only DIR). */
    tail = what + n - head;
    while (head > 0 && ((unsigned char)what[head] & 0xC0) == 0x80) head--; /* whole UTF-8 characters */
    while (((unsigned char)*tail & 0xC0) == 0x80) tail++;
    msg("%.*s [...] %s: %s", (int)head, what, tail, m);
    return 1;
}

static const char usage_text[] =
    "usage: entity [-s DIR | --store DIR] COMMAND [ARGS]\n"
    "commands:\n"
    "  demo                                  create a demo shop store and show what happened\n"
    "  init --schema FILE|- [--durability durable|lazy|none]\n"
    "  schema [--apply FILE|-]               print the stored schema, or evolve it\n"
    "  stat                                  counts, indexes, log, subscriptions, disk use\n"
    "  put TYPE [--key K] [--expect-version V] [--max-input BYTES] [JSON|-]\n"
    "           [--wait SUB [--wait-timeout MS]]\n"
    "                                        JSON from stdin: at most 256 MiB unless --max-input raises it\n"
    "  patch TYPE KEY [--expect-version V] [--max-input BYTES] [JSON|-]\n"
    "                 [--wait SUB [--wait-timeout MS]]\n"
    "                                        an object: RFC 7396 merge patch; an array: RFC 6902 JSON Patch\n"
    "  get TYPE KEY\n"
    "  rm TYPE KEY [--expect-version V] [--wait SUB [--wait-timeout MS]]\n"
    "                                        put, patch, rm --wait: exit 0 once subscription SUB (the relay's:\n"
    "                                        relay) acknowledged the write; 1 after MS (default 10000), written\n"
    "  ls TYPE [--limit N] [--after KEY] [--reverse]   entities in key order (NDJSON)\n"
    "  count TYPE\n"
    "  find TYPE FIELD VALUE [--limit N] | find TYPE FIELD [--from A] [--to B] [--limit N] [--reverse]\n"
    "  events [--from SEQ] [--limit N] [--type T] [--op OP] [--follow]\n"
    "  subs | subs add NAME [--from-now] | subs rm NAME | subs read NAME [--limit N] | subs ack NAME SEQ | subs wait NAME SEQ [--timeout MS]\n"
    "  dump [TYPE...] | load [--batch N] [--overwrite] [--max-line BYTES]\n"
    "                                        entity NDJSON out / in; a line up to 256 MiB (--max-line: an entity may reach 4 GiB)\n"
    "  check                                 verify the store; prints each problem, or ok\n"
    "  replay --into DIR [--to SEQ]          build a new store from the log\n"
    "  trim --below SEQ [--force]            drop old events\n"
    "  copy DEST [--compact]                 a consistent copy of a live store\n"
    "  relay --nats URL --stream NAME [--once] [--window N]\n"
    "                                 [--tlsca FILE] [--tlscert FILE --tlskey FILE] [--tls-hostname NAME] [--nkey SEEDFILE | --creds FILE]\n"
    "                                        publish the log to a NATS JetStream stream, exactly once\n"
    "  mirror --nats URL --stream NAME [--once] [--primary ID] [--durability durable|lazy|none]\n"
    "                                  [--tlsca FILE] [--tlscert FILE --tlskey FILE] [--tls-hostname NAME] [--nkey SEEDFILE | --creds FILE]\n"
    "                                        keep the store at DIR a mirror of the stream's primary\n"

    "  promote [--durability durable|lazy|none]\n"
    "                                        make the mirror at DIR the primary (failover)\n"
    "  serve [--listen ADDR:PORT] [--token-file F] [--read-only] [--max-body BYTES] [--allow-host NAME[,NAME]]\n"
    "        [--max-clients N] [--max-streams-per-address N] [--request-timeout SECONDS]\n"
    "        [--client-buffer BYTES] [--heartbeat SECONDS] [--wait SUB] [--wait-timeout MS]\n"
    "                                        HTTP JSON API, event stream and a page (README)\n"
    "  bench [--n N] [--runs R] [--quick] [--json] [--plain] [--threads] [--backend memory|lmdb]\n"
    "        [--durability durable|lazy|none] [--batch 1|1000] [--dir DIR] [--cpu-clock]\n"
    "                                        measure CRUD and log costs against raw LMDB and SQLite\n"
    "the store is -s DIR, else $ENTITY_STORE, else ./entity-store\n";

static void usage_to(FILE *f) { fputs(usage_text, f); }

/* Where cmd starts an alternative of the usage line [line, line + len), at or after `from`: the
 * line starts with "  CMD " or holds "| CMD ". NULL when it does not. */
static const char *usage_find(const char *line, size_t len, const char *from, const char *cmd)
{
    size_t n = strlen(cmd);
    for (const char *p = from; n && p + n <= line + len; p++) {
        int starts = (p == line + 2 && line[0] == ' ' && line[1] == ' ') || (p >= line + 2 && p[-2] == '|' && p[-1] == ' ');
        if (starts && strncmp(p, cmd, n) == 0 && (p + n == line + len || p[n] == ' ')) return p;
    }
    return NULL;
}

/* Call each(line, len, payload) for every line of the usage text (without its newline). */
static void usage_lines(void (*each)(const char *line, size_t len, void *payload), void *payload)
{
    for (const char *line = usage_text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        each(line, len, payload);
        line += len + (end ? 1 : 0);
    }
}

struct usage_q {
    const char *cmd;
    int found;
    int more; /* the line before was the command's: its continuation lines are too */
};

static const char help_prefix[] = "usage: entity [-s DIR | --store DIR] ";

/* What the command does, on a line of its own under its usage, indented by two. */
static void help_desc(const char *d, size_t len)
{
    while (len && *d == ' ') d++, len--;
    if (len) printf("  %.*s\n", (int)len, d);
}

static void help_line(const char *line, size_t len, void *payload)
{
    struct usage_q *q = payload;
    size_t indent = strspn(line, " ");
    const char *desc;
    /* a usage too long for one line goes on in lines indented deeper (more options, then what
     * it does): they belong to the command (serve --help lacked all but its first line). The
     * list's columns do not fit under "usage: entity ...": more options go under the command's
     * first option (they stood 35 columns left of it), what it does under the usage line. */
    if (q->more && len > 3 && indent > 2 && indent < len) {
        if (line[indent] == '[') printf("%*s%.*s\n", (int)(sizeof help_prefix - 1 + indent - 2), "", (int)(len - indent), line + indent);
        else help_desc(line + indent, len - indent);
        return;
    }
    q->more = 0;
    if (!usage_find(line, len, line, q->cmd)) return;
    if (!q->found++) printf("%s", help_prefix);
    /* a description on the usage line itself, after two blanks or more ("demo   create ..."):
     * on its own line too, so that every command's --help reads alike */
    desc = strstr(line + 2, "  ");
    if (desc && desc < line + len) {
        printf("%.*s\n", (int)(desc - line - 2), line + 2);
        help_desc(desc, len - (size_t)(desc - line));
    } else {
        printf("%.*s\n", (int)(len - 2), line + 2);
    }
    q->more = 1;
}

/* The commands of an optional component this build lacks (the last row ends the table): what
 * the build has no support for, and how to get it. Such a command's usage is still the tool's:
 * --help shows it and wrong usage is told as elsewhere (cmd_unbuilt()); a run exits 1. It exited
 * 1 whatever its words, --help and a misspelt option too. */
static const struct unbuilt {
    const char *cmd, *what, *how;
} unbuilt[] = {
#ifndef ENT_HAVE_NATS
    {"relay", "NATS", "install libnats-dev (the NATS C client) and build entity again (CMake option ENT_NATS, on by default)"},
    {"mirror", "NATS", "install libnats-dev (the NATS C client) and build entity again (CMake option ENT_NATS, on by default)"},
#endif
#ifndef ENT_HAVE_HTTP
    {"serve", "HTTP", "install libmicrohttpd-dev and build entity again (CMake option ENT_HTTP, on by default)"},
#endif
    {NULL, NULL, NULL},
};

static const struct unbuilt *unbuilt_command(const char *cmd)
{
    for (const struct unbuilt *u = unbuilt; u->cmd; u++)
        if (!strcmp(u->cmd, cmd)) return u;
    return NULL;
}

/* `entity COMMAND --help`: the usage lines of that command, then where the store is. Returns 0,
 * or 2 for an unknown command. */
static int command_help(const char *cmd)
{
    struct usage_q q = {cmd, 0, 0};
    const struct unbuilt *u = unbuilt_command(cmd);
    usage_lines(help_line, &q);
    if (!q.found) {
        msg("unknown command %s", cmd);
        return usage();
    }
    printf("the store is -s DIR, else $ENTITY_STORE, else ./entity-store\n");
    if (u) printf("%s is not in this build of entity: it has no %s support; to get it, %s\n", cmd, u->what, u->how);
    return 0;
}

static const char *current_cmd; /* the command being run, for usage() */

static void help_line_probe(const char *line, size_t len, void *payload)
{
    struct usage_q *q = payload;
    if (usage_find(line, len, line, q->cmd)) q->found = 1;
}

static void usage_line(const char *line, size_t len, void *payload)
{
    struct usage_q *q = payload;
    size_t indent = strspn(line, " ");
    /* more options of the command on a deeper-indented line (serve's told of none of them); a
     * description there is left for --help */
    if (q->more && indent > 2 && indent < len && line[indent] == '[') {
        /* under the command's first option, as --help puts them: "entity [-s DIR] " and the
         * command's part before that option */
        fprintf(stderr, "entity: usage: %*s%.*s\n", (int)(sizeof "entity [-s DIR] " - 1 + indent - 2), "", (int)(len - indent),
                line + indent);
        return;
    }
    q->more = 0;
    for (const char *p = usage_find(line, len, line, q->cmd); p; p = usage_find(line, len, p + 1, q->cmd)) {
        /* the command's own part: up to the next " | " alternative or the two spaces before a
         * description */
        const char *stop = strstr(p, " | "), *desc = strstr(p, "  ");
        size_t l;
        if (desc && (!stop || desc < stop)) stop = desc;
        l = stop && stop < line + len ? (size_t)(stop - p) : (size_t)(line + len - p);
        while (l && p[l - 1] == ' ') l--;
        fprintf(stderr, "entity: usage: entity [-s DIR] %.*s\n", (int)l, p);
        q->found = 1;
        q->more = p + l == line + len; /* the line's last alternative goes on below */
    }
}

/* Wrong usage: one "entity: usage: ..." line per usage line of the current command (every line on
 * stderr starts with "entity: "), or a pointer to --help. Returns 2. */
int usage(void)
{
    struct usage_q q = {current_cmd, 0, 0};
    if (current_cmd) usage_lines(usage_line, &q);
    if (!q.found) fprintf(stderr, "entity: usage: entity [-s DIR | --store DIR] COMMAND [ARGS]; entity --help lists the commands\n");
    return 2;
}

int missing(const char *cmd, const char *what)
{
    msg("%s needs %s", cmd, what);
    return usage();
}

int open_store(ent_store **out, int read_only)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.read_only = read_only;
    o.no_create = 1;
    if (ent_store_open(out, store_dir, NULL, &o) != ENT_OK) return fail(store_dir);
    return 0;
}

int parse_key_quiet(ent_key *out, const ent_type *t, const char *text)
{
    if (ent_type_key(t) == ENT_KEY_AUTO) {
        char *end;
        unsigned long long id;
        errno = 0;
        id = strtoull(text, &end, 10);
        if (!isdigit((unsigned char)text[0]) || *end || errno) return 1;
        *out = ent_key_id(id);
        return 0;
    }
    *out = ent_key_str(text);
    return 0;
}

int parse_key(ent_key *out, const ent_type *t, const char *text)
{
    if (!parse_key_quiet(out, t, text)) return 0;
    msg("%s: key \"%s\" is not an id", ent_type_name(t), text);
    return 1;
}

int print_entity(const ent_entity *e, unsigned flags)
{
    char *j = NULL;
    if (ent_entity_to_json(&j, e, ENT_JSON_ENTITY | flags) != ENT_OK) return fail("printing");
    out_line(j);
    free(j);
    return 0;
}

const ent_type *type_arg(ent_store *s, const char *name)
{
    const ent_type *t = ent_store_type(s, name);
    if (!t) msg("unknown type \"%s\"", name);
    return t;
}

static int cmd_schema(void)
{
    ent_store *s;
    char *j = NULL;
    int rc = open_store(&s, 1);
    if (rc) return rc;
    if (ent_schema_to_json(&j, ent_store_schema(s), isatty(1)) != ENT_OK) rc = fail("schema");
    else puts(j);
    free(j);
    ent_store_close(s);
    return rc;
}

static int cmd_get(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    ent_entity *e = NULL;
    ent_key k;
    int rc;
    if (argc < 3) return missing(argv[0], argc < 2 ? "TYPE and KEY" : "KEY");
    if (argc > 3) return bad_word(argv[0], argv[3]);
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1])) || parse_key(&k, t, argv[2])) rc = 1;
    else if (ent_get(&e, s, NULL, t, &k) != ENT_OK) rc = fail("get");
    else rc = print_entity(e, isatty(1) ? ENT_JSON_PRETTY : 0);
    ent_entity_free(e);
    ent_store_close(s);
    return rc;
}

/* ls TYPE [--limit N] [--after KEY] [--reverse] */
static int cmd_ls(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    ent_iter *it = NULL;
    ent_txn *r = NULL;
    ent_entity *e;
    ent_range_opts o = ENT_RANGE_OPTS_INIT;
    const char *after = NULL;
    ent_key start;
    uint64_t printed = 0, damaged = 0;
    int rc, limit_zero = 0, unprinted = 0;
    if (argc < 2) return missing(argv[0], "TYPE");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if ((rc = parse_u64(&o.limit, argv[++i], "--limit"))) return rc;
            limit_zero = o.limit == 0; /* prints nothing, as head -n 0 does */
        } else if (!strcmp(argv[i], "--after") && i + 1 < argc) after = argv[++i];
        else if (!strcmp(argv[i], "--reverse")) o.flags |= ENT_ITER_REVERSE;
        else return bad_word(argv[0], argv[i]);
    }
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1])) || (after && parse_key(&start, t, after))) rc = 1;
    else if (ent_txn_begin(&r, s, ENT_TXN_READ) != ENT_OK) rc = fail("ls");
    else {
        /* --after is exclusive: scan from the key and skip it; the limit is applied here. */
        uint64_t limit = o.limit;
        o.limit = 0;
        ent_entity *at = NULL;
        /* A damaged record at the --after key itself is not listed, so not named either: the
         * scan's first entry is then that one (read in the same snapshot). */
        int skip_first = after && ent_get(&at, s, r, t, &start) == ENT_CORRUPT;
        ent_entity_free(at);
        if (ent_scan(&it, s, r, t, after ? &start : NULL, &o) != ENT_OK) rc = fail("ls");
        else if (skip_first && (rc = ent_iter_next(&e, it)) != ENT_CORRUPT) {
            if (rc == ENT_OK) ent_entity_free(e); /* it is the --after key's entity: never listed */
            rc = rc == ENT_OK ? 1 : fail("ls");
            if (rc == 1) msg("ls: --after %s: the store changed under its snapshot", after);
        } else {
            while (!limit_zero && (!limit || printed < limit) && (rc = next_sound(&e, it, "ls", &damaged)) == ENT_OK) {
                ent_key k = ent_entity_key(e);
                int same = after && k.kind == start.kind &&
                           (k.kind == ENT_KEY_AUTO ? k.id == start.id : k.len == start.len && !memcmp(k.str, start.str, k.len));
                unprinted = !same && print_entity(e, 0);
                ent_entity_free(e);
                if (unprinted) break; /* exit 1: a listing short of an entity is not a listing */
                printed += !same;
            }
            rc = unprinted ? 1 : rc == ENT_NOTFOUND || rc == ENT_OK ? 0 : fail("ls");
            if (!unprinted && damaged_left_out("ls", damaged)) rc = 1;
        }
    }
    ent_iter_free(it);
    ent_txn_abort(r);
    ent_store_close(s);
    return rc;
}

static int cmd_count(int argc, char **argv)
{
    ent_store *s;
    const ent_type *t;
    uint64_t n = 0;
    int rc;
    if (argc < 2) return missing(argv[0], "TYPE");
    if (argc > 2) return bad_word(argv[0], argv[2]);
    if ((rc = open_store(&s, 1))) return rc;
    if (!(t = type_arg(s, argv[1]))) rc = 1;
    else if (ent_count(&n, s, NULL, t) != ENT_OK) rc = fail("count");
    else printf("%llu\n", (unsigned long long)n);
    ent_store_close(s);
    return rc;
}

/* The benchmark is its own program (entity-bench), so this tool needs neither SQLite nor the
 * benchmark's code. It is looked for next to this binary first (a build tree, or an install that
 * moved), then where it is installed. argv is the command line from "bench" on. */
static int run_bench(char **argv)
{
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof "entity-bench");
    if (n > 0) {
        char *slash;
        path[n] = '\0';
        if ((slash = strrchr(path, '/'))) {
            strcpy(slash + 1, "entity-bench");
            argv[0] = path;
            execv(path, argv);
        }
    }
    argv[0] = (char *)ENT_BENCH_INSTALLED;
    execv(ENT_BENCH_INSTALLED, argv);
    msg("bench: cannot run entity-bench (%s): it is built only where SQLite is found", strerror(errno));
    return 1;
}

static int dispatch(int argc, char **argv);

/* The last backstop for a damaged page of an ordinary table (a type's records, an index, the
 * log): LMDB trusts its file, and a flipped byte in a page header or a node (a bound, a size, a
 * child's page number) makes its cursors read outside the map (SIGSEGV, SIGBUS) or fail one of its
 * assertions (SIGABRT, after its "Assertion ... failed" line). `check` walks every page with pread
 * first and names such damage, and every open walks the main table's and the small tables' pages
 * the same way; the other commands read through LMDB, and walking the whole store before each of
 * them would cost what `check` costs. So a command that meets such a page dies here instead, as
 * one line that names the store and the way to find out, exit 1.
 * Nothing committed is lost by it: LMDB writes a transaction's pages as copies, never over the
 * pages of the last commit, and the meta page that makes them current last, so a process that
 * stops at any instant leaves the store as its last commit left it (what the crash tests kill
 * processes to check). The handler adds no write to the store's files: write(2) and _exit only
 * (async-signal-safe), what a kill at that instant would have left. The tool only: a host's
 * process, and its signals, are its own, and the library never installs a handler.
 * The line is built before any store is opened (the handler cannot format or allocate). */
static char crash_head[64], crash_tail[24576];
static size_t crash_head_len, crash_tail_len;
static char crash_stack[1 << 16]; /* a fault of a stack run out still gets its line */

static void crash_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, p, n);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void on_crash(int sig)
{
    const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "SIGABRT";
    size_t n = 0;
    while (name[n]) n++;
    crash_write(crash_head, crash_head_len);
    crash_write(name, n);
    crash_write(crash_tail, crash_tail_len);
    _exit(1);
}

/* Copies s into out (size > 0) with control characters as \xNN, as put_line() shows them. */
static void escape_into(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s && n + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else out[n++] = (char)c;
    }
    out[n] = '\0';
}

/* s as one shell word, into out (size > 0): as it is when it holds only characters no shell takes
 * for syntax; else in single quotes, a quote as '\'' ; one with control characters as $'...' with
 * \xNN (bash, zsh, ksh, dash 0.5.12). A path with a space or a quote in the crash line's command
 * could not be pasted: the shell split it, or waited for the quote's end. Returns 0, or -1 when
 * out is too small (nothing is better than a wrong command). */
int shell_word(char *out, size_t size, const char *s)
{
    size_t n = 0;
    int plain = *s != '\0', ctl = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("_./,:@%+=-", c))) plain = 0;
        if (c < 0x20 || c == 0x7f) ctl = 1;
    }
    if (plain) return snprintf(out, size, "%s", s) < (int)size ? 0 : -1;
    if (ctl && n + 2 < size) out[n++] = '$';
    if (n + 1 < size) out[n++] = '\'';
    for (; *s && n + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (ctl && (c < 0x20 || c == 0x7f)) n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else if (ctl && (c == '\\' || c == '\'')) out[n++] = '\\', out[n++] = (char)c;
        else if (c == '\'') memcpy(out + n, "'\\''", 4), n += 4;
        else out[n++] = (char)c;
    }
    if (*s || n + 2 > size) return -1;
    out[n++] = '\'';
    out[n] = '\0';
    return 0;
}

static void crash_backstop(const char *cmd)
{
    char dir[4096], c[40], word[16400];
    struct sigaction sa;
    stack_t ss;
    int sigs[] = {SIGSEGV, SIGBUS, SIGABRT};
    escape_into(c, sizeof c, cmd);
    escape_into(dir, sizeof dir, store_dir);
    snprintf(crash_head, sizeof crash_head, "entity: %s: ", c);
    /* the command quoted as a shell needs it, so that it can be pasted as it is */
    if (shell_word(word, sizeof word, store_dir)) snprintf(word, sizeof word, "DIR");
    snprintf(crash_tail, sizeof crash_tail,
             " with the store at %s open: a page of its data.mdb is likely damaged (LMDB follows its pages as "
             "they are); nothing committed is lost: run `entity -s %s check` to name the damage (if it says ok, "
             "this is a bug of entity's)\n",
             dir, word);
    crash_head_len = strlen(crash_head);
    crash_tail_len = strlen(crash_tail);
    ss.ss_sp = crash_stack;
    ss.ss_size = sizeof crash_stack;
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND; /* a fault in the handler itself: the default action */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

/* Descriptors 0-2 closed by the caller would be the store's: LMDB opened data.mdb on 2, and a
 * message then overwrote its meta page; output went into lock.mdb. Hold them with /dev/null,
 * opened the wrong way round (stdin for writing, stdout and stderr for reading) so that the
 * command still fails with EBADF where it would have, as coreutils' stdopen does. The LMDB backend
 * holds them the same way for any host; the tool does it first, before any output of its own, and
 * refuses to run when /dev/null cannot hold them. */
static int hold_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        int got;
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (got != fd) { /* the lowest free descriptor is fd: /dev/null is missing */
            if (fcntl(2, F_GETFD) != -1) msg("descriptor %d is closed, and /dev/null cannot hold it: %s", fd, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* "--help" after other words of a command ("entity ls product --help"), before a "--": that
 * command's usage. It was "unknown option --help" there, or, after an option that takes a value,
 * that value ("--after --help"): a name or key starting with '-' goes after "--", or as
 * --opt=VALUE. "-h" only right after the command: "find TYPE FIELD -h" looks up the string "-h". */
static int help_later(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

/* subs' subcommands are part of its name, so "-h" right after one is help too, as right after any
 * other command: `subs add -h` made a subscription named "-h". Such a name goes after "--" (`subs
 * add -- -h`), as get's KEY does. */
static int subs_help(int argc, char **argv)
{
    static const char *const subs[] = {"add", "rm", "read", "ack", "wait"};
    if (argc < 3 || strcmp(argv[0], "subs") || strcmp(argv[2], "-h")) return 0;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i])) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1, rc, store_given = 0;
    if (hold_std_fds()) return 1;
    if (argc > 0 && argv[0][0]) prog_name = argv[0];
    store_dir = getenv("ENTITY_STORE");
    if (!store_dir || !*store_dir) store_dir = "./entity-store";
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--store") == 0) && i + 1 < argc && argv[i + 1][0]) {
            if (store_given++) { /* the last one won: a write went to another store than the first named */
                msg("%s given twice (-s and --store name one store): give it once", argv[i]);
                return usage();
            }
            store_dir = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--store=", 8) == 0) { /* getopt_long's other spelling */
            if (!argv[i][8]) {
                msg("--store needs a directory: --store=DIR");
                return usage();
            }
            if (store_given++) {
                msg("--store given twice (-s and --store name one store): give it once");
                return usage();
            }
            store_dir = argv[i] + 8;
            i++;
        } else if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--store") == 0) {
            msg("%s needs a directory: %s DIR", argv[i], argv[i]); /* not "unknown option" */
            return usage();
        } else if (strcmp(argv[i], "--") == 0) {
            i++; /* the command follows, whatever it looks like */
            break;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("entity %s\n", ENT_VERSION_STRING);
            return out_failed();
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_to(stdout);
            return out_failed();
        } else {
            msg("unknown option %s", argv[i]);
            return usage();
        }
    }
    if (i >= argc) return usage();
    argc -= i;
    argv += i;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || help_later(argc, argv) || subs_help(argc, argv)))
        rc = command_help(argv[0]);
    else {
        crash_backstop(argv[0]);
        rc = dispatch(argc, argv);
    }
    /* Output that could not be written (a full disk, a closed pipe's EPIPE when SIGPIPE is
     * ignored) is a failure: a dump cut short must not exit 0. */
    return out_failed() ? 1 : rc;
}

/* Each command's options, for what the value of one may not be (below); an option added to a
 * command's parser (commands.c, serve.c, nats_cmds.c, ls here) goes here too. */
static const struct {
    const char *cmd, *opts; /* " --a --b ": each option between blanks */
} command_opts[] = {
    {"init", " --schema --durability "}, {"schema", " --apply "}, {"put", " --key --expect-version --max-input --wait --wait-timeout "},
    {"patch", " --expect-version --max-input --wait --wait-timeout "}, {"rm", " --expect-version --wait --wait-timeout "}, {"ls", " --limit --after --reverse "},
    {"find", " --from --to --limit --reverse "}, {"events", " --from --limit --type --op --follow "},
    {"subs", " --from-now --limit --timeout "}, {"load", " --batch --overwrite --max-line "}, {"replay", " --into --to "},
    {"trim", " --below --force "}, {"copy", " --compact "}, {"promote", " --durability "}, {"relay", " --nats --stream --once --window --tlsca --tlscert --tlskey --tls-hostname --nkey --creds "},
    {"mirror", " --nats --stream --once --primary --durability --tlsca --tlscert --tlskey --tls-hostname --nkey --creds "},
    {"serve", " --listen --token-file --read-only --max-body --allow-host --max-clients --max-streams-per-address "
              "--request-timeout --client-buffer --heartbeat --wait --wait-timeout "},
};

/* Whether word is one of cmd's options. */
static int command_has_option(const char *cmd, const char *word)
{
    size_t n = strlen(word);
    if (!is_option(word) || strchr(word, ' ')) return 0; /* the table's words are options, blank-free */
    for (size_t c = 0; c < sizeof command_opts / sizeof command_opts[0]; c++) {
        const char *p = command_opts[c].opts;
        if (strcmp(command_opts[c].cmd, cmd)) continue;
        while ((p = strstr(p + 1, word)))
            if (p[-1] == ' ' && p[n] == ' ') return 1;
    }
    return 0;
}

/* The options that take a value (every command's); --op and --allow-host, last, may repeat. */
static const char *const valued[] = {"--key", "--expect-version", "--max-input", "--schema", "--durability",
                                     "--from", "--to", "--limit", "--after", "--type", "--batch", "--max-line",
                                     "--below", "--into", "--nats", "--stream", "--primary", "--window", "--listen",
                                     "--token-file", "--max-body", "--client-buffer", "--heartbeat", "--max-clients",
                                     "--max-streams-per-address", "--request-timeout", "--apply", "--timeout", "--wait", "--wait-timeout",
                                     "--tlsca", "--tlscert", "--tlskey", "--tls-hostname", "--nkey", "--creds", "--op", "--allow-host"};

static int takes_value(const char *word)
{
    for (size_t v = 0; v < sizeof valued / sizeof valued[0]; v++)
        if (!strcmp(word, valued[v])) return 1;
    return 0;
}

/* The option part of "--opt=VALUE" into opt (size bytes), when it is one of cmd's; else 0. */
static int option_of_equals(char *opt, size_t size, const char *cmd, const char *word)
{
    const char *eq = strchr(word, '=');
    size_t n = eq ? (size_t)(eq - word) : 0;
    if (!eq || !is_option(word) || n >= size) return 0;
    memcpy(opt, word, n);
    opt[n] = 0;
    return command_has_option(cmd, opt);
}

/* The words of the command with each "--opt=VALUE" of one of its options that takes a value made
 * the two words "--opt" "VALUE", as getopt_long reads them (`ls T --limit=5` was wrong usage).
 * Before "--" only, and never the word after an option that takes a value: that word is its value
 * (`ls T --after --limit=5` lists after the key "--limit=5"). The array and its words live until
 * the process exits (static: reachable, not a leak). Returns argv itself when nothing is split,
 * NULL when out of memory. */
/* Which words of split_equals()'s array were the VALUE of an --opt=VALUE (NULL: none). */
static unsigned char *from_equals;

static char **split_equals(int *argc, char **argv)
{
    static char **words;
    static char *opts;
    size_t n = 0, used = 0, total = 0;
    int k = 0;
    char opt[64];
    for (int i = 1; i < *argc && strcmp(argv[i], "--"); i++) {
        if (takes_value(argv[i])) i++;
        else if (option_of_equals(opt, sizeof opt, argv[0], argv[i]) && takes_value(opt)) {
            n++;
            total += strlen(opt) + 1;
        }
    }
    if (!n) return argv;
    if (!(words = calloc((size_t)*argc + n + 1, sizeof *words)) || !(opts = malloc(total)) ||
        !(from_equals = calloc((size_t)*argc + n + 1, 1)))
        return NULL;
    words[k++] = argv[0];
    for (int i = 1; i < *argc; i++) {
        int value_next = 0;
        if (!strcmp(argv[i], "--")) { /* the rest as it is */
            while (i < *argc) words[k++] = argv[i++];
            break;
        }
        if (takes_value(argv[i])) value_next = 1;
        else if (option_of_equals(opt, sizeof opt, argv[0], argv[i]) && takes_value(opt)) {
            memcpy(opts + used, opt, strlen(opt) + 1);
            words[k++] = opts + used;
            used += strlen(opt) + 1;
            from_equals[k] = 1;
            words[k++] = strchr(argv[i], '=') + 1;
            continue;
        }
        words[k++] = argv[i];
        if (value_next && i + 1 < *argc) words[k++] = argv[++i];
    }
    *argc = k;
    return words;
}

int bad_word(const char *cmd, const char *word)
{
    char opt[64];
    if (command_has_option(cmd, word)) {
        msg("%s: %s needs a value", cmd, word); /* a flag is taken where it stands: only a valued one gets here */
    } else if (option_of_equals(opt, sizeof opt, cmd, word)) {
        msg("%s: %s takes no value (%s)", cmd, opt, word); /* one that takes a value was split */
    } else if (is_option(word)) {
        msg("%s: unknown option %s", cmd, word);
    } else {
        msg("%s: unexpected %s%s", cmd, *word ? "word " : "empty word", word);
    }
    return usage();
}

/* Whether the option at argv[i] stood before it as an option (not as an option's value), reading
 * the words as check_options() does. */
static int given_before(int i, char **argv)
{
    for (int j = 1; j < i; j++) {
        if (!strcmp(argv[j], argv[i])) return 1;
        if (takes_value(argv[j])) j++; /* its value, whatever it says */
    }
    return 0;
}

/* The words of a command read as the commands read them: an option that takes a value takes the
 * next word, and "--" ends the options (find's, put's and patch's operands follow it). Two
 * mistakes are refused there, before any command runs (returns 2 with a message, else 0):
 * - An option given twice. The last value won, without a word: put --key a --key b wrote entity
 *   b, trim --below 5 --below 500 dropped the events up to 500, events --type a --type b listed
 *   b's alone. --op and --allow-host add up, and may repeat. A flag given twice (ls --reverse
 *   --reverse) was taken as once: a second one undoes nothing (it does not toggle back), and a
 *   command line that says it twice is as likely a mistake as a valued one's.
 * - Its value one of the command's own options: ls --after --reverse listed after the key
 *   "--reverse", forward; the option's value had been left out. Any other word is a value, even
 *   one that starts with '-' (a key "-x", a number -5, an option of another command): keys and
 *   values may, and refusing them all (as argparse does) would leave such keys no way in. */
static int check_options(int argc, char **argv)
{
    enum { N = sizeof valued / sizeof valued[0], REPEATABLE = N - 2 }; /* the last two */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) { /* after "--", operands only */
        size_t v = 0;
        while (v < N && strcmp(argv[i], valued[v])) v++;
        if (v == N) { /* a flag of the command (another word is the command's to name) */
            if (command_has_option(argv[0], argv[i]) && given_before(i, argv)) {
                msg("%s: %s given twice: give it once", argv[0], argv[i]);
                return usage();
            }
            continue;
        }
        if (v < REPEATABLE && given_before(i, argv)) {
            msg("%s: %s given twice (the last one would win): give it once", argv[0], argv[i]);
            return usage();
        }
        /* --after=--reverse says which word is the value (the key "--reverse"), as getopt_long reads it */
        if (i + 1 < argc && command_has_option(argv[0], argv[i + 1]) && !(from_equals && from_equals[i + 1])) {
            msg("%s: %s needs a value, not the option %s after it", argv[0], argv[i], argv[i + 1]);
            return usage();
        }
        i++; /* its value */
    }
    return 0;
}

/* A command of a component this build lacks (unbuilt[]): its words checked as its parser would
 * as far as the tool knows them (each one of the command's options, a valued one with its value,
 * relay's and mirror's --nats and --stream given: exit 2 as in a full build), then exit 1 saying
 * what the build lacks and how to get it. The values themselves (a URL, a stream name, a number,
 * an address) are the component's to check, so their mistakes exit 1 here. */
static int cmd_unbuilt(int argc, char **argv)
{
    const struct unbuilt *u = unbuilt_command(argv[0]);
    int nats = 0, stream = 0;
    for (int i = 1; i < argc; i++) {
        if (!command_has_option(argv[0], argv[i]) || (takes_value(argv[i]) && i + 1 == argc))
            return bad_word(argv[0], argv[i]); /* an unknown option or word, an option without its value */
        nats |= !strcmp(argv[i], "--nats");
        stream |= !strcmp(argv[i], "--stream");
        if (takes_value(argv[i])) i++;
    }
    if (strcmp(argv[0], "serve") && (!nats || !stream)) /* as relay and mirror say it (nats_cmds.c) */
        return missing(argv[0], !nats && !stream ? "--nats URL and --stream NAME" : !nats ? "--nats URL" : "--stream NAME");
    msg("%s: this build of entity has no %s support; to get it, %s", argv[0], u->what, u->how);
    return 1;
}

/* The commands whose first word is a TYPE (find's second a FIELD). */
static const char *const named_first[] = {"put", "patch", "get", "rm", "ls", "count", "find"};

static int dispatch(int argc, char **argv)
{
    int rc;
    current_cmd = argv[0]; /* usage() shows its lines, if it is a command */
    if (strcmp(argv[0], "bench") == 0) return run_bench(argv); /* entity-bench's own options */
    if (!(argv = split_equals(&argc, argv))) return (msg("out of memory"), 1);
    if ((rc = check_options(argc, argv))) return rc;
    /* "get T -- K" as "find T F -- V" and "put T -- JSON": it was wrong usage for get and rm, and
     * patch took "--" for the key */
    if ((!strcmp(argv[0], "get") || !strcmp(argv[0], "rm") || !strcmp(argv[0], "patch")) && argc >= 3 &&
        !strcmp(argv[2], "--") && (rc = key_after_dashes(&argc, argv)))
        return rc;
    /* TYPE first, and find's FIELD after it: names never start with '-'. An option put before
     * them, as tools that permute their words take it, was read as the name: "ls --limit 1
     * product" said "unexpected word 1", "put --key k product {}" that product was a second JSON,
     * and "find --reverse product price" exited 1 on an unknown type "--reverse". */
    for (size_t c = 0; c < sizeof named_first / sizeof named_first[0]; c++) {
        if (strcmp(argv[0], named_first[c])) continue;
        for (int at = 1; at <= (strcmp(argv[0], "find") ? 1 : 2) && at < argc; at++) {
            if (is_option(argv[at]) || !strcmp(argv[at], "--")) {
                msg("%s: %s comes %s, not %s", argv[0], at == 1 ? "TYPE" : "FIELD",
                    at == 1 ? "first" : "after TYPE", argv[at]);
                return usage();
            }
        }
    }
    if (strcmp(argv[0], "copy") == 0) return cmd_copy(argc, argv);
    if (unbuilt_command(argv[0])) return cmd_unbuilt(argc, argv);
#ifdef ENT_HAVE_HTTP
    if (strcmp(argv[0], "serve") == 0) return cmd_serve(argc, argv);
#endif
#ifdef ENT_HAVE_NATS
    if (strcmp(argv[0], "relay") == 0) return cmd_relay(argc, argv);
    if (strcmp(argv[0], "mirror") == 0) return cmd_mirror(argc, argv);
#endif
    if (strcmp(argv[0], "demo") == 0 && argc == 1) return cmd_demo();
    if (strcmp(argv[0], "schema") == 0 && argc == 1) return cmd_schema();
    if (strcmp(argv[0], "schema") == 0 && argc == 3 && strcmp(argv[1], "--apply") == 0) return cmd_schema_apply(argv[2]);
    /* demo and schema with words they do not take: named, as the other commands name them */
    if (strcmp(argv[0], "demo") == 0) return bad_word(argv[0], argv[1]);
    if (strcmp(argv[0], "schema") == 0) return bad_word(argv[0], argc == 2 || strcmp(argv[1], "--apply") ? argv[1] : argv[3]);
    if (strcmp(argv[0], "init") == 0) return cmd_init(argc, argv);
    if (strcmp(argv[0], "put") == 0) return cmd_put(argc, argv);
    if (strcmp(argv[0], "patch") == 0) return cmd_patch(argc, argv);
    if (strcmp(argv[0], "rm") == 0) return cmd_rm(argc, argv);
    if (strcmp(argv[0], "find") == 0) return cmd_find(argc, argv);
    if (strcmp(argv[0], "subs") == 0) return cmd_subs(argc, argv);
    if (strcmp(argv[0], "dump") == 0) return cmd_dump(argc, argv);
    if (strcmp(argv[0], "load") == 0) return cmd_load(argc, argv);
    if (strcmp(argv[0], "check") == 0) return cmd_check(argc, argv);
    if (strcmp(argv[0], "stat") == 0) return cmd_stat(argc, argv);
    if (strcmp(argv[0], "trim") == 0) return cmd_trim(argc, argv);
    if (strcmp(argv[0], "promote") == 0) return cmd_promote(argc, argv);
    if (strcmp(argv[0], "replay") == 0) return cmd_replay(argc, argv);
    if (strcmp(argv[0], "get") == 0) return cmd_get(argc, argv);
    if (strcmp(argv[0], "ls") == 0) return cmd_ls(argc, argv);
    if (strcmp(argv[0], "count") == 0) return cmd_count(argc, argv);
    if (strcmp(argv[0], "events") == 0) return cmd_events(argc, argv);
    {
        /* a command of the usage text with the wrong arguments, or no command */
        struct usage_q q = {argv[0], 0, 0};
        usage_lines(help_line_probe, &q);
        if (!q.found) msg("unknown command %s", argv[0]);
        return usage();
    }
}
