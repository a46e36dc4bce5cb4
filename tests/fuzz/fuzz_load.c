/* Fuzz `entity load`: the real command (tools/entity/commands.c) reads the input as its stdin
 * into a fresh LMDB shop store, with a batch size of 1 to 4 taken from the input's length. An
 * input starting with "F\n" (no JSON line) loads the rest into a fleet store instead, whose refs
 * point at string keys (shop's all point at auto keys).
 * Properties: load exits 0 or 1, never crashes or leaks; when it exits 0 the store verifies clean
 * (every ref it let through points at an entity, indexes and log agree). After a load that exits 0
 * the same input is loaded again into the store it made (a load run twice, as after a kill): plain,
 * it writes no event (each entity is there at its line's version, or the line would move it back
 * and the load exits 1); with --overwrite (inputs of odd length / 4) it exits 0 or 1 and, after
 * 0, the store verifies clean too. A dump of format 2 (its first line the header) whose last
 * line is no end line (holds no "end", nor a backslash that could spell it) is refused, exit 1:
 * a dump cut short at a line's end loaded without a word. */
#include <dirent.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "cli.h"

static ent_schema *shop, *fleet;
static char dir[ENT_TEST_PATH_MAX];

/* Problems other than refs to missing entities (which a failed load may leave, see below). */
static void count_other(const char *line, void *payload)
{
    if (strstr(line, "refers to missing") || (strstr(line, "replay fails") && strstr(line, "does not exist"))) return;
    dprintf(2, "fuzz: load: verify: %s\n", line);
    ++*(uint64_t *)payload;
}

static void wipe_dir(void) { fuzz_dir_wipe(dir); }
static void remove_dir(void) { fuzz_dir_remove(dir); }

/* The store's last seq. */
static uint64_t last_seq(void)
{
    ent_store *s = NULL;
    uint64_t first = 0, last = 0;
    if (ent_store_open(&s, dir, NULL, NULL) != ENT_OK) FUZZ_CHECK(0, "store does not reopen after load");
    FUZZ_CHECK(ent_log_bounds(&first, &last, s, NULL) == ENT_OK, "log bounds: %s", ent_errmsg());
    ent_store_close(s);
    return last;
}

/* The id counter of each type of auto ids (at most 8 types; 0 for others). */
static void last_ids(uint64_t out[8])
{
    ent_store *s = NULL;
    if (ent_store_open(&s, dir, NULL, NULL) != ENT_OK) FUZZ_CHECK(0, "store does not reopen after load");
    const ent_schema *sc = ent_store_schema(s);
    for (size_t i = 0; i < ent_schema_type_count(sc) && i < 8; i++) {
        const ent_type *t = ent_schema_type_at(sc, i);
        if (ent_type_key(t) == ENT_KEY_AUTO)
            FUZZ_CHECK(ent_last_id(&out[i], s, NULL, t) == ENT_OK, "ent_last_id: %s", ent_errmsg());
    }
    ent_store_close(s);
}

/* `entity load --batch N [--overwrite]` with the input as its stdin; its exit code, checked, and
 * the store checked by verify. */
static int load(const uint8_t *data, size_t size, int overwrite)
{
    ent_store *s = NULL;
    char batch[8];
    char *argv[] = {"load", "--batch", batch, overwrite ? "--overwrite" : NULL, NULL};
    FILE *in;
    uint64_t problems = 0;
    int rc;
    snprintf(batch, sizeof batch, "%u", (unsigned)(size % 4 + 1));
    in = fmemopen(size ? (void *)data : (void *)"", size ? size : 1, "r");
    if (!in) abort();
    if (!size) getc(in); /* fmemopen wants a non-empty buffer: start at its end */
    {
        FILE *saved = stdin;
        stdin = in;
        rc = cmd_load(overwrite ? 4 : 3, argv);
        stdin = saved;
    }
    fclose(in);
    FUZZ_CHECK(rc == 0 || rc == 1, "load%s exit %d", overwrite ? " --overwrite" : "", rc);
    {
        int load_rc = rc;
        if (ent_store_open(&s, dir, NULL, NULL) != ENT_OK) FUZZ_CHECK(0, "store does not reopen after load");
        uint64_t other = 0;
        rc = ent_store_verify(&problems, s, count_other, &other);
        ent_store_close(s);
        FUZZ_CHECK(rc == ENT_OK || (rc == ENT_CORRUPT && problems > 0), "verify rc %d", rc);
        /* A load that exits 0 leaves nothing for verify to report (one that exits 1 may leave
         * refs of batches committed before the failing one dangling, as documented). */
        if (load_rc == 0) FUZZ_CHECK(problems == 0, "load exited 0, verify finds %llu problems", (unsigned long long)problems);
        FUZZ_CHECK(other == 0, "load exited %d, verify finds %llu problems besides dangling refs", load_rc,
                   (unsigned long long)other);
        return load_rc;
    }
}

/* Whether data is a dump of format 2 cut short: its header first, and its last line (past blanks,
 * as load skips them) holds neither "end" nor a backslash (an escape may spell "end"). */
static int cut_dump(const uint8_t *data, size_t size)
{
    static const char header[] = "{\"dump\":\"entity\",\"format\":2}\n";
    size_t end = size, start;
    if (size < sizeof header - 1 || memcmp(data, header, sizeof header - 1)) return 0;
    while (end && strchr(" \t\r\n", data[end - 1]) && data[end - 1]) end--;
    for (start = end; start && data[start - 1] != '\n'; start--) {}
    for (size_t i = start; i < end; i++) {
        if (data[i] == '\\') return 0;
        if (i + 5 <= end && !memcmp(data + i, "\"end\"", 5)) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *s = NULL;
    if (!shop) {
        shop = fuzz_schema("shop");
        fleet = fuzz_schema("fleet");
        /* in /dev/shm unless TMPDIR is set: thousands of stores, the inputs under test, not the disk */
        if (ent_test_mkdtemp_fast(dir, sizeof dir, "fuzz-load")) abort();
        atexit(remove_dir);
        store_dir = dir;
        /* The tool's messages go to stdio's stderr; properties are reported on fd 2. */
        if (!getenv("FUZZ_LOAD_VERBOSE")) {
            /* A FILE of its own, not freopen(): fd 2 stays for libFuzzer and the sanitizers. */
            FILE *quiet = fopen("/dev/null", "w");
            if (!quiet) abort();
            stderr = quiet;
        }
    }
    wipe_dir();
    o.durability = ENT_NONE;
    if (size >= 2 && data[0] == 'F' && data[1] == '\n') {
        data += 2;
        size -= 2;
        if (ent_store_open(&s, dir, fleet, &o) != ENT_OK) abort();
    } else if (ent_store_open(&s, dir, shop, &o) != ENT_OK) {
        abort();
    }
    ent_store_close(s);
    int first = load(data, size, 0);
    if (cut_dump(data, size)) FUZZ_CHECK(first == 1, "a dump without its end line loaded, exit %d", first);
    if (first == 0) {
        int overwrite = (size / 4) & 1;
        uint64_t before = last_seq(), ids[8] = {0}, again[8] = {0};
        last_ids(ids);
        int rc = load(data, size, overwrite);
        if (!overwrite && rc == 0)
            FUZZ_CHECK(last_seq() == before, "the same input loaded again wrote events %llu..%llu",
                       (unsigned long long)before + 1, (unsigned long long)last_seq());
        /* a dump's id counter lines ({"type":T,"last_id":N}) raise a counter, never lower it */
        last_ids(again);
        for (size_t i = 0; i < 8; i++)
            FUZZ_CHECK(again[i] >= ids[i], "type %zu's id counter went from %llu down to %llu", i,
                       (unsigned long long)ids[i], (unsigned long long)again[i]);
    }
    return 0;
}
