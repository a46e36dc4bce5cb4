/* The LMDB backend's environments: one MDB_env per store directory per process, found through a
 * process-wide registry; opening (the notify file, the writer lock, stale readers), closing, the
 * errors of LMDB as ENT_* codes, the resize lock every transaction holds shared, and the op log
 * of the environment's write txn. Calls nothing in the backend's other files. */
#include <inttypes.h>
#include <sys/statvfs.h>

#include "backend_lmdb_int.h"
#include "backend_lmdb_wal.h"

/* A disk with less room than this after a failed write is taken to be full. */
#define FULL_DISK_SLACK ((uint64_t)1 << 20)

/* ---- process-global state -------------------------------------------------------------------
 * The registry of open environments is this backend's one piece of global mutable state, forced by
 * LMDB: an environment may be opened only once per process, so two handles on one directory must
 * find each other. The fork generation lets every call detect that it runs in a child. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static lenv *reg_head;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The fork generation itself is fork.c's; this handler resets the registry's lock, and lets go of
 * the child's copies of the descriptors that carry the parent's locks (the write-ahead file's log
 * and open locks, writer.lock's flock, the notify file's slots): those locks belong to the open
 * file description, which a child that never execs would otherwise keep alive after the parent
 * dies, holding them for as long as it lives (every writer of the store would wait for it). A
 * child's copy of a store can only be closed, which needs none of them. */
static void on_fork_child(void)
{
    /* Another thread of the parent may have held it at fork(); the child has only this thread.
     * The list is read without it: a parent's thread links an environment in with one store and
     * out with one store, and frees it only after. */
    pthread_mutex_init(&reg_mu, NULL);
    for (lenv *e = reg_head; e; e = e->next) {
        ent__lmdb_wal_forget_fd(e);
        if (e->lockfd >= 0) close(e->lockfd);
        if (e->ntfd >= 0) close(e->ntfd);
        if (e->nolockfd >= 0) close(e->nolockfd);
        e->lockfd = e->ntfd = e->nolockfd = -1;
    }
}
static void fork_init(void) { pthread_atfork(NULL, NULL, on_fork_child); }

/* Per thread: how many txns this thread holds on each environment. A thread holds the resize lock
 * shared once, however many txns it has open, so that a second txn of the same thread never waits
 * behind a pending resizer (which would wait for the first txn: a deadlock). */
static _Thread_local struct {
    lenv *e;
    unsigned n;
} hold[HOLD_SLOTS];

/* ---- errors --------------------------------------------------------------------------------- */

static int code_of(int mrc)
{
    switch (mrc) {
    case MDB_NOTFOUND: return ENT_NOTFOUND;
    case MDB_KEYEXIST: return ENT_CONFLICT;
    case MDB_BAD_VALSIZE:
    case MDB_MAP_FULL:
    case MDB_DBS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return ENT_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID: return ENT_CORRUPT;
    case MDB_VERSION_MISMATCH: return ENT_FORMAT;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
    case EAGAIN:
    case EBUSY: return ENT_BUSY;
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
    case MDB_BAD_TXN:
    case EINVAL: return ENT_INVALID;
    case ENOENT: return ENT_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return ENT_READONLY;
    case ENOMEM: return ENT_NOMEM;
    default: return ENT_IO;
    }
}

/* The ENT_DETAIL_* of an LMDB or system code that code_of() makes ENT_FULL. MDB_TXN_FULL (too
 * many dirty pages) is a write larger than LMDB takes at once; MDB_CURSOR_FULL and MDB_PAGE_FULL
 * are LMDB's internal limits, which no remedy of the caller's meets: no detail. */
static int detail_of(int mrc)
{
    switch (mrc) {
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case MDB_DBS_FULL: return ENT_DETAIL_NO_SPACE;
    case MDB_BAD_VALSIZE:
    case MDB_TXN_FULL: return ENT_DETAIL_TOO_LARGE;
    default: return ENT_DETAIL_NONE;
    }
}

int ent__lmdb_lerr(int mrc, const char *fmt, ...)
{
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return ent__errd(code_of(mrc), detail_of(mrc), "%s: %s", ctx, mdb_strerror(mrc));
}

/* LMDB reports a write that stopped short (the disk filled during it, or the file reached the
 * process's size limit) as EIO: "Input/output error" for a full disk tells the user to look for a
 * broken one. A failed write is looked at again here: a disk with almost no room left, or a data
 * file at the limit, is ENT_FULL naming that; anything else stays what LMDB said. */
/* Whether the file system under dir refuses FULL_DISK_SLACK more bytes, asked by allocating them
 * to an unnamed file (O_TMPFILE: nothing is left behind, whatever happens to this process). Why:
 * statvfs cannot tell for root on ext4, whose free blocks include some that nobody may take
 * (its reserved clusters, up to 16 MiB; and the 5 % kept for root when the file system keeps them
 * for another user): LMDB's write that the full disk cut short ("Input/output error", a short
 * write being no errno) looked like a failing disk with ~1-16 MiB free. 0 when it cannot ask
 * (no O_TMPFILE there) or the room is there. */
static int disk_refuses(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return errno == ENOSPC || errno == EDQUOT;
    int err = posix_fallocate(fd, 0, (off_t)FULL_DISK_SLACK);
    close(fd);
    return err == ENOSPC || err == EDQUOT;
}

int ent__lmdb_werr(const lenv *e, int mrc, const char *what, int committed)
{
    struct statvfs vfs;
    struct rlimit rl;
    struct stat st;
    int fd;
    /* A durable commit's last sync fails after its meta page was written: readers, subscribers
     * and the next open see the commit, so "nothing was committed" would be false, and a caller
     * told only "Input/output error" writes it again (a second entity under a new id). */
    const char *outcome = committed ? "the commit is in the store all the same (readers and subscribers see it), but not "
                                      "known to be on disk: a crash of the system may lose it; do not write it again"
                                    : "nothing of this write was committed";
    if (mrc != EIO && mrc != ENOSPC && mrc != EDQUOT && mrc != EFBIG) {
        if (!committed) return ent__lmdb_lerr(mrc, "store %s: %s", e->path, what);
        return ent__errd(code_of(mrc), detail_of(mrc), "store %s: %s: %s; %s", e->path, what, mdb_strerror(mrc), outcome);
    }
    if (statvfs(e->dir, &vfs) == 0) {
        /* root may use the blocks reserved for it, so it runs out only when none is free */
        uint64_t avail = (uint64_t)(geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) * vfs.f_frsize;
        if (avail < FULL_DISK_SLACK)
            return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "store %s: %s: the disk is full (%" PRIu64 " KiB free); %s", e->path, what,
                            avail / 1024, outcome);
    }
    if (disk_refuses(e->dir))
        return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "store %s: %s: the disk is full (it refuses %" PRIu64 " KiB more); %s", e->path,
                        what, FULL_DISK_SLACK / 1024, outcome);
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && mdb_env_get_fd(e->env, &fd) == 0 &&
        fstat(fd, &st) == 0 && (uint64_t)st.st_size + FULL_DISK_SLACK > (uint64_t)rl.rlim_cur)
        return ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "store %s: %s: data.mdb reached the process's file size limit (ulimit -f: %" PRIu64
                        " bytes); %s", e->path, what, (uint64_t)rl.rlim_cur, outcome);
    if (!committed) return ent__lmdb_lerr(mrc, "store %s: %s", e->path, what);
    return ent__errd(code_of(mrc), detail_of(mrc), "store %s: %s: %s; %s", e->path, what, mdb_strerror(mrc), outcome);
}

/* LMDB's MDB_INVALID ("File is not an LMDB file") names no file and no page: which of data.mdb's
 * two meta pages fails LMDB's own tests (LMDB refuses the file when either does, and takes the
 * page size from the first), as " (...)" for the message; else, when both pass, lock.mdb (whose
 * header LMDB checks when another process has the store open). LMDB 0.9's layout: a page header
 * of 16 bytes (flags at 10), then the meta: magic, version, address, map size, and the free
 * table's record, whose pad field holds the page size. */
static const char *bad_meta(char *out, size_t n, const char *data)
{
    uint32_t psize = 0;
    int fd = open(data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    for (int i = 0; i < 2; i++) {
        unsigned char p[48];
        uint16_t flags;
        uint32_t magic;
        if (pread(fd, p, sizeof p, i ? (off_t)psize : 0) != (ssize_t)sizeof p) {
            snprintf(out, n, " (%s is too short for its meta page %d)", data, i);
            break;
        }
        memcpy(&flags, p + 10, 2);
        memcpy(&magic, p + 16, 4);
        if (!(flags & 0x08) || magic != 0xBEEFC0DEu) {
            snprintf(out, n, " (%s: meta page %d is damaged%s)", data, i, i ? "" : ", or the file is not LMDB's");
            break;
        }
        if (!i) {
            memcpy(&psize, p + 40, 4);
            if (psize < 512 || psize > 65536 || (psize & (psize - 1))) {
                snprintf(out, n, " (%s: meta page 0 is damaged: its page size %" PRIu32 " is no page size)", data, psize);
                break;
            }
        }
        if (i) snprintf(out, n, " (lock.mdb is damaged, or another LMDB's, while another process has the store open)");
    }
    close(fd);
    return out;
}

/* access() as the open was refused: with the effective ids and capabilities (access() asks with the
 * real ones, and a real root's passes over every mode: a process that dropped its capabilities, or
 * a setuid program, was told no file was at fault) */
static int eaccess_(const char *path, int mode)
{
    return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
}

/* What a reader refused its lock file may do (see lockless_read_ok) */
#define LOCKLESS_HINT "; a store whose data.mdb nobody may write (chmod a-w: a backup) is read without it while no process has it open"
/* After mdb_env_open() failed: which of the store's files is at fault, as " (...)" for the
 * message, else "": one that is not a regular file, or (EACCES) one this user lacks access to. A reader needs to write too: LMDB takes a slot of the reader table in
 * lock.mdb (made in the directory when missing) for every read txn. */
static const char *denied_file(char *out, size_t n, const char *dir, int mrc, int read_only)
{
    char data[PATH_MAX], lock[PATH_MAX];
    out[0] = 0;
    struct stat st;
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    /* LMDB names no file in its errors: "Is a directory", "No such file or directory" (a lock.mdb
     * that is a link to nowhere) left the user to guess which of the store's files is meant. */
    for (int i = 0; i < 2; i++) {
        const char *f = i ? lock : data;
        if (lstat(f, &st) == 0 && S_ISLNK(st.st_mode) && stat(f, &st) < 0) {
            snprintf(out, n, " (%s is a symbolic link to a missing file)", f);
            return out;
        }
        if (stat(f, &st) == 0 && !S_ISREG(st.st_mode)) {
            snprintf(out, n, " (%s is %s, not a file)", f, S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
            return out;
        }
    }
    if (mrc == MDB_INVALID) return bad_meta(out, n, data);
    if (mrc != EACCES && mrc != EPERM) return out;
    if (eaccess_(data, read_only ? R_OK : R_OK | W_OK) != 0)
        snprintf(out, n, " (%s is not %s by this user)", data, read_only ? "readable" : "readable and writable");
    else if (access(lock, F_OK) == 0 && eaccess_(lock, R_OK | W_OK) != 0)
        snprintf(out, n, " (%s is not writable by this user: readers too take a slot in it%s)", lock, read_only ? LOCKLESS_HINT : "");
    else if (access(lock, F_OK) != 0 && eaccess_(dir, W_OK | X_OK) != 0)
        snprintf(out, n, " (lock.mdb is missing and this user cannot create it in %s: readers too take a slot in it%s)", dir,
                 read_only ? LOCKLESS_HINT : "");
    return out;
}

int ent__lmdb_forked(const lenv *e)
{
    if (e->gen == ent__fork_gen()) return 0;
    ent__err(ENT_BUSY, "store %s was opened before fork(); a child process must open it again", e->path);
    return 1;
}

const char *ent__lmdb_tname(const lenv *e, unsigned tbl)
{
    return tbl < e->maxtab && e->tab[tbl].name ? e->tab[tbl].name : "?";
}

/* ---- the resize lock ------------------------------------------------------------------------ */

static int hold_find(const lenv *e)
{
    for (int i = 0; i < HOLD_SLOTS; i++)
        if (hold[i].e == e && hold[i].n) return i;
    return -1;
}

static _Thread_local lenv *pin_want, *pin_held; /* l_pin(), l_unpin() (backend_lmdb.c) */

/* The transactions this thread has open on e: its holds, less a pin (l_pin()), which keeps a
 * hold without a transaction, so a resize may go on under it. */
unsigned ent__lmdb_hold_depth(const lenv *e)
{
    int i = hold_find(e);
    return i < 0 ? 0 : hold[i].n - (pin_held == e ? 1 : 0);
}

int ent__lmdb_hold_any(const lenv *e) { return hold_find(e) >= 0; }

/* The resize lock shared. A resizer waits for the threads that hold it (they may each hold it
 * while waiting for something of their own) and new holders queue behind a waiting resizer, so
 * that it is not starved; except a thread that holds another store's lock already. Why: a thread
 * delivering store X's events holds X's (its commit's pin) while a subscriber's callback reads
 * store Y, and a thread in a write transaction of Y (holding Y's) may write X, which needs X's:
 * had both queued behind a waiting resizer, a resizer of Y waiting for the second and one of X
 * waiting for the first would have made a cycle, cut only by their 10 s timeouts (ThreadSanitizer
 * reported the pthread rwlock it was as a lock-order inversion). Such a thread waits only while a
 * resize runs, and a running resize waits for nobody. A pthread rwlock cannot tell a waiting
 * writer from a running one; this is the few lines that can. */
static void hold_lock_shared(lenv *e, int nested)
{
    pthread_mutex_lock(&e->rsmu);
    while (e->rs_resizing || (!nested && e->rs_waiting)) pthread_cond_wait(&e->rscv, &e->rsmu);
    e->rs_readers++;
    pthread_mutex_unlock(&e->rsmu);
}

/* Once nobody holds the lock, a waiting resizer has it at once (under rsmu): had it to wake up
 * first, a thread reading one store per entity of another in a loop (a nested holder, which
 * passes a waiting resizer) took it back each time and starved the resize. */
static void hold_grant(lenv *e)
{
    if (!e->rs_readers && !e->rs_resizing && e->rs_waiting) {
        e->rs_resizing = 1;
        e->rs_granted = 1;
    }
    pthread_cond_broadcast(&e->rscv);
}

static void hold_unlock_shared(lenv *e)
{
    pthread_mutex_lock(&e->rsmu);
    if (--e->rs_readers == 0) hold_grant(e);
    pthread_mutex_unlock(&e->rsmu);
}

/* The resize lock exclusive, waiting until dl (CLOCK_MONOTONIC) at most: 0 or ETIMEDOUT. */
static int hold_lock_resize(lenv *e, const struct timespec *dl)
{
    int rc = 0;
    pthread_mutex_lock(&e->rsmu);
    e->rs_waiting++;
    hold_grant(e);
    while (!e->rs_granted && rc == 0) rc = pthread_cond_timedwait(&e->rscv, &e->rsmu, dl);
    e->rs_waiting--;
    if (e->rs_granted) { /* also when the time ran out as it was granted */
        e->rs_granted = 0;
        rc = 0;
    } else {
        pthread_cond_broadcast(&e->rscv); /* the holders queued behind this resizer go on */
    }
    pthread_mutex_unlock(&e->rsmu);
    return rc;
}

static void hold_unlock_resize(lenv *e)
{
    pthread_mutex_lock(&e->rsmu);
    e->rs_resizing = 0;
    hold_grant(e); /* the next resizer waiting, if any */
    pthread_mutex_unlock(&e->rsmu);
}

int ent__lmdb_hold_acquire(lenv *e)
{
    int i = hold_find(e), nested = 0;
    if (i >= 0) {
        hold[i].n++;
        return ENT_OK;
    }
    for (int j = 0; j < HOLD_SLOTS; j++) nested |= hold[j].n > 0;
    for (i = 0; i < HOLD_SLOTS && hold[i].n; i++) {}
    if (i == HOLD_SLOTS)
        return ent__err(ENT_BUSY, "store %s: this thread holds transactions on %d stores already", e->path, HOLD_SLOTS);
    hold_lock_shared(e, nested);
    hold[i].e = e;
    hold[i].n = 1;
    return ENT_OK;
}

void ent__lmdb_hold_release(lenv *e)
{
    int i = hold_find(e);
    if (i < 0) return;
    if (--hold[i].n == 0) {
        hold[i].e = NULL;
        hold_unlock_shared(e);
    }
}

/* Set the map size (0: adopt the size another process set) while no txn of this process runs.
 * The calling thread holds exactly one hold (its own txn, already ended) and keeps it. */
/* Abort the cached read txns (before a resize or a close). */
static void rcache_drain(lenv *e)
{
    MDB_txn *m = atomic_exchange(&e->rslot, NULL);
    if (m) mdb_txn_abort(m);
    pthread_mutex_lock(&e->rcmu);
    while (e->nrcache > 0) mdb_txn_abort(e->rcache[--e->nrcache]);
    pthread_mutex_unlock(&e->rcmu);
    ent__lmdb_wal_drop_reader(e);
}

int ent__lmdb_unmapped(const lenv *e)
{
    if (!atomic_load(&e->unmapped)) return ENT_OK;
    return ent__err(ENT_NOMEM, "store %s: a resize of the map failed and left it unmapped (out of address "
                               "space?); close the store and open it again", e->path);
}

int ent__lmdb_resize_exclusive(lenv *e, size_t size)
{
    struct timespec dl;
    int rc, mrc = 0, i = hold_find(e); /* mrc: set when rc == 0, read only then */
    unsigned n = i < 0 ? 0 : hold[i].n; /* the txn's hold, and a pin's */
    if ((rc = ent__lmdb_unmapped(e))) return rc;
    /* A thread under a commit pin delivers its commit's events (or waits to), and threads that
     * wait for their turn after it may hold transactions: waiting for those would be a cycle, and
     * letting its hold go could queue it behind another resizer that waits for them. Its events
     * are held back instead, to the next delivery, which a commit makes whose txn began on (and
     * so adopted) the larger map (log_deliver.c). */
    if (pin_held == e)
        return ent__err(ENT_BUSY, "store %s: the map was grown by another process, and this thread delivers events "
                                  "(it picks the growth up with its next transaction)", e->path);
    if (size) {
        /* LMDB lets the old map go before it maps the new size, and a failure there leaves the
         * environment with none (see lenv.unmapped): try the address space first (ulimit -v).
         * The old map is still there, so this asks for more than LMDB will: a growth it refuses
         * may have fitted, but none that fails here crashes the next call. */
        void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return ent__err(errno == ENOMEM ? ENT_NOMEM : ENT_IO, "store %s: the map cannot grow to %zu bytes: %s",
                            e->path, size, strerror(errno));
        munmap(p, size);
    }
    /* Threads that hold a txn and wait for the writer give up now (l_txn_begin's writer_lock):
     * this resize waits for their holds. */
    pthread_mutex_lock(&e->gmu);
    e->resizing++;
    pthread_cond_broadcast(&e->gcv);
    pthread_mutex_unlock(&e->gmu);
    if (n > 1) hold[i].n = 1;
    ent__lmdb_hold_release(e);
    /* GROW_WAIT_S measured on the monotonic clock (rscv's): on the wall clock a step back (NTP,
     * an operator's date) kept the growth waiting as long as the step, also for a transaction
     * that waits for this one and never ends. */
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += GROW_WAIT_S;
    rc = hold_lock_resize(e, &dl);
    if (rc == 0) {
        rcache_drain(e); /* no txn of this process, not even a reset one, across the remap */
        mrc = mdb_env_set_mapsize(e->env, size);
        if (mrc) atomic_store(&e->unmapped, 1); /* EINVAL (a txn open) is not possible here */
        hold_unlock_resize(e);
    }
    pthread_mutex_lock(&e->gmu);
    e->resizing--;
    pthread_mutex_unlock(&e->gmu);
    ent__lmdb_hold_acquire(e); /* cannot fail: the slot was just freed */
    if (n > 1) hold[hold_find(e)].n = n;
    if (rc)
        return ent__err(ENT_BUSY, "store %s: the map must grow, but other transactions of this process stayed open for %d s",
                        e->path, GROW_WAIT_S);
    if (mrc) return ent__lmdb_lerr(mrc, "store %s: resizing the map to %zu bytes", e->path, size);
    return ENT_OK;
}

/* ---- environments --------------------------------------------------------------------------- */

char *ent__lmdb_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The fsync of a file covers its data, not the entry in its directory that names it (POSIX; ext4
 * without a journal loses a new file's name in a power cut): a durable commit into a wal or
 * data.mdb made moments before could come back as no store at all. SQLite syncs the directory of
 * a new journal the same way. */
int ent__lmdb_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
    /* A directory this process may enter and write but not read (the parent of a store under
     * /var/lib, mode 0311, say) cannot be opened to sync: as SQLite does, the store is made
     * without it rather than refused. */
    if (fd < 0) return errno == EACCES || errno == EPERM ? 0 : errno;
    if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP) err = errno;
    close(fd);
    return err;
}

int ent__lmdb_sync_parent(const char *path)
{
    size_t n = strlen(path);
    char p[PATH_MAX];
    while (n > 1 && path[n - 1] == '/') n--; /* "a/b/" names b */
    while (n > 0 && path[n - 1] != '/') n--;
    while (n > 1 && path[n - 1] == '/') n--; /* "a//b" */
    if (n == 0) return ent__lmdb_sync_dir(".");
    if (n >= sizeof p) return ENAMETOOLONG; /* open() would refuse it too */
    memcpy(p, path, n);
    p[n] = '\0';
    return ent__lmdb_sync_dir(p);
}

/* LMDB sizes its lock file with ftruncate() and writes to it through a shared mapping: on a full
 * disk the first write is a SIGBUS. A new lock file is allocated here first, and an existing one
 * with holes allocated, so a full disk is an error. 64 KiB holds LMDB's header and more than MAX_READERS reader slots (LMDB keeps a larger
 * file's size and uses the extra slots). */
/* Whether another process has the store at path open: every open handle holds byte LOCK_OPEN
 * of the write-ahead file shared (backend_lmdb_wal.c). */
static int open_elsewhere(const char *path)
{
    char *p = ent__lmdb_path_join(path, "wal");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_OPEN, .l_len = 1};
    int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1, in_use = 0;
    free(p);
    if (fd < 0) return 0;
    in_use = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return in_use;
}

/* ENT_BUSY for an opener that found no lock.mdb while another process holds the store open. */
static int lock_removed(const char *path)
{
    return ent__err(ENT_BUSY, "store %s: its lock.mdb was removed while another process has the store open; opening it "
                              "now would take locks apart from that process's (two writers at once damage the store): "
                              "end the processes that have it open, then open it again", path);
}

/* tests: called once a new lock file is made, before this opener looks for other processes */
void (*ent__lmdb_lock_made_hook)(const char *dir);

/* A new lock.mdb, made whole under a name of its own and then linked into place, so that no
 * opener uses it before its maker has looked for processes holding the store open: ENT_OK (made,
 * or another opener's is there now: EEXIST in errno, the caller's to use), ENT_BUSY (the file was
 * removed while the store is open), else an error; ENOTSUP in errno: links are not to be had on
 * this file system, the caller makes the file in place.
 *
 * Why a link. The check below (open_elsewhere) tells a lock.mdb removed under open processes from
 * a store nobody has open; made in place, a file other openers met at once (EEXIST, in the same
 * instant) let them open the store and hold it before its maker looked: the maker took them for
 * processes of a removed file, refused its own open and removed the file they were using (six
 * openers of a store copied without its lock.mdb: one refused in ~5 % of runs, and the others left
 * with a lock file apart from any that came later: two writers at once). */
static int make_lock(const char *path, const char *p)
{
    static atomic_uint made;
    char *tmp;
    int fd, err, rc = ENT_OK;
    size_t n = strlen(p) + 48;
    if (!(tmp = malloc(n))) return ent__err(ENT_NOMEM, "out of memory");
    snprintf(tmp, n, "%s.new-%ld-%u", p, (long)getpid(), atomic_fetch_add(&made, 1));
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664);
    if (fd < 0 && errno == ENAMETOOLONG) { /* a directory's path within a few bytes of PATH_MAX */
        free(tmp);
        errno = ENOTSUP;
        return ENT_OK;
    }
    if (fd < 0) {
        rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "store %s: cannot create %s: %s", path,
                      tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    err = posix_fallocate(fd, 0, 64 * 1024);
    close(fd);
    if (err) {
        rc = ent__errd(err == ENOSPC ? ENT_FULL : ENT_IO, err == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                       "store %s: cannot allocate %s: %s", path, p, strerror(err));
    } else {
        if (ent__lmdb_lock_made_hook) ent__lmdb_lock_made_hook(path);
        /* Someone holds the store open while there is no lock.mdb: removed under them (by hand, a
         * cleanup script). They keep the old file's locks and reader table, and an opener with a
         * new one took the writer beside them: two writers at once lost committed transactions (a
         * `load`'s batch gone from the store and the log, its exit 0) and damaged the free list.
         * No file is put there, so that every opener is refused until those processes end. One
         * that holds it since another opener linked its file is no such process: that file is
         * there now (only such a removal takes it away again). */
        if (open_elsewhere(path) && access(p, F_OK) != 0)
            rc = lock_removed(path);
        else if (link(tmp, p) < 0) {
            err = errno;
            if (err != EEXIST && err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != EXDEV && err != EMLINK)
                rc = ent__errd(err == ENOSPC ? ENT_FULL : ENT_IO, err == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                               "store %s: cannot link %s to %s: %s", path, tmp, p, strerror(err));
        } else {
            err = 0;
        }
    }
    unlink(tmp);
    free(tmp);
    errno = rc == ENT_OK && err ? (err == EEXIST ? EEXIST : ENOTSUP) : 0;
    return rc;
}

static int prealloc_lock(const char *path)
{
    char *p = ent__lmdb_path_join(path, "lock.mdb");
    int fd = -1, frc = 0, rc = ENT_OK;
    if (!p) return ent__err(ENT_NOMEM, "out of memory");
    int ac = access(p, F_OK) == 0 ? 0 : errno;
    if (ac == ENOENT) {
        if ((rc = make_lock(path, p)) != ENT_OK || errno != ENOTSUP) {
            if (rc == ENT_OK && errno == EEXIST) goto existing; /* another opener's, made meanwhile */
            free(p);
            return rc;
        }
        /* no links here: made in place, as before (the race above left open) */
        fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0664);
        if (fd >= 0 && open_elsewhere(path)) {
            close(fd);
            unlink(p);
            rc = lock_removed(path);
            free(p);
            return rc;
        }
    } else {
        errno = ac ? ac : EEXIST; /* another error is named below */
    }
existing:
    if (fd >= 0) {
        frc = posix_fallocate(fd, 0, 64 * 1024);
        close(fd);
        if (frc) {
            unlink(p);
            rc = ent__errd(frc == ENOSPC ? ENT_FULL : ENT_IO, frc == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                           "store %s: cannot allocate %s: %s", path, p, strerror(frc));
        }
    } else if (errno != EEXIST) {
        rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "store %s: cannot create %s: %s", path,
                      p, strerror(errno));
    } else if ((fd = open(p, O_RDWR | O_CLOEXEC)) >= 0) {
        /* An existing lock file with holes: emptied or cut (damage, a touch, a creation killed
         * before LMDB sized it, a failed allocation here) or made sparse by another LMDB
         * program. The same SIGBUS waits there. A file of 32 KiB or more keeps its size: a
         * process may have it open, and reads its reader table by that size. A shorter one no
         * process of this library uses (LMDB sizes it to 32 KiB for MAX_READERS at its first
         * open), and it is made whole. fallocate(), not posix_fallocate(): glibc's fallback,
         * where the filesystem cannot allocate, writes bytes into a file in use. Only ENOSPC is
         * an error; anything else is LMDB's to meet. */
        /* And a short one only while no process has it open: LMDB holds a lock on its byte 0
         * for as long as an environment is open (the opener that gets it exclusively sizes the
         * file). Another LMDB program (mdb_stat, a binding: 126 readers by default, 8 KiB) maps
         * the size it found: grown under it, the readers of this library take slots past its map
         * (LMDB sizes its reader table by the file), and its scans of the table read there. Taken
         * here, an opener waits for the close below and then finds the new size. */
        struct flock lk;
        struct stat st;
        off_t want = 0;
        memset(&lk, 0, sizeof lk);
        lk.l_type = F_WRLCK;
        lk.l_whence = SEEK_SET;
        lk.l_len = 1;
        if (fstat(fd, &st) == 0) {
            if (st.st_size >= 32 * 1024) want = (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size ? st.st_size : 0;
            else if (fcntl(fd, F_SETLK, &lk) == 0) want = 64 * 1024;
        }
        if (want && fallocate(fd, 0, 0, want) < 0 && (errno == ENOSPC || errno == EDQUOT))
            rc = ent__errd(ENT_FULL, ENT_DETAIL_NO_SPACE, "store %s: cannot allocate %s (its blocks were never allocated): %s", path, p,
                          strerror(errno));
        close(fd);
    }
    free(p);
    return rc;
}

/* A quarter of the address space the process may use when that is limited (ulimit -v) and less
 * than DEFAULT_MAP_SIZE, else 0: the map is address space, and the store must open under the
 * limit. */
static size_t limited_map_size(void)
{
    struct rlimit rl;
    size_t size = 0;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < DEFAULT_MAP_SIZE) {
        size = (size_t)(rl.rlim_cur / 4) & ~(size_t)0xfffff; /* whole MiB */
        if (size < ((size_t)1 << 24)) size = (size_t)1 << 24;
    }
    return size;
}

static int open_notify(lenv *e)
{
    char *p = ent__lmdb_path_join(e->path, "notify");
    int fd = -1, rc = ENT_OK;
    struct stat st;
    if (!p) return ent__err(ENT_NOMEM, "out of memory");
    /* A read-only handle still wants to register as a waiter, so it tries read-write first.
     * O_NONBLOCK: a fifo put there must be refused below, not wait for a writer in open(). */
    fd = open(p, O_RDWR | O_CLOEXEC | O_NONBLOCK | (e->read_only ? 0 : O_CREAT), 0664);
    e->nt_writable = fd >= 0;
    if (fd < 0 && e->read_only) {
        int none = errno == ENOENT;
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0 && none) {
            /* A writer's open made it between the two: still empty, maybe, which this handle
             * could not size read-only ("cannot size ...: Read-only file system", one of six
             * openers of a store copied without it). Read-write after all, as the first open
             * would have been a moment later. */
            int fd2 = open(p, O_RDWR | O_CLOEXEC | O_NONBLOCK);
            if (fd2 >= 0) {
                close(fd);
                fd = fd2;
                e->nt_writable = 1;
            }
        }
    }
    if (fd < 0) {
        if (e->read_only && errno == ENOENT) goto done; /* store from elsewhere: no notifications */
        rc = ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot open %s: %s", p, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) < 0) {
        rc = ent__err(ENT_IO, "cannot size %s: %s", p, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) { /* a directory or a fifo: "cannot map: No such device" said less */
        rc = ent__err(ENT_IO, "%s is not a regular file (the store's change notification)", p);
        goto done;
    }
    if (st.st_size < (off_t)sizeof(lnotify)) {
        /* Allocate, not just size: a mapped page with no room behind it on a full disk is a
         * SIGBUS at first touch instead of an error here. */
        int frc = e->nt_writable ? posix_fallocate(fd, 0, 4096) : EROFS;
        if (frc) {
            rc = ent__errd(frc == ENOSPC ? ENT_FULL : ENT_IO, frc == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                           "cannot size %s: %s", p, strerror(frc));
            goto done;
        }
    }
    void *m = mmap(NULL, 4096, PROT_READ | (e->nt_writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = ent__err(ENT_IO, "cannot map %s: %s", p, strerror(errno));
        goto done;
    }
    e->nt = m;
    if (e->nt_writable) { /* kept for the waiters' slot locks */
        e->ntfd = fd;
        fd = -1;
        ent__lmdb_waiters_sweep(e, -1);
    }
done:
    if (fd >= 0) close(fd);
    free(p);
    return rc;
}

/* Opens sized anew because the store outgrew the last try's room (ent__lmdb_open). */
#define OPEN_TRIES 4

unsigned ent__lmdb_tables_for(uint64_t n)
{
    uint64_t want = n + (n > 64 ? n : 64), t = DEFAULT_TABLES;
    while (t < want && t < MAX_TABLES) t *= 2;
    return (unsigned)t;
}

/* Open every named database that exists, so that handles are known before any txn needs them.
 * *more: set (to the count) when the store holds more tables than e was sized for, with nothing
 * opened: the caller opens the environment again, sized for them (maxdbs is fixed once open). */
static int load_tables(lenv *e, unsigned *more)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    char name[512];
    int mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    /* Another process grew the map since mdb_env_open(): adopt its size (no txn of this new
     * environment exists yet, which mdb_env_set_mapsize() needs) and begin again. */
    for (int tries = 0; mrc == MDB_MAP_RESIZED && tries < 100; tries++)
        if ((mrc = mdb_env_set_mapsize(e->env, 0)) == 0) mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    if (mrc) return ent__lmdb_lerr(mrc, "store %s: reading the table list", e->path);
    mdb_dbi_open(txn, NULL, 0, &e->main_dbi);
    /* Every command opens the store through here, `entity check` too: a damaged page of the main
     * table (a flipped node flag) made LMDB's cursor below die (SIGSEGV) before anything could
     * name it. Its pages are few (a record per table), read with pread first. */
    {
        int rc = ent__lmdb_check_main(e, txn);
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    {
        MDB_stat ms;
        if (mdb_stat(txn, e->main_dbi, &ms) == 0 && ent__lmdb_tables_for(ms.ms_entries) > e->maxtab &&
            e->maxtab < MAX_TABLES) {
            mdb_txn_abort(txn);
            *more = ms.ms_entries > MAX_TABLES ? MAX_TABLES : (unsigned)ms.ms_entries;
            return ENT_FULL;
        }
    }
    mrc = mdb_cursor_open(txn, e->main_dbi, &c);
    if (mrc) {
        mdb_txn_abort(txn);
        return ent__lmdb_lerr(mrc, "store %s: reading the table list", e->path);
    }
    unsigned n = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        MDB_dbi dbi;
        unsigned f = 0;
        if (k.mv_size >= sizeof name || n >= e->maxtab) continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (memchr(name, 0, k.mv_size) || mdb_dbi_open(txn, name, 0, &dbi)) continue;
        mdb_dbi_flags(txn, dbi, &f);
        e->tab[n].name = strdup(name);
        if (!e->tab[n].name) break;
        e->tab[n].dbi = dbi;
        e->tab[n].flags = (f & MDB_DUPSORT) ? ENT_TBL_DUPSORT : 0;
        e->tab[n].state = TAB_COMMITTED;
        if (dbi > e->max_dbi) e->max_dbi = dbi;
        n++;
    }
    mdb_cursor_close(c);
    mrc = mdb_txn_commit(txn); /* a read txn's commit keeps the DBIs it opened */
    if (mrc) return ent__lmdb_lerr(mrc, "store %s: reading the table list", e->path);
    return ENT_OK;
}

unsigned ent__lmdb_env_flags_for(int dur)
{
    return dur == ENT__DUR_NONE ? MDB_NOSYNC : dur == ENT__DUR_LAZY ? MDB_NOMETASYNC : 0;
}

static void env_free(lenv *e, int in_child)
{
    if (!e) return;
    if (e->env && !in_child) {
        if (!e->read_only) ent__lmdb_wal_quiesce(e);
        rcache_drain(e);
        mdb_env_close(e->env);
    }
    /* in a child the MDB_env is left as is (see the top of the file) */
    ent__lmdb_wal_close(e, in_child);
    if (e->lockfd >= 0) close(e->lockfd);
    if (e->nolockfd >= 0) close(e->nolockfd); /* after mdb_env_close: the reader is done */
    /* (in a child: its copy of the descriptor only; the parent's slot locks stay the parent's) */
    if (e->ntfd >= 0) close(e->ntfd);
    if (e->nt) munmap(e->nt, 4096);
    if (e->tab)
        for (unsigned i = 0; i < e->maxtab; i++) free(e->tab[i].name);
    free(e->tab);
    ent__lmdb_log_reset(&e->log, 0);
    free(atomic_exchange(&e->spare, NULL));
    if (!in_child) {
        pthread_mutex_destroy(&e->rsmu);
        pthread_cond_destroy(&e->rscv);
        pthread_mutex_destroy(&e->wmu);
        pthread_mutex_destroy(&e->gmu);
        pthread_mutex_destroy(&e->ntmu);
        pthread_cond_destroy(&e->gcv);
        pthread_mutex_destroy(&e->tmu);
        pthread_mutex_destroy(&e->rcmu);
        pthread_cond_destroy(&e->tcond);
    }
    free(e->path);
    free(e->dir);
    free(e);
}

/* A host that closed stdin, stdout or stderr leaves descriptors 0-2 free, and the store's files
 * would be opened on them: the host's next message to stderr then lands in data.mdb or lock.mdb
 * and destroys the store. As SQLite does (robust_open), any of them found closed is held with
 * /dev/null, opened the wrong way round (stdin for writing, the others for reading) so that the
 * host's use of it still fails with EBADF instead of reading nothing or writing into the void
 * (the entity tool does the same before it runs, coreutils' stdopen too). */
static void hold_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY); /* the lowest free descriptor: fd */
        if (got >= 0 && got != fd) close(got); /* another thread took it meanwhile: nothing to hold */
    }
}

/* A store directory without data.mdb that holds data.mdb.copying: what a copy to it writes
 * (l_copy(), backend_lmdb.c), named data.mdb once whole. "no data.mdb" alone said nothing of it,
 * and left the user to guess whether the file was a store. Its flock says whether the copy is
 * still under way or was killed part way. ENT_NOTFOUND naming it, or ENT_OK when there is none. */
static int dead_copy(const char *path)
{
    char *part = ent__lmdb_path_join(path, "data.mdb.copying");
    int fd, busy = 0;
    if (!part) return ent__err(ENT_NOMEM, "out of memory");
    if ((fd = open(part, O_RDONLY | O_CLOEXEC)) < 0) {
        free(part);
        return ENT_OK;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) < 0) busy = errno == EWOULDBLOCK;
    close(fd); /* and its lock with it */
    free(part);
    if (busy)
        return ent__err(ENT_NOTFOUND, "no libentity store at %s yet: a copy to it is under way (it writes data.mdb.copying, "
                                      "named data.mdb once whole)", path);
    return ent__err(ENT_NOTFOUND, "no libentity store at %s (no data.mdb): its data.mdb.copying is what a copy killed part way "
                                  "left, no store; run the copy again to make the store there (it takes the file over), or "
                                  "remove data.mdb.copying", path);
}

/* ---- the store at its path -------------------------------------------------------------------
 * A process keeps a store open for days (a server, a relay, a mirror, `events --follow`). Removed
 * (rm -rf) or replaced under it (a `copy --compact` or a backup moved into its place), the files it
 * has open are no one's any more: every other process reads and writes the store now at the path,
 * and the long-running one went on in silence, its writes lost to everyone else. Written three
 * times before (the relay and mirror, the HTTP server, the tool), each by stat()ing data.mdb a
 * moment after the open: a replacement in between went unseen. The open file's own identity is
 * what is compared now. */

/* dir's data.mdb, absolute: dir as given under the current directory now (not resolved: a
 * symlink switched to another store names another store). NULL when unknown.
 * Up to its last ".." component, though, the path is resolved as the open's lookup resolved it
 * (realpath): ".." is the parent of the directory before it, not a name, and "b/../a" (or
 * `-s ../store` from a release directory removed later) named the store at a through b; with b
 * moved away the stat failed and the store, still at a, was said removed. What follows the last
 * ".." is kept as given, so a symlink there switched to another store is still seen. */
static char *data_at(const char *dir, char **shown)
{
    char cwd[4096], *abs, *p, *cut = NULL, *up;
    *shown = NULL;
    if (dir[0] == '/') {
        if (!(abs = strdup(dir))) return NULL;
    } else {
        if (!getcwd(cwd, sizeof cwd)) return NULL;
        if (!(abs = ent__lmdb_path_join(cwd, dir))) return NULL;
    }
    *shown = strdup(abs); /* the messages name the path as given (made absolute) */
    for (p = strstr(abs, "/.."); p; p = strstr(p + 1, "/.."))
        if (p[3] == '/' || !p[3]) cut = p + 3;
    if (cut) {
        char keep = *cut;
        *cut = '\0';
        up = realpath(abs, NULL); /* NULL: it does not resolve now; kept as given */
        *cut = keep;
        if (up) {
            size_t n = strlen(up) + strlen(cut) + 1;
            char *r = malloc(n);
            if (r) snprintf(r, n, "%s%s", (strcmp(up, "/") || !*cut) ? up : "", cut);
            free(up);
            if (!r) {
                free(abs);
                return NULL;
            }
            free(abs);
            abs = r;
        }
    }
    p = ent__lmdb_path_join(abs, "data.mdb");
    free(abs);
    return p;
}

int ent__lmdb_at_path(ent_bk *vbe)
{
    lbe *be = (lbe *)vbe;
    struct stat held, named;
    const char *shown = be->shown ? be->shown : be->data_at;
    int fd, n;
    if (!be->data_at || mdb_env_get_fd(be->e->env, &fd) != 0 || fstat(fd, &held) != 0) return ENT_OK;
    n = be->shown ? (int)strlen(be->shown) : (int)(strlen(be->data_at) - strlen("/data.mdb"));
    if (stat(be->data_at, &named) != 0) {
        if (errno != ENOENT && errno != ENOTDIR) return ENT_OK; /* a permission taken away: it may still be it */
        return ent__err(ENT_NOTFOUND, "store %.*s: its data.mdb was removed (the store deleted or moved away): the "
                                      "files this process has open are no store at that path any more", n, shown);
    }
    if (named.st_dev == held.st_dev && named.st_ino == held.st_ino) return ENT_OK;
    return ent__err(ENT_CONFLICT, "store %.*s: its data.mdb is another file now (another store, a copy or a backup moved "
                                  "into its place): the files this process has open are no store at that path any more",
                    n, shown);
}

/* A read-only open refused its lock file (lock.mdb not writable by this user, or missing in a
 * directory it may not write) may still read the store without one (LMDB's MDB_NOLOCK, as on a
 * read-only mount) when no writer can change it meanwhile: nobody has the store open now (no
 * process holds LMDB's lock on lock.mdb's first byte, which every open environment does; a
 * missing lock.mdb has no opener) and data.mdb has no write bit for anyone, so none can open it
 * to write. That is a backup made read-only by hand (`chmod -R a-w`), whose every read command
 * was refused, its owner's too. A store another user may write is still refused: a writer that
 * started during the read would reuse pages this reader, in no reader slot, still reads. (root
 * writes a file of no write bit all the same: it is the one exception.) */
/* But root writes such a file all the same, and its owner may `chmod u+w` it again: a writer that
 * opened while such a reader read saw no reader slot, reused the pages of the reader's snapshot,
 * and the reader's scan ended early without a word (seen: 100 of 400 items). So the reader holds
 * this byte of data.mdb shared (an open-file-description lock, on a read-only descriptor: the
 * reader may not write anything), taken BEFORE it looks at lock.mdb, and every writable open
 * looks for it AFTER LMDB took lock.mdb's (no_lockless_reader): of a reader and a writer that
 * open together one sees the other. Far past any page, and LMDB locks nothing in data.mdb.
 * Writers of other libraries do not look: README, "Status" of the feature. */
#define NOLOCK_BYTE ((off_t)1 << 62)

static int data_lock(int fd, int cmd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = NOLOCK_BYTE;
    fl.l_len = 1;
    if (fcntl(fd, cmd, &fl) < 0) return -1;
    return cmd == F_OFD_GETLK ? fl.l_type != F_UNLCK : 0;
}

/* The descriptor of data.mdb that holds NOLOCK_BYTE (the reader keeps it open as long as its
 * environment), else -1: the store may not be read without lock.mdb. */
static int lockless_read_ok(const char *dir, const char *data)
{
    struct stat st;
    struct flock fl;
    char lock[PATH_MAX];
    int fd, dfd, open_now;
    if (stat(data, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0222) || eaccess_(data, R_OK) != 0) return -1;
    if ((size_t)snprintf(lock, sizeof lock, "%s/lock.mdb", dir) >= sizeof lock) return -1;
    if ((dfd = open(data, O_RDONLY | O_CLOEXEC)) < 0) return -1;
    if (data_lock(dfd, F_OFD_SETLK, F_RDLCK) < 0) {
        close(dfd);
        return -1;
    }
    if ((fd = open(lock, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT) return dfd;
        close(dfd);
        return -1;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    open_now = fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK;
    close(fd);
    if (open_now) {
        close(dfd);
        return -1;
    }
    return dfd;
}

/* A writable open, once LMDB holds lock.mdb: ENT_BUSY while a process reads the store without
 * it (see NOLOCK_BYTE), whose pages the first commit could reuse under it. */
static int no_lockless_reader(lenv *e, const char *path)
{
    int fd;
    if (mdb_env_get_fd(e->env, &fd) != 0 || data_lock(fd, F_OFD_GETLK, F_WRLCK) != 1) return ENT_OK;
    return ent__err(ENT_BUSY, "store %s: another process reads it without LMDB's lock file (a read-only open of a store "
                              "whose data.mdb had no write bit: a backup), in no reader slot; a writer would reuse "
                              "the pages it reads: open it to write once that reader closed it", path);
}

/* e->env made and set up for the store at path (its data.mdb at data), not opened yet. */
static int new_env(lenv *e, const ent_backend_opts *o, const char *path, const char *data)
{
    struct stat st;
    int mrc = mdb_env_create(&e->env);
    if (mrc) return ent__lmdb_lerr(mrc, "store %s: creating the environment", path);
    mdb_env_set_maxdbs(e->env, e->maxtab);
    mdb_env_set_maxreaders(e->env, MAX_READERS);
    /* An explicit size is a floor; without one an existing store keeps the size in its meta page,
     * unless the address space is limited: that size was chosen by a process without the limit
     * (64 GiB by default) and would not map here. LMDB keeps at least the pages in use. */
    if (o->map_size) mdb_env_set_mapsize(e->env, o->map_size);
    else if (limited_map_size()) mdb_env_set_mapsize(e->env, limited_map_size());
    else if (stat(data, &st) < 0) mdb_env_set_mapsize(e->env, DEFAULT_MAP_SIZE);
    return ENT_OK;
}

static int env_create(lenv **out, const char *path, const struct stat *dst, const ent_backend_opts *o, unsigned *more)
{
    lenv *e = calloc(1, sizeof *e);
    pthread_condattr_t ca;
    struct stat st;
    char *data = NULL;
    int mrc, rc = ENT_OK, new_files = 0;
    if (!e) return ent__err(ENT_NOMEM, "out of memory");
    e->lockfd = -1;
    e->nolockfd = -1;
    e->ntfd = -1;
    e->nt_slot = -1;
    e->dev = dst->st_dev;
    e->ino = dst->st_ino;
    e->gen = ent__fork_gen();
    e->refs = 1;
    e->read_only = o->read_only;
    e->env_dur = o->durability;
    e->maxtab = ent__lmdb_tables_for(o->max_tables);
    e->path = strdup(path);
    /* The directory for what names its files after the open (a full disk's test, the size on
     * disk): a relative path names another directory once the host has chdir()ed. */
    e->dir = path[0] == '/' ? strdup(path) : realpath(path, NULL);
    if (!e->dir) e->dir = strdup(path);
    e->tab = calloc(e->maxtab, sizeof *e->tab);
    data = ent__lmdb_path_join(path, "data.mdb");
    if (!e->path || !e->dir || !e->tab || !data) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&e->rsmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->rscv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&e->wmu, NULL);
    pthread_mutex_init(&e->gmu, NULL);
    pthread_mutex_init(&e->ntmu, NULL);
    pthread_cond_init(&e->gcv, NULL);
    pthread_mutex_init(&e->tmu, NULL);
    pthread_mutex_init(&e->rcmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->tcond, &ca);
    pthread_condattr_destroy(&ca);

    hold_std_fds();
    if ((rc = new_env(e, o, path, data))) goto fail;
    if (o->read_only || o->must_exist) {
        /* No data.mdb, or an empty one (a creation cut short: LMDB would take it for a new
         * environment, or fail with EBADF read-only): no store, and no file made here. */
        if (stat(data, &st) < 0 && errno != ENOENT) {
            rc = ent__err(errno == EACCES ? ENT_READONLY : ENT_IO, "store %s: %s: %s", path, data, strerror(errno));
            goto fail;
        }
        if (stat(data, &st) < 0 && (rc = dead_copy(path))) goto fail;
        if (stat(data, &st) < 0 || st.st_size == 0) {
            rc = ent__err(ENT_NOTFOUND, "no libentity store at %s (%s)", path,
                          stat(data, &st) < 0 ? "no data.mdb" : "its data.mdb is empty");
            goto fail;
        }
    }
    /* A read-only open makes lock.mdb too when it is missing (LMDB does, for its reader table):
     * on a full disk that was the same SIGBUS. Only a full disk stops it here: a directory it may
     * not write is LMDB's to judge (a read-only mount reads without a lock file). */
    if ((rc = prealloc_lock(path)) != ENT_OK) {
        if (!o->read_only || rc == ENT_FULL || rc == ENT_BUSY) goto fail;
        rc = ENT_OK;
    }
    /* Files this open makes (a new store, a wal deleted by hand) have their names synced below
     * (ent__lmdb_sync_dir), before a commit into them is called durable; so do files an open
     * cut short made (a wal still without a header), as that open may have died before. */
    new_files = !o->read_only && o->durability != ENT__DUR_NONE && stat(data, &st) < 0;
    /* Before LMDB reads a page: after a reboot, the pages of durable commits may be in the
     * write-ahead file only. */
    if ((rc = ent__lmdb_wal_open(e, path, o->read_only))) goto fail;
    mrc = mdb_env_open(e->env, path, MDB_NOTLS | (o->read_only ? MDB_RDONLY : 0) | ent__lmdb_env_flags_for(o->durability), 0664);
    if ((mrc == EACCES || mrc == EPERM) && o->read_only && (e->nolockfd = lockless_read_ok(path, data)) >= 0) {
        /* LMDB wants its handle closed after a failed open: a new one, set up as above */
        mdb_env_close(e->env);
        e->env = NULL;
        if ((rc = new_env(e, o, path, data))) goto fail;
        mrc = mdb_env_open(e->env, path, MDB_NOTLS | MDB_RDONLY | MDB_NOLOCK, 0664);
    }
    if (mrc == ENOMEM && o->map_size) {
        /* the mmap of the size asked for failed: say so, not only "Cannot allocate memory" */
        rc = ent__lmdb_lerr(mrc, "store %s: opening with map_size %zu (more address space than this process may map)",
                            path, o->map_size);
        goto fail;
    }
    if (mrc) {
        char why[PATH_MAX + 256];
        rc = ent__lmdb_lerr(mrc, "store %s: opening%s", path, denied_file(why, sizeof why, path, mrc, o->read_only));
        goto fail;
    }
    {
        /* LMDB opens data.mdb without O_CLOEXEC (its lock and meta descriptors have it): every
         * program a host ran by fork()+exec() or system() while the store was open held data.mdb
         * open for its whole life (a store removed meanwhile kept its space). Set here; a fork()
         * of another thread during mdb_env_open() itself can still pass it on. */
        int dfd;
        if (mdb_env_get_fd(e->env, &dfd) == 0 && dfd >= 0) {
            int fl = fcntl(dfd, F_GETFD);
            if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl(dfd, F_SETFD, fl | FD_CLOEXEC);
        }
    }
    if (!o->read_only && (rc = no_lockless_reader(e, path))) goto fail;
    {
        /* A file shorter than the pages its meta page counts (cut by a copy, a full disk, a
         * careless tool) makes the first read past its end a SIGBUS: refuse it here. Pages
         * are written before the meta page that counts them, so a live writer never trips it. */
        MDB_envinfo ei;
        MDB_stat ms;
        if (mdb_env_info(e->env, &ei) == 0 && mdb_env_stat(e->env, &ms) == 0 && stat(data, &st) == 0 &&
            ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize > (uint64_t)st.st_size) {
            rc = ent__err(ENT_CORRUPT, "store %s: data.mdb is truncated: %lld bytes, its pages need %llu", path,
                          (long long)st.st_size, (unsigned long long)(((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize));
            goto fail;
        }
    }
    if (!o->read_only && o->durability != ENT__DUR_NONE && (new_files || ent__lmdb_wal_fresh(e))) {
        /* A new store's directory may be new too (made by this open, or by the host just before):
         * its own name as well. */
        int err = ent__lmdb_sync_dir(path), perr = err || !new_files ? 0 : ent__lmdb_sync_parent(path);
        if (err || perr) {
            rc = ent__err(ENT_IO, "store %s: syncing %s after making its files: %s", path,
                          err ? "its directory" : "the directory that holds it", strerror(err ? err : perr));
            goto fail;
        }
    }
    int dead = 0;
    mdb_reader_check(e->env, &dead);
    e->maxkey = (size_t)mdb_env_get_maxkeysize(e->env);
    if (!o->read_only) {
        char *lp = ent__lmdb_path_join(path, "writer.lock");
        if (!lp) {
            rc = ent__err(ENT_NOMEM, "out of memory");
            goto fail;
        }
        e->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
        if (e->lockfd < 0) rc = ent__err(ENT_IO, "cannot open %s: %s", lp, strerror(errno));
        free(lp);
        if (rc) goto fail;
    }
    if ((rc = open_notify(e)) || (rc = load_tables(e, more))) goto fail;
    ent__lmdb_wal_attach(e);
    free(data);
    *out = e;
    return ENT_OK;
fail:
    free(data);
    env_free(e, 0);
    return rc;
}

/* Whether the data.mdb environment e has open is no longer the one in directory path (replaced, or
 * removed): then 1. A file that cannot be told (a stat refused) counts as the same, as at_path has it. */
static int data_replaced(lenv *e, const char *path)
{
    struct stat held, named;
    char *p;
    int fd, r = 0;
    if (mdb_env_get_fd(e->env, &fd) != 0 || fstat(fd, &held) != 0 || !(p = ent__lmdb_path_join(path, "data.mdb")))
        return 0;
    if (stat(p, &named) != 0) r = errno == ENOENT;
    else r = named.st_dev != held.st_dev || named.st_ino != held.st_ino;
    free(p);
    return r;
}

int ent__lmdb_open(ent_bk **out_be, const char *path, const ent_backend_opts *opts)
{
    ent_backend_opts o = {0};
    struct stat st;
    lbe *be;
    lenv *e;
    int rc = ENT_OK;
    if (opts) o = *opts;
    if (o.durability < ENT__DUR_DURABLE || o.durability > ENT__DUR_NONE)
        return ent__err(ENT_INVALID, "durability %d is not one of durable (0), lazy (1), none (2)", o.durability);
    if (!path || !*path) return ent__err(ENT_INVALID, "the lmdb backend needs a directory path");
    if (o.arg) return ent__err(ENT_INVALID, "the lmdb backend takes no argument (\"%s\")", o.arg);
    pthread_once(&fork_once, fork_init);
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) return ent__err(ENT_IO, "store %s: %s", path, strerror(errno));
        if (o.read_only || o.must_exist) return ent__err(ENT_NOTFOUND, "no store at %s", path);
        if (mkdir(path, 0775) < 0 && errno != EEXIST)
            return ent__err(errno == EACCES || errno == EROFS ? ENT_READONLY : ENT_IO, "cannot create store directory %s: %s",
                            path, strerror(errno));
        if (stat(path, &st) < 0) return ent__err(ENT_IO, "store %s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return ent__err(ENT_INVALID, "store %s is not a directory", path);
    be = calloc(1, sizeof *be);
    if (!be) return ent__err(ENT_NOMEM, "out of memory");
    be->dur = o.durability;
    be->read_only = o.read_only;

    pthread_mutex_lock(&reg_mu);
    unsigned gen = ent__fork_gen();
    for (e = reg_head; e; e = e->next)
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->gen == gen) break;
    if (e) {
        if (e->read_only && !o.read_only) {
            rc = ent__err(ENT_BUSY, "store %s is already open read-only in this process; close it before opening it for writing",
                          path);
        } else if (data_replaced(e, path)) {
            /* The environment found by the directory holds the data.mdb that was there before
             * it was replaced (a copy or a backup moved into its place, or the directory removed
             * and made again): it was handed out with ENT_OK, the files no longer at the path. A
             * second environment on the directory would share lock.mdb with the first (LMDB: one
             * per process), so the open waits for the old handles to close. */
            rc = ent__err(ENT_BUSY, "store %s: its data.mdb was replaced or removed while this process still has the one "
                                    "that was there open (ent_store_check_path() says so on those handles); close them "
                                    "before opening the store now there", path);
        } else {
            e->refs++;
        }
    } else {
        unsigned more = 0;
        rc = env_create(&e, path, &st, &o, &more);
        /* The store holds more tables than o asked room for: again, sized for them. Another
         * process may add tables between two tries (an evolution on its open): so again while
         * that goes on, a few times. Once only, that left a stale ENT_FULL with no message. Each
         * try's room is at least twice the tables the last one found. */
        for (int tries = 1; more && tries < OPEN_TRIES; tries++) {
            o.max_tables = more > o.max_tables ? more : o.max_tables;
            more = 0;
            rc = env_create(&e, path, &st, &o, &more);
        }
        if (more)
            rc = ent__err(ENT_BUSY, "store %s: other processes added tables each time it was opened (%d tries, %u "
                                    "tables at the last); open it again", path, OPEN_TRIES, more);
        if (rc == ENT_OK) {
            e->next = reg_head;
            reg_head = e;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    if (rc) {
        free(be);
        return rc;
    }
    be->e = e;
    be->data_at = data_at(path, &be->shown);
    *out_be = (ent_bk *)be;
    return ENT_OK;
}

void ent__lmdb_close(ent_bk *vbe)
{
    lbe *be = (lbe *)vbe;
    lenv *e, **pp;
    int in_child;
    if (!be) return;
    e = be->e;
    free(be->data_at);
    free(be->shown);
    free(be);
    in_child = e->gen != ent__fork_gen();
    pthread_mutex_lock(&reg_mu);
    if (--e->refs > 0) {
        pthread_mutex_unlock(&reg_mu);
        return;
    }
    for (pp = &reg_head; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    env_free(e, in_child);
}

/* ---- op log --------------------------------------------------------------------------------- */

static void *arena_alloc(loplog *l, size_t n)
{
    lchunk *c = l->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = l->chunks;
        l->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += (n + 15) & ~(size_t)15;
    if (c->used > c->cap) c->used = c->cap;
    return p;
}

void ent__lmdb_log_reset(loplog *l, int keep)
{
    lchunk *c = l->chunks, *keepc = NULL;
    while (c) {
        lchunk *next = c->next;
        if (keep && !next && c->cap == 65536) {
            c->used = 0;
            keepc = c;
        } else {
            free(c);
        }
        c = next;
    }
    l->chunks = keepc;
    l->n = 0;
    l->bytes = 0;
    if (!keep) {
        free(l->ops);
        l->ops = NULL;
        l->cap = 0;
    }
}

int ent__lmdb_log_add(ltxn *t, int op, unsigned tbl, unsigned mflags, const MDB_val *k, const MDB_val *v)
{
    loplog *l = &t->e->log;
    lop *o;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        lop *ops = realloc(l->ops, cap * sizeof *ops);
        if (!ops) goto nomem;
        l->ops = ops;
        l->cap = cap;
    }
    o = &l->ops[l->n];
    o->op = op;
    o->tbl = tbl;
    o->mflags = mflags;
    o->klen = k ? k->mv_size : 0;
    o->vlen = v ? v->mv_size : 0;
    o->k = o->v = NULL;
    if (o->klen && !(o->k = arena_alloc(l, o->klen))) goto nomem;
    if (o->vlen && !(o->v = arena_alloc(l, o->vlen))) goto nomem;
    if (o->klen) memcpy(o->k, k->mv_data, o->klen);
    if (o->vlen) memcpy(o->v, v->mv_data, o->vlen);
    l->bytes += o->klen + o->vlen;
    l->n++;
    return ENT_OK;
nomem:
    /* The write happened but could not be recorded: the txn could not survive a map growth. */
    t->failed = ENT_NOMEM;
    t->failed_detail = ENT_DETAIL_NONE;
    return ent__err(ENT_NOMEM, "store %s: out of memory recording a write", t->e->path);
}

/* ---- the commit pin (backend.h: pin/unpin) ------------------------------------------------- */

/* The next commit of this thread on e keeps its hold past the commit (taken after any map growth,
 * which needs the thread's only hold); unpin lets it go. */
void ent__lmdb_pin(lenv *e) { pin_want = e; }

void ent__lmdb_unpin(lenv *e)
{
    if (pin_held == e) {
        pin_held = NULL;
        ent__lmdb_hold_release(e);
    }
    pin_want = NULL;
}

/* Called by a commit once it is done with the map: take the hold a pin asked for. */
void ent__lmdb_pin_commit(lenv *e)
{
    if (pin_want == e && !pin_held && ent__lmdb_hold_acquire(e) == ENT_OK) pin_held = e; /* cannot wait: held */
    pin_want = NULL;
}
