/* What a mirror applies: the messages of a NATS stream (input from outside the process), each
 * built here as a real natsMsg (subject, headers, body; no server) and handed to the function
 * the mirror's follower hands every message to (ent_nats__mirror_msg, libentity/nats/mirror_msg.c),
 * against a mirror store in memory or on LMDB (the first byte chooses).
 *
 * Input: a byte choosing the backend, then messages separated by 0xff bytes, each
 *     <subject tail>\n<Header>: <value>\n...\n\n<body>
 * The subject is "entity.<primary id>.<subject tail>" ("schema", "acct.create", ...), as the
 * relay publishes it; the stream position is the message's index from 1. Messages are applied in
 * order until one is refused, as the follower stops there. tests/fuzz/mirror_seeds.sh makes the
 * seeds from a real store's schema and events (entity events), as the relay would publish them.
 *
 * Properties: a refused message returns a known code with a message; afterwards the store is a
 * mirror whose stored position is the seq the follower says it applied, whose log ends exactly
 * there (a transaction half received left nothing), which verifies clean but for dangling refs
 * the stream carried (also, on LMDB, after closing and opening it again); and its in-process subscriber saw each applied event once, in
 * seq order, up to that seq. */
#include "fuzz_util.h"
#include "mirror_msg.h"

#define PRIMARY "0b8c6a52-2f60-4c1e-9d6e-5a3c2e1f7a90"
#define MAX_MSGS 64

static char dir[ENT_TEST_PATH_MAX];
static uint64_t seen_last, seen_n;
static int seen_bad;

static void at_exit(void)
{
    fuzz_dir_remove(dir);
    nats_Close();
}

static void quiet(const char *line, void *payload)
{
    (void)line;
    (void)payload;
}

/* Events from..to of m's log are id counters' raises (ENT_OP_LAST_ID), which on_event (a filter
 * of 0: create, update and delete) is not handed. */
static int only_raises(ent_store *m, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to; seq++) {
        ent_event *ev = NULL;
        int raise = ent_log_get(&ev, m, NULL, seq) == ENT_OK && ev->op == ENT_OP_LAST_ID;
        ent_event_free(ev);
        if (!raise) return 0;
    }
    return 1;
}

static void on_event(const ent_event *ev, void *payload)
{
    ent_nats__mirror *f = payload;
    if (seen_n && ev->seq != seen_last + 1 && !(ev->seq > seen_last && only_raises(f->m, seen_last + 1, ev->seq - 1))) seen_bad = 1;
    seen_last = ev->seq;
    seen_n++;
}


/* One message from a chunk; NULL when the chunk has no subject line (skipped). */
static natsMsg *make_msg(const uint8_t *p, size_t n)
{
    char subj[256];
    const uint8_t *nl = memchr(p, '\n', n), *end = p + n;
    natsMsg *m = NULL;
    size_t tl;
    if (!nl) return NULL;
    tl = (size_t)(nl - p);
    if (!tl || tl > 200 || memchr(p, 0, tl) || memchr(p, ' ', tl)) return NULL;
    snprintf(subj, sizeof subj, "entity." PRIMARY ".%.*s", (int)tl, (const char *)p);
    p = nl + 1;
    /* header lines up to an empty line; the rest is the body */
    {
        const uint8_t *h = p;
        while (h < end && *h != '\n') {
            const uint8_t *e = memchr(h, '\n', (size_t)(end - h));
            h = e ? e + 1 : end;
        }
        if (natsMsg_Create(&m, subj, NULL, h < end ? (const char *)h + 1 : NULL, h < end ? (int)(end - h - 1) : 0) != NATS_OK)
            return NULL;
        while (p < h) {
            const uint8_t *e = memchr(p, '\n', (size_t)(h - p)), *colon;
            size_t ll = e ? (size_t)(e - p) : (size_t)(h - p);
            colon = memchr(p, ':', ll);
            if (colon && colon > p && ll < 256) {
                char k[256], v[256];
                size_t kl = (size_t)(colon - p), vl = ll - kl - 1;
                const uint8_t *vp = colon + 1;
                if (vl && *vp == ' ') vp++, vl--;
                memcpy(k, p, kl);
                k[kl] = '\0';
                memcpy(v, vp, vl);
                v[vl] = '\0';
                if (!memchr(k, 0, kl) && !memchr(v, 0, vl)) (void)natsMsgHeader_Add(m, k, v); /* odd keys: refused by libnats */
            }
            p += ll + (e ? 1 : 0);
        }
    }
    return m;
}

/* Verify's problems other than dangling refs: the mirror takes the refs its primary took without
 * checking them (a `load` on the primary may leave some, and verify there names them too), so a
 * stream may carry them; anything else is damage the apply did. */
static char problem[512];
static uint64_t other_problems;

static void on_problem(const char *line, void *payload)
{
    (void)payload;
    if (strstr(line, " refers to missing ")) return;
    other_problems++;
    snprintf(problem, sizeof problem, "%s", line);
}

static void check_store(ent_nats__mirror *f, const char *when)
{
    uint64_t seq = 0, pos = 0, first = 0, last = 0, problems = 0;
    int rc;
    FUZZ_CHECK(ent_store_mirror_of(f->m) && !strcmp(ent_store_mirror_of(f->m), PRIMARY), "%s: not a mirror of the primary", when);
    FUZZ_CHECK(ent_mirror_position(&seq, &pos, f->m) == ENT_OK, "%s: mirror position", when);
    FUZZ_CHECK(seq == f->applied && pos == f->pos, "%s: stored position %llu/%llu, the follower's %llu/%llu", when,
               (unsigned long long)seq, (unsigned long long)pos, (unsigned long long)f->applied, (unsigned long long)f->pos);
    FUZZ_CHECK(ent_log_bounds(&first, &last, f->m, NULL) == ENT_OK, "%s: log bounds", when);
    FUZZ_CHECK(last == seq, "%s: the log ends at %llu, the mirror applied up to %llu (half a transaction?)", when,
               (unsigned long long)last, (unsigned long long)seq);
    problem[0] = '\0';
    other_problems = 0;
    rc = ent_store_verify(&problems, f->m, on_problem, NULL);
    FUZZ_CHECK((rc == ENT_OK || rc == ENT_CORRUPT) && other_problems == 0, "%s: verify rc %d, %llu problems, the last: %s",
               when, rc, (unsigned long long)other_problems, problem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    ent_store_opts so = ENT_STORE_OPTS_INIT;
    ent_follow_opts fo = ENT_FOLLOW_OPTS_INIT;
    ent_nats__mirror f;
    int lmdb = fuzz_u8(&in) & 1, rc = ENT_OK;
    if (!dir[0]) {
        /* in /dev/shm unless TMPDIR is set: thousands of stores, the inputs under test, not the disk */
        if (ent_test_mkdtemp_fast(dir, sizeof dir, "fuzz-mirror")) abort();
        /* libnats's messages need the library open (its garbage collector frees them) */
        if (nats_Open(-1) != NATS_OK) abort();
        atexit(at_exit);
    }
    so.backend = lmdb ? "lmdb" : "memory";
    so.durability = ENT_NONE;
    fo.stream = "fuzz";
    fo.store_opts = &so;
    fo.on_event = on_event;
    fo.event_payload = &f;
    fo.log = quiet;
    memset(&f, 0, sizeof f);
    f.path = dir;
    f.o = &fo;
    snprintf(f.primary, sizeof f.primary, "%s", PRIMARY);
    seen_last = seen_n = 0;
    seen_bad = 0;
    fuzz_dir_wipe(dir);

    for (uint64_t spos = 1; in.n && spos <= MAX_MSGS && rc == ENT_OK; spos++) {
        const uint8_t *p;
        size_t n = fuzz_chunk(&in, &p);
        natsMsg *m = make_msg(p, n);
        if (!m) continue;
        rc = ent_nats__mirror_msg(&f, m, spos);
        natsMsg_Destroy(m);
        FUZZ_CHECK_FAILED_WITH_MESSAGE(rc);
    }
    FUZZ_CHECK(!seen_bad, "the mirror's subscriber saw seq %llu out of order", (unsigned long long)seen_last);
    if (f.m) {
        check_store(&f, "after the messages");
        FUZZ_CHECK(seen_last <= f.applied && only_raises(f.m, seen_last + 1, f.applied),
                   "the mirror's subscriber saw up to seq %llu, the mirror applied up to %llu",
                   (unsigned long long)seen_last, (unsigned long long)f.applied);
        if (lmdb) {
            uint64_t applied = f.applied, pos = f.pos;
            ent_nats__mirror_txn_clear(&f);
            ent_nats__mirror_close(&f);
            rc = ent_nats__mirror_open(&f, NULL);
            FUZZ_CHECK(rc == ENT_OK, "reopen: rc %d", rc);
            FUZZ_CHECK(f.applied == applied && f.pos == pos, "reopened at %llu/%llu, closed at %llu/%llu",
                       (unsigned long long)f.applied, (unsigned long long)f.pos, (unsigned long long)applied,
                       (unsigned long long)pos);
            check_store(&f, "reopened");
        }
    }
    ent_nats__mirror_fini(&f);
    return 0;
}
