/* Test-only control of the fault backend (backend_fault.c): make its N-th call fail.
 *
 * The fault backend ("fault", or "fault:<inner>" such as "fault:memory"; the inner backend is the
 * default one, lmdb, when none is named) forwards every call to its inner backend and counts the
 * calls that can fail: open, table, txn_begin, txn_commit (also txn_commit_unsynced), get, put,
 * del, clear, cursor_open, cursor_get, info, wait_change, copy, set_durability, sp_begin, sp_end,
 * sync, check_pages (not close, txn_abort, cursor_close,
 * limits, change_counter, snapshot_id, pin, unpin: those cannot report an error). The counter and
 * the arming are process-wide (every open fault store shares them) and thread-safe.
 *
 * A fault-injection loop:
 *     ent__fault_reset(); workload(); n = ent__fault_calls();
 *     for (i = 1; i <= n; i++) { ent__fault_reset(); ent__fault_arm(i, ENT_IO); workload(); check(); }
 * An injected failure returns `rc` with the message "fault injected: call <n> (<call>) fails with
 * <code text>" and does not reach the inner backend, except a failed txn_commit, which aborts the
 * inner transaction (a commit ends the transaction whatever its code).
 */
#ifndef ENT_BACKEND_FAULT_H
#define ENT_BACKEND_FAULT_H

#include <stdint.h>

/* Count from 0 again, disarmed, nothing fired. */
void ent__fault_reset(void);
/* Calls counted since the last reset (injected failures included). */
uint64_t ent__fault_calls(void);
/* Make the n-th counted call since the last reset (1-based) fail with rc (an ENT_* error such as
 * ENT_IO, ENT_FULL, ENT_NOMEM, ENT_CORRUPT); only that one. n == 0 or rc == ENT_OK disarms. */
void ent__fault_arm(uint64_t n, int rc);
/* The same, and every later call fails too (a disk that went away). */
void ent__fault_arm_sticky(uint64_t n, int rc);
void ent__fault_disarm(void);
/* Make the n-th call named `call` ("txn_commit", "sync", "sp_end", ...: the names above; a
 * static string) from now on fail with rc; only that one. Disarmed by reset and disarm. */
void ent__fault_arm_named(const char *call, uint64_t n, int rc);
/* Run fn(payload) once, in the calling thread, just before the n-th counted call from now on
 * (1-based; of those named `call` when it is not NULL, such as "txn_begin") reaches the inner
 * backend: another process's commit at that point of a workload (a schema evolution between two
 * steps of a request). fn must not wait for this store's writer when the call may be made while
 * holding it. n == 0 or fn NULL disarms (and waits for a hook running meanwhile to return); so
 * does reset (without the wait). */
void ent__fault_hook(const char *call, uint64_t n, void (*fn)(void *payload), void *payload);
/* Failures injected since the last reset. */
uint64_t ent__fault_fired(void);

#endif
