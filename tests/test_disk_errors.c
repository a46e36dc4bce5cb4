/* Disk errors under the LMDB backend: a sync that fails, before and after a durable commit became
 * the store's state (a durable commit syncs the write-ahead file; data.mdb is synced by
 * checkpoints). fdatasync() is defined here: the executable's definition comes first for
 * liblmdb's calls too (symbol interposition), so no root, no small filesystem and no LD_PRELOAD
 * are needed. Unarmed it is the C library's. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "test_reboot.h"
#include <fcntl.h>

static int fail_at;        /* fail the fail_at-th fdatasync() counted from arming (0: none) */
static int sync_calls;     /* fdatasync() calls since arming */
static int fail_errno = EIO;

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    if (fail_at && ++sync_calls == fail_at) {
        fail_at = 0;
        errno = fail_errno;
        return -1;
    }
    return real ? real(fd) : fsync(fd);
}

static void arm_sync(int nth, int err)
{
    sync_calls = 0;
    fail_errno = err;
    fail_at = nth;
}

/* A full disk as root on ext4 (t_full_disk_short_write): armed, the next pwrite() to data.mdb
 * (LMDB's commit writes its pages with pwrite and writev) writes half its bytes and returns
 * that, as a write the disk's end cut short (LMDB then says EIO: a short write has no errno);
 * statvfs() says what ext4 says to root there: f_bfree counting blocks nobody may take, f_bavail
 * 0; posix_fallocate() refuses with full_errno when it is not 0 (the disk's answer to "1 MiB
 * more?"). */
static ino_t short_ino; /* data.mdb's inode; 0: unarmed */
static int full_fs, full_errno;

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    struct stat st;
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "pwrite");
    /* past the two meta pages: their write never needs a new block (and LMDB's failed meta
     * write is another story: the environment's panic) */
    if (short_ino && n > 1 && off >= 2 * (off_t)sysconf(_SC_PAGESIZE) && fstat(fd, &st) == 0 && st.st_ino == short_ino) {
        short_ino = 0;
        return real(fd, buf, n / 2, off);
    }
    return real(fd, buf, n, off);
}

/* LMDB's write of a run of pages side by side: cut short the same way (the file position is
 * where LMDB's lseek put it) */
ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    struct stat st;
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "writev");
    if (short_ino && cnt > 0 && iov[0].iov_len > 1 && fstat(fd, &st) == 0 && st.st_ino == short_ino) {
        short_ino = 0;
        return write(fd, iov[0].iov_base, iov[0].iov_len / 2);
    }
    return real(fd, iov, cnt);
}

int statvfs(const char *path, struct statvfs *out)
{
    static int (*real)(const char *, struct statvfs *);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "statvfs");
    int rc = real(path, out);
    if (rc == 0 && full_fs) {
        out->f_bfree = (fsblkcnt_t)((16u << 20) / (out->f_frsize ? out->f_frsize : 4096)); /* 16 MiB */
        out->f_bavail = 0;
    }
    return rc;
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    static int (*real)(int, off_t, off_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "posix_fallocate");
    if (full_errno) return full_errno;
    return real(fd, off, len);
}

/* Armed: the next ftruncate() fails with EIO (the give-back's cut of the write-ahead file: what
 * a process killed between its checkpoint and the cut leaves) */
static int fail_truncate;

int ftruncate(int fd, off_t len)
{
    static int (*real)(int, off_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "ftruncate");
    if (fail_truncate) {
        fail_truncate = 0;
        errno = EIO;
        return -1;
    }
    return real(fd, len);
}

static const char schema_json[] = "{\"schema\":\"d\",\"version\":1,\"types\":{\"item\":{\"key\":\"auto\",\"fields\":{"
                                  "\"n\":{\"id\":1,\"type\":\"uint\",\"indexed\":true}}}}}";

static char dir[ENT_TEST_PATH_MAX];
static ent_store *S;
static ent_schema *SC;
static uint64_t seen[16];
static int n_seen;

static void on_event(const ent_event *ev, void *p)
{
    (void)p;
    if (n_seen < 16) seen[n_seen++] = ev->seq;
}

static void setup(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_subscriber *sub = NULL;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "disk-errors");
    ENT_OK_(ent_schema_load_json(&SC, schema_json, strlen(schema_json), "d"));
    ENT_OK_(ent_store_open(&S, dir, SC, &o));
    ENT_OK_(ent_subscribe(&sub, S, NULL, 0, on_event, NULL));
    n_seen = 0;
}

static void teardown(void)
{
    fail_at = fail_truncate = 0;
    short_ino = 0;
    full_fs = full_errno = 0;
    ent_store_close(S);
    ent_schema_free(SC);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* ent_create of an item with n in store s; its rc, and its key in *id (0 when it got none). */
static int create_in(ent_store *s, uint64_t n, uint64_t *id)
{
    ent_entity *e = NULL;
    int rc;
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "item")));
    ENT_OK_(ent_entity_set_uint(e, "n", n));
    rc = ent_create(s, NULL, e);
    *id = ent_entity_key(e).kind == ENT_KEY_AUTO ? ent_entity_key(e).id : 0;
    ent_entity_free(e);
    return rc;
}

static int create(uint64_t n, uint64_t *id)
{
    return create_in(S, n, id);
}

static uint64_t count_items(ent_store *s)
{
    uint64_t n = 0;
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "item")));
    return n;
}

/* A checkpoint's sync of data.mdb fails: the first durable write after a lazy handle's (which
 * ended the write-ahead file's generation: its commits are not logged) begins a new one with a
 * checkpoint. Nothing of that write is committed, and the next create takes the id and seq the
 * failed one would have had. */
static void t_checkpoint_sync_fails(void)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_store *lazy = NULL;
    uint64_t id = 0, last = 0, probs = 9;
    setup();
    ENT_OK_(create(1, &id));
    CU_ASSERT_EQUAL(id, 1);
    o.durability = ENT_LAZY;
    ENT_OK_(ent_store_open(&lazy, dir, SC, &o));
    ENT_OK_(create_in(lazy, 2, &id));
    CU_ASSERT_EQUAL(id, 2);
    arm_sync(1, EIO);
    ENT_CHECK_RC(create(3, &id), ENT_IO);
    ENT_ASSERT_MSG("checkpoint");
    ENT_ASSERT_MSG("nothing of this write was committed");
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_EQUAL(count_items(S), 2);
    ENT_OK_(create(3, &id));
    CU_ASSERT_EQUAL(id, 3);
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    CU_ASSERT_EQUAL(last, 3);
    ENT_OK_(ent_store_verify(&probs, S, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(lazy);
    teardown();
}

/* The sync of the write-ahead file fails after the commit became the store's state: the call
 * fails (the commit is not known to be on disk), but its entity and event are there, and the
 * message must say so: "Input/output error" alone, or "nothing of this write was committed" on a
 * full disk, sent callers to write it again (a second entity). The next write does not trust the
 * file (a failed sync may have dropped its pages): it syncs data.mdb first, which makes the
 * failed one durable after all. */
static void t_log_sync_fails(void)
{
    uint64_t id = 0, last = 0, probs = 9;
    const int errs[] = {EIO, ENOSPC}, codes[] = {ENT_IO, ENT_FULL};
    const int details[] = {ENT_DETAIL_NONE, ENT_DETAIL_NO_SPACE};
    for (int i = 0; i < 2; i++) {
        setup();
        ENT_OK_(create(1, &id));
        arm_sync(1, errs[i]);
        ENT_CHECK_RC(create(2, &id), codes[i]);
        ENT_ASSERT_DETAIL(details[i]); /* a full disk, told from an index value too long for a key */
        ENT_ASSERT_MSG("syncing the write-ahead file");
        ENT_ASSERT_MSG("the commit is in the store all the same");
        CU_ASSERT_PTR_NULL(strstr(ent_errmsg(), "nothing of this write was committed"));
        CU_ASSERT_EQUAL(count_items(S), 2);
        CU_ASSERT_EQUAL(n_seen, 2);
        /* the process's state follows the store: the next create is id 3, seq 3, after a
         * checkpoint (data.mdb's sync and the file's new header) and its own sync */
        arm_sync(1000, EIO);
        ENT_OK_(create(3, &id));
        CU_ASSERT(sync_calls >= 3);
        fail_at = 0;
        CU_ASSERT_EQUAL(id, 3);
        ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
        CU_ASSERT_EQUAL(last, 3);
        CU_ASSERT_EQUAL(n_seen, 3);
        ENT_OK_(ent_store_verify(&probs, S, NULL, NULL));
        CU_ASSERT_EQUAL(probs, 0);
        teardown();
    }
}

/* ent_store_sync() makes every commit a reader can see durable, also one whose write-ahead
 * record is not (its sync failed): the relay publishes what it covered. So it syncs data.mdb
 * and bases the file's next generation there; a reboot that lost that record keeps the commit. */
static void t_store_sync_covers_visible_commits(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_store *r = NULL;
    uint64_t id = 0;
    setup();
    ENT_OK_(create(1, &id));
    arm_sync(1, EIO);
    ENT_CHECK_RC(create(2, &id), ENT_IO); /* in the store, not known to be on disk */
    fail_at = 0;
    ENT_OK_(ent_store_sync(S));
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 1); /* the power cut lost the record whose sync failed */
    ENT_OK_(ent_store_open(&r, rb, NULL, NULL));
    CU_ASSERT_EQUAL(count_items(r), 2);
    ent_store_close(r);
    ent_test_rm_rf(rb);
    teardown();
}

/* data.mdb reaches the process's file size limit (ulimit -f; SIGXFSZ ignored, as the cli test
 * does): writes past it fail with EFBIG, as on a full disk, without a small filesystem. The
 * commit is ENT_FULL with the detail ENT_DETAIL_NO_SPACE: the server's to fix, not the input's. */
static void t_file_size_limit(void)
{
    struct rlimit old, lim;
    struct stat st;
    char data[ENT_TEST_PATH_MAX + 16];
    void (*was)(int);
    int rc = ENT_OK;
    setup();
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 256 * 1024;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
    was = signal(SIGXFSZ, SIG_IGN);
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
    /* 1000 items a txn: 256 KiB fills within a few; 400 txns are a guard, not a size */
    for (int t = 0; t < 400 && rc == ENT_OK; t++) {
        ent_txn *w = NULL;
        ENT_OK_(ent_txn_begin(&w, S, ENT_TXN_WRITE));
        for (int i = 0; i < 1000 && rc == ENT_OK; i++) {
            ent_entity *e = NULL;
            ENT_OK_(ent_entity_new(&e, ent_store_type(S, "item")));
            ENT_OK_(ent_entity_set_uint(e, "n", (uint64_t)t * 1000 + (uint64_t)i));
            rc = ent_create(S, w, e);
            ent_entity_free(e);
        }
        if (rc == ENT_OK) rc = ent_txn_commit(w);
        else ent_txn_abort(w);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    ENT_CHECK_RC(rc, ENT_FULL);
    ENT_ASSERT_MSG("file size limit");
    ENT_ASSERT_DETAIL(ENT_DETAIL_NO_SPACE);
    teardown();
}

/* A write that the disk's end cuts short, as root on ext4: LMDB reports the short write as EIO,
 * and statvfs still counts free blocks nobody may take (ext4's reserved clusters, up to 16 MiB),
 * so the commit said "Input/output error" (ENT_IO) of a full disk, sending a server's operator to
 * a disk that is fine (seen on a full ext4 loop file system, 8 threads of durable creates). It is
 * ENT_FULL with the detail ENT_DETAIL_NO_SPACE when the disk refuses 1 MiB more; the same short
 * write on a disk with the room stays ENT_IO (a failing disk). Nothing of either write is
 * committed, and the next write goes through. */
static void t_full_disk_short_write(void)
{
    char data[ENT_TEST_PATH_MAX + 16];
    struct stat st;
    uint64_t id = 0, last = 0, probs = 9;
    setup();
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    ENT_OK_(create(1, &id));
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    for (int full = 1; full >= 0; full--) {
        short_ino = st.st_ino;
        full_fs = 1;
        full_errno = full ? ENOSPC : 0;
        int rc = create(2, &id);
        CU_ASSERT_EQUAL(short_ino, 0); /* the armed write was made */
        full_fs = full_errno = 0;
        if (full) {
            ENT_CHECK_RC(rc, ENT_FULL);
            ENT_ASSERT_MSG("the disk is full");
            ENT_ASSERT_DETAIL(ENT_DETAIL_NO_SPACE);
            ENT_ASSERT_MSG("nothing of this write was committed");
        } else {
            ENT_CHECK_RC(rc, ENT_IO);
            ENT_ASSERT_MSG("Input/output error");
        }
        CU_ASSERT_EQUAL(count_items(S), 1);
    }
    ENT_OK_(create(2, &id));
    CU_ASSERT_EQUAL(count_items(S), 2);
    ENT_OK_(ent_log_bounds(NULL, &last, S, NULL));
    CU_ASSERT_EQUAL(last, 2);
    ENT_OK_(ent_store_verify(&probs, S, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    teardown();
}

/* A durable store on a small disk fills it: the write-ahead file grows to 64 MiB before it is
 * written over from its start, so on a disk of a few MiB it held most of the room (7 MiB of 9 on
 * a loop ext4, data.mdb 1.8 MiB) while data.mdb could not grow: every later commit was refused
 * "the disk is full", for as long as the process ran, though no record in the file was needed
 * once data.mdb was synced. A commit the full disk refuses now ends the file's generation (a
 * checkpoint) and gives its records' blocks back: the file is its header again, the next write
 * goes through, and a reboot after it loses nothing. */
static void t_full_disk_gives_back_the_log(void)
{
    char data[ENT_TEST_PATH_MAX + 16], wal[ENT_TEST_PATH_MAX + 16], rb[ENT_TEST_PATH_MAX + 16];
    struct stat st;
    uint64_t id = 0, n = 0, probs = 9;
    ent_store *r = NULL;
    setup();
    CU_ASSERT_FATAL(ent_test_fmt(data, sizeof data, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(wal, sizeof wal, "%s/wal", dir) == 0);
    /* durable commits until the file holds more than 2 MiB of records (a guard of 20 000) */
    for (st.st_size = 0; st.st_size <= (2 << 20) && n < 20000; n++) {
        ENT_OK_(create(n, &id));
        CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    }
    CU_ASSERT_FATAL(st.st_size > (2 << 20));
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    short_ino = st.st_ino;
    full_fs = 1;
    full_errno = ENOSPC;
    ENT_CHECK_RC(create(n, &id), ENT_FULL);
    CU_ASSERT_EQUAL(short_ino, 0); /* the armed write was made */
    full_fs = full_errno = 0;
    ENT_ASSERT_MSG("the disk is full");
    ENT_ASSERT_MSG("nothing of this write was committed");
    ENT_ASSERT_MSG("of its write-ahead file were given back to the disk, so the write may go through if made again");
    CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    CU_ASSERT(st.st_size <= REC_START); /* its blocks given back */
    CU_ASSERT_EQUAL(count_items(S), n);
    ENT_OK_(create(n, &id));
    n++;
    ENT_OK_(create(n, &id));
    n++;
    CU_ASSERT_EQUAL(count_items(S), n);
    ENT_OK_(ent_store_verify(&probs, S, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    /* a power cut now: every acknowledged commit is there after the reboot */
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ENT_OK_(ent_store_open(&r, rb, NULL, NULL));
    CU_ASSERT_EQUAL(count_items(r), n);
    probs = 9;
    ENT_OK_(ent_store_verify(&probs, r, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(r);
    ent_test_rm_rf(rb);
    teardown();
}

/* The chain of records of the file's generation at wal (as a reboot's replay follows it): the
 * txn it ends at (the header's base when it has none), *n its records; and the txn data.mdb's
 * newer meta page names. A replay puts back every commit when the two are equal. */
static uint64_t chain_end(const char *wal, const char *data, size_t *n, uint64_t *data_txn)
{
    wal_hdr h;
    wal_rec r;
    uint64_t off = REC_START, last, t0 = 0, t1 = 0;
    int fd = open(wal, O_RDONLY), dfd = open(data, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0 && dfd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    *n = 0;
    for (last = h.base; h.active && pread(fd, &r, sizeof r, (off_t)off) == (ssize_t)sizeof r && r.magic == REC_MAGIC &&
                        r.gen == h.gen && r.prev == last;
         last = r.txn) {
        off += sizeof r + r.npages * sizeof(wal_page) + META_LEN + r.bytes;
        (*n)++;
    }
    CU_ASSERT_FATAL(pread(dfd, &t0, 8, OFF_TXNID) == 8 && pread(dfd, &t1, 8, (off_t)h.psize + OFF_TXNID) == 8);
    *data_txn = t0 > t1 ? t0 : t1;
    close(fd);
    close(dfd);
    return last;
}

/* The give-back beside other processes: a child logs 2 MiB of durable commits (its idea of the
 * file's size grows with it), then this process's commit is refused by the full disk and cuts the
 * file to its header. The child's next records (four threads in group commits) go past the end it
 * no longer knows, beside this process's own and a lazy handle's commits; each side keeps the
 * store open. A reboot then must find every acknowledged commit of both, and verify clean. */
typedef struct gb_arg {
    ent_store *s;
    unsigned base;
    uint64_t ok;
} gb_arg;

static void *gb_writer(void *p)
{
    gb_arg *a = p;
    uint64_t id = 0;
    for (unsigned i = 0; i < 150; i++)
        if (create_in(a->s, 1000000 + a->base + i, &id) == ENT_OK) a->ok++;
    return NULL;
}

static void t_full_disk_give_back_beside_others(void)
{
    char data[ENT_TEST_PATH_MAX + 16], wal[ENT_TEST_PATH_MAX + 16], rb[ENT_TEST_PATH_MAX + 16];
    struct stat st;
    uint64_t id = 0, n = 0, probs = 9, child_ok = 0;
    int up[2], down[2];
    ent_store *r = NULL, *lazy = NULL;
    ent_store_opts lo = ENT_STORE_OPTS_INIT;
    setup();
    CU_ASSERT_FATAL(ent_test_fmt(data, sizeof data, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(wal, sizeof wal, "%s/wal", dir) == 0);
    CU_ASSERT_FATAL(pipe(up) == 0 && pipe(down) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *c = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        uint64_t ok = 0, k = 0;
        char ch;
        o.durability = ENT_DURABLE;
        if (ent_store_open(&c, dir, NULL, &o) || ent_store_set_group_commit(c, ENT_GROUP_ALWAYS)) _exit(3);
        for (st.st_size = 0; st.st_size <= (2 << 20) && k < 20000; k++) {
            if (create_in(c, 2000000 + k, &id) != ENT_OK || stat(wal, &st) != 0) _exit(4);
            ok++;
        }
        if (write(up[1], &ok, sizeof ok) != sizeof ok || read(down[0], &ch, 1) != 1) _exit(5);
        gb_arg a[4];
        pthread_t th[4];
        for (unsigned i = 0; i < 4; i++) {
            a[i] = (gb_arg){c, i * 1000, 0};
            if (pthread_create(&th[i], NULL, gb_writer, &a[i])) _exit(6);
        }
        for (unsigned i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ok += a[i].ok;
        }
        if (write(up[1], &ok, sizeof ok) != sizeof ok || read(down[0], &ch, 1) != 1) _exit(7);
        ent_store_close(c);
        _exit(0);
    }
    CU_ASSERT_FATAL(read(up[0], &child_ok, sizeof child_ok) == sizeof child_ok);
    CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    CU_ASSERT(st.st_size > (2 << 20));
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    short_ino = st.st_ino;
    full_fs = 1;
    full_errno = ENOSPC;
    ENT_CHECK_RC(create(0, &id), ENT_FULL);
    full_fs = full_errno = 0;
    ENT_ASSERT_MSG("were given back to the disk");
    CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    CU_ASSERT(st.st_size <= REC_START);
    lo.durability = ENT_LAZY;
    CU_ASSERT_FATAL(write(down[1], "g", 1) == 1);
    /* this process's durable commits while the child's threads log theirs; then a lazy handle's */
    for (unsigned i = 0; i < 200; i++)
        if (create(i, &id) == ENT_OK) n++;
    CU_ASSERT_FATAL(read(up[0], &child_ok, sizeof child_ok) == sizeof child_ok);
    /* every commit since the give-back is in the chain a reboot replays (the child's records
     * too, written past the end of a file it took for longer) */
    size_t nrec = 0;
    uint64_t dtxn = 0, end = chain_end(wal, data, &nrec, &dtxn);
    CU_ASSERT_EQUAL(end, dtxn);
    CU_ASSERT(nrec > 0);
    if (end != dtxn) fprintf(stderr, "chain ends at %llu of %llu (%zu records)\n", (unsigned long long)end, (unsigned long long)dtxn, nrec);
    ENT_OK_(ent_store_open(&lazy, dir, NULL, &lo));
    for (unsigned i = 0; i < 4; i++)
        if (create_in(lazy, 500000 + i, &id) == ENT_OK) n++;
    CU_ASSERT_EQUAL(n, 204);
    ent_store_close(lazy);
    for (unsigned i = 0; i < 20; i++) /* and a few more with the file as the child left it */
        if (create(300 + i, &id) == ENT_OK) n++;
    CU_ASSERT_EQUAL(count_items(S), n + child_ok);
    /* a power cut with both open: every acknowledged commit is there after the reboot */
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ENT_OK_(ent_store_open(&r, rb, NULL, NULL));
    CU_ASSERT_EQUAL(count_items(r), n + child_ok);
    ENT_OK_(ent_store_verify(&probs, r, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(r);
    ent_test_rm_rf(rb);
    CU_ASSERT_FATAL(write(down[1], "e", 1) == 1);
    int wst = 0;
    CU_ASSERT_FATAL(waitpid(pid, &wst, 0) == pid);
    CU_ASSERT(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    for (int i = 0; i < 2; i++) {
        close(up[i]);
        close(down[i]);
    }
    teardown();
}

/* A give-back whose checkpoint cannot sync data.mdb: the commit is refused as the full disk's,
 * the file keeps its records (none may go before data.mdb is synced), and the next commit, which
 * makes the checkpoint again, goes through. Then one whose cut of the file fails after its
 * checkpoint (what a process killed between the two leaves). A reboot then finds every
 * acknowledged commit, the chain it replays ending at data.mdb's last txn. */
static void t_give_back_checkpoint_or_cut_fails(void)
{
    char data[ENT_TEST_PATH_MAX + 16], wal[ENT_TEST_PATH_MAX + 16], rb[ENT_TEST_PATH_MAX + 16];
    struct stat st;
    off_t before;
    uint64_t id = 0, n = 0, probs = 9, dtxn = 0;
    size_t nrec = 0;
    ent_store *r = NULL;
    setup();
    CU_ASSERT_FATAL(ent_test_fmt(data, sizeof data, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(wal, sizeof wal, "%s/wal", dir) == 0);
    for (st.st_size = 0; st.st_size <= (2 << 20) && n < 20000; n++) {
        ENT_OK_(create(n, &id));
        CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    }
    before = st.st_size;
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    short_ino = st.st_ino;
    full_fs = 1;
    full_errno = ENOSPC;
    arm_sync(1, EIO); /* the checkpoint's sync of data.mdb */
    ENT_CHECK_RC(create(n, &id), ENT_FULL);
    full_fs = full_errno = 0;
    arm_sync(0, EIO);
    ENT_ASSERT_MSG("the disk is full");
    CU_ASSERT(strstr(ent_errmsg(), "given back") == NULL);
    CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, before);
    ENT_OK_(create(n, &id));
    n++;
    /* the checkpoint made and the cut refused: the old generation's records stay behind an
     * inactive header, and the next generation's are written over them */
    for (st.st_size = 0; st.st_size <= before + (1 << 20) && n < 40000; n++) {
        ENT_OK_(create(n, &id));
        CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    }
    before = st.st_size;
    CU_ASSERT_EQUAL_FATAL(stat(data, &st), 0);
    short_ino = st.st_ino;
    full_fs = 1;
    full_errno = ENOSPC;
    fail_truncate = 1;
    ENT_CHECK_RC(create(n, &id), ENT_FULL);
    full_fs = full_errno = fail_truncate = 0;
    CU_ASSERT(strstr(ent_errmsg(), "given back") == NULL);
    CU_ASSERT_EQUAL_FATAL(stat(wal, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, before);
    for (unsigned i = 0; i < 50; i++, n++) ENT_OK_(create(n, &id));
    CU_ASSERT_EQUAL(count_items(S), n);
    CU_ASSERT_EQUAL(chain_end(wal, data, &nrec, &dtxn), dtxn);
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ENT_OK_(ent_store_open(&r, rb, NULL, NULL));
    CU_ASSERT_EQUAL(count_items(r), n);
    ENT_OK_(ent_store_verify(&probs, r, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(r);
    ent_test_rm_rf(rb);
    teardown();
}

/* A copy the disk refuses (here the file size limit, as a full destination does: "No space left
 * on device") leaves no store and no half copy at DEST, and no directory it made either: a
 * failed copy leaves DEST as it found it, as the README says of failed inits and replays (it left
 * an empty directory, which a script's `test -d DEST` took for the backup made). A DEST that
 * was there before, empty, stays. */
static void t_copy_refused_leaves_no_dir(void)
{
    char dest[ENT_TEST_PATH_MAX + 16];
    struct rlimit old, lim;
    struct stat st;
    void (*was)(int);
    uint64_t id = 0;
    setup();
    for (uint64_t n = 0; n < 2000; n++) ENT_OK_(create(n, &id));
    CU_ASSERT_FATAL(ent_test_fmt(dest, sizeof dest, "%s-copy", dir) == 0);
    ent_test_rm_rf(dest);
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
    for (int existed = 0; existed < 2; existed++) {
        if (existed) CU_ASSERT_EQUAL_FATAL(mkdir(dest, 0755), 0);
        lim = old;
        lim.rlim_cur = 16384;
        was = signal(SIGXFSZ, SIG_IGN);
        CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
        int rc = ent_store_copy(S, dest, 0);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, was);
        CU_ASSERT_NOT_EQUAL(rc, ENT_OK);
        if (existed) {
            CU_ASSERT_EQUAL(stat(dest, &st), 0); /* the empty directory it was */
            CU_ASSERT_EQUAL(rmdir(dest), 0);
        } else {
            CU_ASSERT(stat(dest, &st) != 0 && errno == ENOENT);
        }
    }
    ent_test_rm_rf(dest);
    teardown();
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_checkpoint_sync_fails),
        ENT_TEST(t_log_sync_fails),
        ENT_TEST(t_store_sync_covers_visible_commits),
        ENT_TEST(t_file_size_limit),
        ENT_TEST(t_full_disk_short_write),
        ENT_TEST(t_full_disk_gives_back_the_log),
        ENT_TEST(t_full_disk_give_back_beside_others),
        ENT_TEST(t_give_back_checkpoint_or_cut_fails),
        ENT_TEST(t_copy_refused_leaves_no_dir),
        {NULL, NULL},
    };
    return ent_test_run("disk_errors", cases);
}
