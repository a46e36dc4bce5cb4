/* A store as the next boot finds it, for the tests of the LMDB write-ahead file: its data.mdb and
 * wal copied to another directory, the file's header rewritten to say another boot wrote it, so
 * that the copy's first writable open puts back what the records hold over data.mdb. Include
 * after test_util.h. */
#ifndef ENT_TEST_REBOOT_H
#define ENT_TEST_REBOOT_H

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "backend_lmdb_wal.h"

/* Copy from_dir's store into out (made anew). drop_last: also lose the file's last record of its
 * generation, as a power cut before that record's sync may. */
static inline void ent_test_reboot_copy(const char *from_dir, const char *out, int drop_last)
{
    static const char *const names[] = {"data.mdb", "wal"};
    ent_test_rm_rf(out);
    CU_ASSERT_EQUAL_FATAL(mkdir(out, 0755), 0);
    for (int i = 0; i < 2; i++) {
        char from[ENT_TEST_PATH_MAX + 16], to[ENT_TEST_PATH_MAX + 16], buf[65536];
        CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/%s", from_dir, names[i]) == 0);
        CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/%s", out, names[i]) == 0);
        int in = open(from, O_RDONLY), o = open(to, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CU_ASSERT_FATAL(in >= 0 && o >= 0);
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0) CU_ASSERT_FATAL(write(o, buf, (size_t)n) == n);
        close(in);
        if (i == 1) {
            wal_hdr h;
            CU_ASSERT_FATAL(pread(o, &h, sizeof h, 0) == (ssize_t)sizeof h);
            if (drop_last) {
                wal_rec r;
                uint64_t off = REC_START, last_off = 0, prev;
                for (prev = h.base; pread(o, &r, sizeof r, (off_t)off) == (ssize_t)sizeof r && r.magic == REC_MAGIC &&
                                    r.gen == h.gen && r.prev == prev;
                     prev = r.txn) {
                    last_off = off;
                    off += sizeof r + r.npages * sizeof(wal_page) + META_LEN + r.bytes;
                }
                if (last_off) {
                    memset(&r, 0, sizeof r);
                    CU_ASSERT_FATAL(pwrite(o, &r, sizeof r, (off_t)last_off) == (ssize_t)sizeof r);
                }
            }
            memset(h.boot, 0, sizeof h.boot);
            memcpy(h.boot, "a later boot", 12);
            h.csum = 0;
            h.csum = XXH3_64bits(&h, sizeof h);
            CU_ASSERT_FATAL(pwrite(o, &h, sizeof h, 0) == (ssize_t)sizeof h);
        }
        close(o);
    }
}

#endif
