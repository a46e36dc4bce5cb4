#!/usr/bin/env bash
# entity-bench's group commit rows on warm stores (--threads): every thread count gives its
# create_threads_warm row, and the bench checks itself that the warm-up left what the row claims
# (the library's write-ahead file grown to its 64 MiB, SQLite's WAL file still there), exiting 1
# otherwise. SQLite deleted its WAL file each time the last connection of a warm-up round closed.
# And the rows where nothing syncs (LMDB none, memory; each call alone against grouped) are there,
# and where a group's time goes (ent_store_group_stats()): one thread's calls are groups of one,
# more threads' at least that, and each durable group spent time in its sync.
set -u
B=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$B" --threads --runs 1 --n 100 --json --dir "$work" >"$work/out" 2>"$work/err"; then
  echo "FAIL: entity-bench --threads exited non-zero: $(head -c 600 "$work/err")"
  exit 1
fi
python3 - "$work/out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
warm = {r["threads"]: r for r in rows if r.get("op") == "create_threads_warm"}
cold = {r["threads"]: r for r in rows if r.get("op") == "create_threads"}
bad = []
for t in (1, 2, 4, 8, 16):
    if t not in warm or t not in cold:
        bad.append("threads %d: a row is missing" % t)
        continue
    if warm[t]["warm_creates"] <= 0 or cold[t]["warm_creates"] != 0:
        bad.append("threads %d: warm_creates %s (warm row), %s (new store)" % (t, warm[t]["warm_creates"], cold[t]["warm_creates"]))
    for r in (warm[t], cold[t]):
        if not r["ops_per_s"] > 0 or not r["sqlite_ops_per_s"] > 0:
            bad.append("threads %d %s: ops/s %s, sqlite %s" % (t, r["op"], r["ops_per_s"], r["sqlite_ops_per_s"]))
# where nothing syncs: calls alone (ENT_GROUP_AUTO there) and grouped, on both backends
nos = {(r["backend"], r["threads"]): r for r in rows if r.get("op") == "create_threads_nosync"}
for be in ("lmdb", "memory"):
    for t in (1, 2, 4, 8, 16):
        r = nos.get((be, t))
        if not r:
            bad.append("create_threads_nosync %s threads %d: row missing" % (be, t))
        elif not r["alone_ops_per_s"] > 0 or not r["grouped_ops_per_s"] > 0:
            bad.append("create_threads_nosync %s threads %d: %s / %s" % (be, t, r["alone_ops_per_s"], r["grouped_ops_per_s"]))
ph = {(r["op"], r["threads"]): r for r in rows if r.get("op") in ("group_phases", "group_phases_warm")}
for op in ("group_phases", "group_phases_warm"):
    for t in (1, 2, 4, 8, 16):
        r = ph.get((op, t))
        if not r:
            bad.append("%s threads %d: row missing" % (op, t))
            continue
        if (t == 1 and r["calls_per_group"] != 1) or r["calls_per_group"] < 1 or r["calls_per_group"] > t:
            bad.append("%s threads %d: %s calls per group" % (op, t, r["calls_per_group"]))
        if not r["sync_us"] > 0 or not r["run_us"] > 0 or not r["commit_us"] > 0:
            bad.append("%s threads %d: run %s, commit %s, sync %s us" % (op, t, r["run_us"], r["commit_us"], r["sync_us"]))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
