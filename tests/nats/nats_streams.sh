#!/usr/bin/env bash
# Streams that an operator made or changed by hand, through a real nats-server (started here on
# 127.0.0.1, a free port, a temporary directory; stopped at the end). Never skipped where
# libentity-nats is built.
#   nats_streams.sh ENTITY_BIN NATS_PROBE_BIN SOURCE_DIR
# What it shows (each case a primary and stream of its own):
#  - a stream made beforehand for every store's events ("entity.*.>") takes the relay's messages
#    and builds a mirror (the relay refused it, telling the operator to add the store's subjects,
#    which JetStream refuses as an overlap); a JetStream mirror of it builds a mirror store too, and
#    a relay pointed at that one exits 1 naming the stream it mirrors;
#  - a stream that keeps messages only while consumers want them (retention interest or
#    workqueue) is refused by relay and mirror with one line, exit 1, also without --once (the
#    relay called an interest stream, which kept nothing, "the log up to seq N" and its next run
#    stopped; a mirror took the workqueue refusal for an outage and waited for ever);
#  - a stream purged once every mirror had its messages, then the relay run again (or reconnected)
#    within the duplicate window: it goes on with the next write (it published schema version 1
#    again, JetStream dropped it as a duplicate and the relay stopped, exit 1), and the mirror
#    follows;
#  - a mirror stopped while it waits for a stream, in a directory its run made, leaves none;
#  - a password or token in the URL is in none of the lines relay and mirror print;
#  - a stream deleted and made again by hand while the relay waits gets the log from seq 1;
#  - a max_msg_size lowered by hand under a running relay leaves no gap;
#  - credentials the server refuses end relay and mirror, exit 1 (they retried for ever);
#  - a relay's publish answered as a duplicate of a message the stream holds (stored from the
#    connection before, after the resume read the stream: a stalled server): the relay resumes
#    from the stream and goes on, each seq once (it stopped, exit 1, saying it was deleted);
#  - a stream made by hand with the store's subjects split over two patterns: refused, naming a
#    remedy JetStream takes (it told to add the store's subject, which JetStream refuses);
#  - a URL whose port no client can use: relay and mirror exit 1 naming it (they retried for ever);
#  - a primary replaced under its running relay, a mirror's store removed under the running
#    mirror: each exits 1 naming it (they went on in silence with files no one else reaches);
#  - a stream lost after the relay published the log, filled again from seq 1: trim keeps what it
#    lacks (the relay's checkpoint let trim drop it, and the stream could never be filled);
#  - a mirror pointed at a stream whose subjects never carry its primary's messages exits 1 naming
#    them (it waited for ever);
#  - a relay whose checkpoint was behind the stream, run after a purge within the duplicate window:
#    the drops of what the purge took are its acks (it stopped, exit 1, for the window).
set -uo pipefail
E=$1; PROBE=$2; SRC=$3
W=$(mktemp -d "${TMPDIR:-/tmp}/entity-nats-streams.XXXXXX")
PIDS=()
fails=0
say() { echo "nats_streams: $*"; }
bad() { echo "nats_streams: FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "${NPID:-}" ] && kill -9 "$NPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
# The port stays bound by one process for the whole run (SO_REUSEADDR, never listening), as in
# nats_test.sh: no other suite's bind to port 0 gets it while nats-server takes it.
python3 -c '
import signal, socket
held = []
for _ in range(2):  # the second: a server that asks for a password (case 10)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held), flush=True)
signal.pause()
' >"$W/ports" & PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/ports" ] && break; sleep 0.05; done
read -r PORT PORT2 <"$W/ports" || { say "no port held"; exit 1; }
URL=nats://127.0.0.1:$PORT
nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$W/js" >>"$W/nats.log" 2>&1 & NPID=$!
# (30 s: a bound on a broken start only; 5 s could be a slow one on a loaded machine)
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
(echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null || { say "nats-server did not start"; cat "$W/nats.log"; exit 1; }

sid() { "$E" -s "$1" stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
# same PRIMARY MIRROR WHAT: dump, events and schema equal, check ok
same() {
  local p=$1 m=$2 what=$3 ok=1
  cmp -s <("$E" -s "$p" dump) <("$E" -s "$m" dump) || { bad "$what: dump differs"; diff <("$E" -s "$p" dump) <("$E" -s "$m" dump) | head -4; ok=0; }
  cmp -s <("$E" -s "$p" events) <("$E" -s "$m" events) || { bad "$what: events differ"; diff <("$E" -s "$p" events) <("$E" -s "$m" events) | head -4; ok=0; }
  cmp -s <("$E" -s "$p" schema) <("$E" -s "$m" schema) || { bad "$what: schema differs"; ok=0; }
  [ "$("$E" -s "$m" check 2>&1)" = ok ] || { bad "$what: mirror check: $("$E" -s "$m" check 2>&1 | head -3)"; ok=0; }
  [ $ok = 1 ] && say "ok: $what: dump, events, schema equal, check ok"
}
# put STORE NAME...: one customer each
put() {
  local s=$1; shift
  for n in "$@"; do echo "{\"name\":\"$n\",\"email\":\"$n@x\"}" | "$E" -s "$s" put customer - >/dev/null || bad "put $n"; done
}

# 1. A stream for every store's events, made by hand before any relay ran.
P=$W/wild; M=$W/wild-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" a b
"$PROBE" mkkeep "$URL" ALL 'entity.*.>' limits || exit 1
out=$(timeout 30 "$E" -s "$P" relay --nats "$URL" --stream ALL --once 2>&1); rc=$?
if [ $rc = 0 ]; then say "ok: a relay publishes to a stream of subjects entity.*.>"
else bad "relay to a stream of subjects entity.*.>: exit $rc: $out"; fi
"$PROBE" check "$URL" ALL "$(sid "$P")" 2 >/dev/null || bad "stream ALL: $("$PROBE" check "$URL" ALL "$(sid "$P")" 2 2>&1)"
timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream ALL --once 2>/dev/null || bad "mirror of stream ALL: exit $?"
same "$P" "$M" "a mirror from a stream of subjects entity.*.>"
# A JetStream mirror of that stream (a read replica): a mirror store is built from it as from
# ALL, and a relay pointed at it exits 1 naming the stream it mirrors (it said to add the store's
# subjects to it, which JetStream refuses for a mirror).
"$PROBE" mkmirror "$URL" ALLCOPY ALL || exit 1
M2=$W/wild-m2; ok=0
for _ in $(seq 300); do
  timeout 30 "$E" -s "$M2" mirror --nats "$URL" --stream ALLCOPY --once >/dev/null 2>&1
  [ "$("$E" -s "$M2" stat 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["mirror_of"]["applied_seq"])' 2>/dev/null)" = 2 ] && { ok=1; break; }
  sleep 0.1
done
[ $ok = 1 ] || bad "no mirror store built from a JetStream mirror of the stream"
same "$P" "$M2" "a mirror from a JetStream mirror of the stream"
out=$(timeout 30 "$E" -s "$P" relay --nats "$URL" --stream ALLCOPY 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q "JetStream mirror of stream ALL"; then say "ok: a relay to a JetStream mirror stream exits 1 naming its origin"
else bad "relay to a JetStream mirror stream: exit $rc: $out"; fi
"$PROBE" rmstream "$URL" ALLCOPY || exit 1
"$PROBE" rmstream "$URL" ALL || exit 1

# 2. Streams that keep a message only while consumers want it. Both refused in one line, exit 1,
# without --once too (the timeout only bounds a relay or mirror that would wait for ever).
for keep in interest workqueue; do
  P=$W/keep-$keep; M=$W/keep-$keep-m
  "$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
  put "$P" a
  "$PROBE" mkkeep "$URL" K$keep "entity.$(sid "$P").>" $keep || exit 1
  out=$(timeout 30 "$E" -s "$P" relay --nats "$URL" --stream K$keep 2>&1); rc=$?
  if [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && printf '%s' "$out" | grep -q "retention $keep"; then
    say "ok: a relay to a stream of retention $keep exits 1 naming it"
  else bad "relay to a stream of retention $keep: exit $rc: $out"; fi
  out=$(timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream K$keep 2>&1); rc=$?
  if [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && printf '%s' "$out" | grep -q "retention $keep"; then
    say "ok: a mirror of a stream of retention $keep exits 1 naming it"
  else bad "mirror of a stream of retention $keep: exit $rc: $out"; fi
  [ -e "$M" ] && bad "a mirror refused with retention $keep left its directory"
done

# 3. A stream purged once every mirror had its messages, then the relay run again within the
# duplicate window (2 min, the stream is the relay's own): it resumes after its checkpoint, not
# publishing schema version 1 again, and the mirror goes on with the next write.
P=$W/purged; M=$W/purged-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" a b
timeout 30 "$E" -s "$P" relay --nats "$URL" --stream PURGED --once 2>/dev/null || bad "relay before the purge: exit $?"
timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream PURGED --once 2>/dev/null || bad "mirror before the purge: exit $?"
"$PROBE" purge "$URL" PURGED || exit 1
# a new mirror of the purged stream says what became of its messages (it said "no messages yet",
# then "purged, or dropped by its limits" and exit 0): the stream has no limits that drop them,
# and no mirror can be built from it (exit 1)
out=$(timeout 30 "$E" -s "$W/purged-new" mirror --nats "$URL" --stream PURGED --once 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q "were removed; a new mirror" &&
   printf '%s' "$out" | grep -q "has no limits that drop messages" && [ ! -e "$W/purged-new" ]; then
  say "ok: a new mirror of a purged stream says its messages were removed, by hand: $out"
else bad "a new mirror of a purged stream: exit $rc: $out"; fi
put "$P" c
out=$(timeout 30 "$E" -s "$P" relay --nats "$URL" --stream PURGED --once 2>&1); rc=$?
if [ $rc = 0 ]; then say "ok: a relay run again after a purge goes on"
else bad "relay after a purge: exit $rc: $out"; fi
timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream PURGED --once 2>/dev/null || bad "mirror after the purge: exit $?"
same "$P" "$M" "a mirror after a purge and the relay run again"

# 4. A mirror stopped (SIGTERM) while it waits for a stream no relay made yet, in a directory
# that run made: exit 0 and no directory left (it kept one with mirror.lock alone, "no libentity
# store" to every command, as a failed run once did).
M=$W/waiting-m
"$E" -s "$M" mirror --nats "$URL" --stream NOTYET 2>"$W/waiting.err" & MP=$!; PIDS+=($MP)
for _ in $(seq 600); do grep -q waiting "$W/waiting.err" && break; sleep 0.05; done
grep -q waiting "$W/waiting.err" || bad "the mirror of stream NOTYET did not say it waits: $(cat "$W/waiting.err")"
kill -TERM $MP; wait $MP; rc=$?
[ $rc = 0 ] || bad "the waiting mirror stopped by SIGTERM: exit $rc"
if [ -e "$M" ]; then bad "a mirror stopped while waiting for its stream left $(ls "$M")"
else say "ok: a mirror stopped while waiting for its stream leaves no directory"; fi
# the same with a file the user put in that directory meanwhile: it stays, and so does the
# directory (the stop unlinked every regular file there once the store's open said "no store")
"$E" -s "$M" mirror --nats "$URL" --stream NOTYET 2>"$W/waiting2.err" & MP=$!; PIDS+=($MP)
for _ in $(seq 600); do grep -q waiting "$W/waiting2.err" && break; sleep 0.05; done
echo keep >"$M/notes.txt"
kill -TERM $MP; wait $MP; rc=$?
if [ $rc = 0 ] && [ "$(cat "$M/notes.txt" 2>/dev/null)" = keep ] && [ ! -e "$M/mirror.lock" ]; then
  say "ok: a mirror stopped while waiting keeps a file put in its directory, and takes back its lock file"
else bad "a mirror stopped while waiting, a file put in its directory: exit $rc, left: $(ls -A "$M" 2>&1)"; fi
rm -rf "$M"

# mirror --once of a stream that holds no message yet: exit 0, one line saying so, no directory
# (a second line said the directory "holds store  up to seq 0", no store id, of one it removed).
"$PROBE" mkkeep "$URL" EMPTY "entity.nobody.>" limits || exit 1
out=$(timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream EMPTY --once 2>&1); rc=$?
if [ $rc = 0 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && printf '%s' "$out" | grep -q "no messages" && [ ! -e "$M" ]; then
  say "ok: mirror --once of an empty stream: one line, exit 0, no directory"
else bad "mirror --once of an empty stream: exit $rc, $([ -e "$M" ] && echo "a directory left, ")$out"; fi

# 5. The stream deleted and made again by hand (empty, the store's subjects) while the relay waits
# for writes, then a write: the new stream gets the log from seq 1 (the relay's next publish went
# into it without an error, the stream began at seq 4, no mirror could be built from it, and the
# relay said nothing). The waits end as soon as the stream holds what is awaited.
P=$W/remade; M=$W/remade-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" a b c
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream REMADE 2>"$W/remade.err" & RP=$!; PIDS+=($RP)
held() { for _ in $(seq 300); do "$PROBE" check "$URL" REMADE "$ID" "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
held 3 || bad "the relay did not publish 1..3: $("$PROBE" check "$URL" REMADE "$ID" 3 2>&1)"
"$PROBE" rmstream "$URL" REMADE && "$PROBE" mkstream "$URL" REMADE "entity.$ID.>" 120000 || exit 1
put "$P" d
if held 4; then say "ok: a stream made again by hand under a waiting relay gets the log from seq 1"
else bad "stream made again by hand under a waiting relay: $("$PROBE" check "$URL" REMADE "$ID" 4 2>&1); relay: $(cat "$W/remade.err")"; fi
grep -q "stream REMADE was deleted" "$W/remade.err" || bad "the relay did not say the stream was deleted: $(cat "$W/remade.err")"
kill -TERM $RP; wait $RP || bad "the relay stopped by SIGTERM: exit $?"
timeout 30 "$E" -s "$M" mirror --nats "$URL" --stream REMADE --once 2>/dev/null || bad "mirror of the stream made again: exit $?"
same "$P" "$M" "a mirror of the stream made again by hand"

# 6. The stream's max_msg_size lowered by hand under a running relay, then one transaction of a
# larger event and a small one: the relay stops (exit 1) naming the larger event, and the stream
# holds nothing after it (the relay checked against the size it read when it connected, JetStream
# refused the event and stored the one sent behind it: a gap, which the next run went on after).
P=$W/shrunk
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" a
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream SHRUNK 2>"$W/shrunk.err" & RP=$!; PIDS+=($RP)
for _ in $(seq 300); do "$PROBE" check "$URL" SHRUNK "$ID" 1 >/dev/null 2>&1 && break; sleep 0.1; done
"$PROBE" check "$URL" SHRUNK "$ID" 1 >/dev/null || bad "the relay did not publish seq 1: $("$PROBE" check "$URL" SHRUNK "$ID" 1 2>&1)"
"$PROBE" maxsize "$URL" SHRUNK 2000 || exit 1
python3 -c '
import json
print(json.dumps({"type":"customer","key":2,"version":1,"data":{"name":"x"*3000,"email":"big@x"}}))
print(json.dumps({"type":"customer","key":3,"version":1,"data":{"name":"small","email":"small@x"}}))' |
  "$E" -s "$P" load --batch 2 >/dev/null 2>&1 || bad "load of the two events"
# (30 s: a bound on a relay that never stops; it ends as soon as the relay does)
timeout 30 tail --pid=$RP -f /dev/null || kill -9 $RP
wait $RP; rc=$?
if [ "$rc" = 1 ] && grep -q "event seq 2" "$W/shrunk.err" && grep -q "max_msg_size of 2000" "$W/shrunk.err"; then
  say "ok: a relay under a max_msg_size lowered by hand stops naming the event too large"
else bad "relay under a lowered max_msg_size: exit $rc: $(cat "$W/shrunk.err")"; fi
"$PROBE" check "$URL" SHRUNK "$ID" 1 >/dev/null || bad "stream SHRUNK after the refusal: $("$PROBE" check "$URL" SHRUNK "$ID" 1 2>&1)"

# 7. A password or token in the URL (nats://user:pw@host, nats://token@host; this server asks for
# none and takes them) is not in any line relay and mirror print: it was in every one of them.
P=$W/creds; M=$W/creds-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" a
HP=127.0.0.1:$PORT
out=$(timeout 30 "$E" -s "$P" relay --nats "nats://alice:pw-S3CRET@$HP" --stream CREDS --once 2>&1) || bad "relay with credentials: exit $?: $out"
# a password holding '/' (libnats reads the user info up to the last '@'), and URLs refused
# before any connection (white space, a bad scheme, no host): each named without its secret
out+=$(timeout 30 "$E" -s "$P" relay --nats "nats://alice:pw/S3CRET@$HP" --stream CREDS --once 2>&1)
for u in "nats://alice:pw-S3CRET@host x" "http://alice:pw-S3CRET@$HP" "nats://alice:pw-S3CRET@127.0.0.1:1,nats://" ; do
  o=$(timeout 30 "$E" -s "$P" relay --nats "$u" --stream CREDS --once 2>&1) && bad "relay --nats '$u': exit 0"
  out+=$o
done
out+=$(timeout 30 "$E" -s "$M" mirror --nats "nats://tok-S3CRET@$HP" --stream CREDS --once 2>&1) || bad "mirror with a token: exit $?: $out"
out+=$(timeout 30 "$E" -s "$P" relay --nats "nats://alice:pw-S3CRET@127.0.0.1:1,$HP" --stream CREDS --once 2>&1)
out+=$(timeout 30 "$E" -s "$P" relay --nats "nats://alice:pw-S3CRET@127.0.0.1:1" --stream CREDS --once 2>&1) && bad "relay to a closed port: exit 0"
out+=$(timeout 30 "$E" -s "$M" mirror --nats "nats://tok-S3CRET@127.0.0.1:1" --stream CREDS --once 2>&1) && bad "mirror of a closed port: exit 0"
same "$P" "$M" "a mirror through a URL with a token"
if printf '%s' "$out" | grep -q S3CRET; then bad "a secret of the URL printed: $(printf '%s\n' "$out" | grep S3CRET | head -3)"
elif printf '%s' "$out" | grep -q "alice:\*\*\*@" && printf '%s' "$out" | grep -q "nats://\*\*\*@127.0.0.1:1"; then
  say "ok: no password or token of the URL in the lines of relay and mirror"
else bad "the URL not shown with its secret hidden: $out"; fi

# 8. A message the stream took without the relay knowing: a stalled server stores what the relay
# sent on its connection before, after the next connection's resume read the stream's last
# message. Played here by hand: the relay stopped (SIGSTOP) once the stream holds seq 1, seq 2
# written and put in the stream as the relay would (its id, subject and headers), the relay let
# go. Its publish of seq 2 comes back a duplicate of a message the stream holds: the relay resumes
# from the stream and goes on (it stopped, exit 1, saying seq 2 was deleted), each seq once.
P=$W/dup; M=$W/dup-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
DID=$(sid "$P")
"$PROBE" mkstream "$URL" DUP "entity.$DID.>" 60000 || exit 1   # a window of 60 s: the whole case
put "$P" d1
"$E" -s "$P" relay --nats "$URL" --stream DUP 2>"$W/dup-relay.log" & DPID=$!; PIDS+=("$DPID")
for _ in $(seq 300); do "$PROBE" check "$URL" DUP "$DID" 1 >/dev/null 2>&1 && break; sleep 0.1; done
kill -STOP "$DPID"
put "$P" d2
line=$("$E" -s "$P" events --from 2 --limit 1)
"$PROBE" pub "$URL" "entity.$DID.customer.create" "$line" Nats-Msg-Id "$DID:2" Entity-Seq 2 Entity-Txn-End 1 \
  || bad "publishing seq 2 by hand"
kill -CONT "$DPID"
put "$P" d3 d4
ok=0
for _ in $(seq 300); do "$PROBE" check "$URL" DUP "$DID" 4 >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
if [ $ok = 1 ] && kill -0 "$DPID" 2>/dev/null && grep -q "JetStream had event seq 2 already" "$W/dup-relay.log"; then
  say "ok: a duplicate of a message the stream holds: the relay resumed from the stream, seq 1-4 once each"
else
  bad "relay after a duplicate of a stored message: stream check $ok, relay $(kill -0 "$DPID" 2>/dev/null && echo running || echo gone): $(cat "$W/dup-relay.log")"
  "$PROBE" check "$URL" DUP "$DID" 4
fi
kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null
timeout 60 "$E" -s "$M" mirror --nats "$URL" --stream DUP --once 2>/dev/null || bad "mirror of DUP: exit $?"
same "$P" "$M" "a mirror of the stream that took seq 2 by hand"

# 9. A stream made by hand with the store's subjects split over two patterns: the relay refuses
# it naming a remedy JetStream takes (it said "add that subject to it", which JetStream refuses as
# an overlap of the stream's own).
P=$W/split
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
SID=$(sid "$P")
"$PROBE" mkstream "$URL" SPLIT "entity.$SID.*.*,entity.$SID.schema" 1000 || exit 1
out=$(timeout 30 "$E" -s "$P" relay --nats "$URL" --stream SPLIT --once 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q "one made with the subject entity.$SID.>" && ! printf '%s' "$out" | grep -q "add that subject"; then
  say "ok: a stream with the store's subjects split over two patterns: refused, naming a stream with the one subject"
else bad "relay to a stream with split subjects: exit $rc: $out"; fi

# 10. Credentials the server refuses (a wrong password, none where it asks for one): relay and
# mirror exit 1 naming it, also without --once (they said "NATS unreachable" and retried for
# ever), the password hidden, and the mirror's run leaves no directory. (timeout: the bound of a
# broken run only; each ends at its first refusal.)
nats-server -a 127.0.0.1 -p "$PORT2" --user alice --pass right >>"$W/nats-auth.log" 2>&1 & APID=$!
PIDS+=("$APID")
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$PORT2) 2>/dev/null && break; sleep 0.05; done
out=$(timeout 60 "$E" -s "$P" relay --nats "nats://alice:wrong-S3CRET@127.0.0.1:$PORT2" --stream AUTH 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q "refused the URL's credentials" && ! printf '%s' "$out" | grep -q S3CRET; then
  say "ok: a relay whose password the server refuses exits 1 naming it"
else bad "relay with a refused password: exit $rc: $out"; fi
out=$(timeout 60 "$E" -s "$W/auth-m" mirror --nats "nats://127.0.0.1:$PORT2" --stream AUTH 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q "refused the URL's credentials" && [ ! -e "$W/auth-m" ]; then
  say "ok: a mirror without the credentials the server asks for exits 1 naming it, no directory left"
else bad "mirror without credentials: exit $rc, directory $(ls -A "$W/auth-m" 2>&1): $out"; fi

# 11. A URL whose port no client can use (not a number, 0, none after the ':', above 65535, also
# in a list after a good one): relay and mirror exit 2 (wrong usage; it was 1) at once naming it, also without --once
# (they said "NATS unreachable" and retried for ever: "invalid port 'abc'", "No server available
# for connection"), and the mirror's run leaves no directory. (timeout: a broken run's bound.)
P=$W/badport
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for u in "nats://127.0.0.1:abc" "nats://127.0.0.1:0" "nats://127.0.0.1:" "nats://u:pw@127.0.0.1:65536" "$URL,nats://127.0.0.1:99999"; do
  out=$(timeout 10 "$E" -s "$P" relay --nats "$u" --stream PORTS 2>&1); rc=$?
  out2=$(timeout 10 "$E" -s "$W/badport-m" mirror --nats "$u" --stream PORTS 2>&1); rc2=$?
  if [ $rc = 2 ] && [ $rc2 = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q "the port must be a number from 1 to 65535" &&
     printf '%s' "$out2" | grep -q "the port must be a number from 1 to 65535" && [ ! -e "$W/badport-m" ]; then
    say "ok: --nats '$u': relay and mirror exit 2: $out"
  else bad "--nats '$u': relay exit $rc ($out), mirror exit $rc2 ($out2), mirror directory $(ls -A "$W/badport-m" 2>&1)"; fi
done
# An IPv6 address whose '[' is not closed, or brackets with nothing in them: the same (the first
# was retried for ever as "NATS unreachable": "No server available for connection").
for u in "nats://[::1" "nats://[::1:4222" "nats://[]:4222" "$URL,nats://[::1"; do
  out=$(timeout 10 "$E" -s "$P" relay --nats "$u" --stream PORTS 2>&1); rc=$?
  out2=$(timeout 10 "$E" -s "$W/badport-m" mirror --nats "$u" --stream PORTS 2>&1); rc2=$?
  if [ $rc = 2 ] && [ $rc2 = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q "IPv6\|names no host" &&
     printf '%s' "$out2" | grep -q "IPv6\|names no host" && [ ! -e "$W/badport-m" ]; then
    say "ok: --nats '$u': relay and mirror exit 2: $out"
  else bad "--nats '$u': relay exit $rc ($out), mirror exit $rc2 ($out2), mirror directory $(ls -A "$W/badport-m" 2>&1)"; fi
done

# 12. The primary replaced under its running relay by a compacted copy of itself (`copy
# --compact`, then moved into its place), and a mirror's directory removed under the running
# mirror: the relay waited for commits to the files it had open, which no writer reaches any
# more, and the stream got nothing of the store now at the path; the mirror applied into files no
# reader sees; both in silence, for ever. Each exits 1 with one line naming its store; the relay
# run again relays the new store's writes, and a new mirror equals the primary.
P=$W/swap; M=$W/swap-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" s1
SWID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream SWAP 2>"$W/swap-relay.log" & SRP=$!; PIDS+=("$SRP")
"$E" -s "$M" mirror --nats "$URL" --stream SWAP 2>"$W/swap-mirror.log" & SMP=$!; PIDS+=("$SMP")
for _ in $(seq 300); do [ "$("$E" -s "$M" stat 2>/dev/null | grep -o '"applied_seq":[0-9]*')" = '"applied_seq":1' ] && break; sleep 0.1; done
"$E" -s "$P" copy "$W/swap-c" --compact 2>/dev/null || bad "copy --compact of SWAP's primary"
rm -rf "$P" "$M"; mv "$W/swap-c" "$P"
put "$P" s2
# (30 s: a bound on a relay or mirror that never ends; each ends at its next idle look, 200 ms)
timeout 30 tail --pid=$SRP -f /dev/null; timeout 30 tail --pid=$SMP -f /dev/null
kill -9 $SRP $SMP 2>/dev/null
wait $SRP; rc=$?; wait $SMP; rc2=$?
grep -Ev "relay: (created|connected)" "$W/swap-relay.log" >"$W/swap-relay.err"
# (the lines of a mirror started before the relay published: waiting for the stream, or for its first message)
grep -Ev "mirror: (following|.* at schema )|; waiting$" "$W/swap-mirror.log" >"$W/swap-mirror.err"
if [ $rc = 1 ] && [ "$(wc -l <"$W/swap-relay.err")" = 1 ] && grep -Eq "store $P: its data.mdb (is another file now|was removed)" "$W/swap-relay.err"; then
  # (removed: the relay looked between the rm and the mv)
  say "ok: a primary replaced under its relay: $(cat "$W/swap-relay.err")"
else bad "relay of a primary replaced under it: exit $rc: $(cat "$W/swap-relay.log")"; fi
if [ $rc2 = 1 ] && [ "$(wc -l <"$W/swap-mirror.err")" = 1 ] && grep -q "store $M: its data.mdb was removed (the store deleted or moved away): .*; the mirror stops" "$W/swap-mirror.err"; then
  say "ok: a mirror's store removed under it: $(cat "$W/swap-mirror.err")"
else bad "mirror whose store was removed under it: exit $rc2: $(cat "$W/swap-mirror.log")"; fi
timeout 60 "$E" -s "$P" relay --nats "$URL" --stream SWAP --once 2>/dev/null || bad "relay of the compacted primary: exit $?"
"$PROBE" check "$URL" SWAP "$SWID" 2 >/dev/null || bad "SWAP after the relay run again: $("$PROBE" check "$URL" SWAP "$SWID" 2 2>&1)"
timeout 60 "$E" -s "$M" mirror --nats "$URL" --stream SWAP --once 2>/dev/null || bad "a new mirror of SWAP: exit $?"
same "$P" "$M" "a new mirror of the compacted primary"

# 13. The stream lost (a server restarted with its JetStream store deleted; here deleted and made
# again by hand, taking 5 messages at most) after the relay had published the log: the relay fills
# the new stream from seq 1, and stops on the limit with seq 1..4 there. Meanwhile `trim` without
# --force must keep what the stream lacks. The relay's checkpoint said 10 (lag 0): the trim dropped
# seq 5..9, and the stream could never be filled again ("no event N in the log"), nor a mirror
# built from it. A subscription "relay.refill" holds the log at what the stream has, and goes once
# the stream holds the checkpoint again.
P=$W/refill; M=$W/refill-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
put "$P" r1 r2 r3 r4 r5 r6 r7 r8 r9 r10
RFID=$(sid "$P")
timeout 60 "$E" -s "$P" relay --nats "$URL" --stream REFILL --once 2>/dev/null || bad "relay to REFILL: exit $?"
"$PROBE" rmstream "$URL" REFILL && "$PROBE" mkstream "$URL" REFILL "entity.$RFID.>" 1000 5 || exit 1
out=$(timeout 60 "$E" -s "$P" relay --nats "$URL" --stream REFILL --once 2>&1); rc=$?
[ $rc = 1 ] && printf '%s' "$out" | grep -q "event seq 5" || bad "relay to REFILL of 5 messages: exit $rc: $out"
"$PROBE" check "$URL" REFILL "$RFID" 4 >/dev/null || bad "REFILL of 5 messages: $("$PROBE" check "$URL" REFILL "$RFID" 4 2>&1)"
if "$E" -s "$P" subs | grep -q '"name":"relay.refill","checkpoint":4,'; then say "ok: relay.refill holds the log at seq 4"
else bad "subs while the stream lacks seq 5..10: $("$E" -s "$P" subs 2>&1)"; fi
out=$("$E" -s "$P" trim --below 10 2>&1); rc=$?
first=$("$E" -s "$P" stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"]["first_seq"])')
if [ $rc = 1 ] && [ "$first" = 1 ] && printf '%s' "$out" | grep -q 'relay.refill'; then say "ok: trim keeps what the new stream lacks: $out"
else bad "trim --below 10 while the stream lacks seq 5..10: exit $rc, the log starts at $first: $out"; fi
"$PROBE" maxmsgs "$URL" REFILL -1 || exit 1
timeout 60 "$E" -s "$P" relay --nats "$URL" --stream REFILL --once 2>/dev/null || bad "relay to REFILL, its limit lifted: exit $?"
"$PROBE" check "$URL" REFILL "$RFID" 10 >/dev/null || bad "REFILL after the relay: $("$PROBE" check "$URL" REFILL "$RFID" 10 2>&1)"
[ "$("$E" -s "$P" subs)" = '{"name":"relay","checkpoint":10,"lag":0}' ] || bad "subs once the stream is full: $("$E" -s "$P" subs 2>&1)"
timeout 60 "$E" -s "$M" mirror --nats "$URL" --stream REFILL --once 2>/dev/null || bad "a new mirror of REFILL: exit $?"
same "$P" "$M" "a mirror of the stream the relay filled again"

# 14. A mirror pointed at another store's stream, without --once: a mirror of the store REFILL
# (case 13) and a new one given --primary of it, on stream SWAP (case 12, subjects of store SWID
# alone). Each exits 1 with one line naming the stream's subjects, the new one leaving no
# directory (they waited for ever: "holds no messages of store ..; waiting").
for m in "$M" "$W/other-m"; do
  pri=(); [ "$m" = "$M" ] || pri=(--primary "$RFID")
  out=$(timeout 30 "$E" -s "$m" mirror --nats "$URL" --stream SWAP "${pri[@]}" 2>&1); rc=$?
  if [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && printf '%s' "$out" | grep -q "stream SWAP takes subjects \[entity.$SWID.>\], never those of store $RFID"; then
    say "ok: a mirror on another store's stream exits 1: $out"
  else bad "mirror ${pri[*]} on another store's stream: exit $rc: $out"; fi
done
[ -e "$W/other-m" ] && bad "a new mirror refused another store's stream left its directory: $(ls -A "$W/other-m")"
same "$P" "$M" "the mirror refused another store's stream, as it was"

# 15. A relay stopped before its checkpoint caught up with JetStream's acks (a SIGTERM drops those
# in flight; played here by putting seq 4 and 5 into the stream by hand, as the relay publishes
# them, over a checkpoint at 3), the stream purged once a mirror had everything, the relay run
# again within the duplicate window: it publishes 4 and 5 again, JetStream drops them as
# duplicates of messages the purge took, and the relay takes that as their acks (it stopped,
# exit 1, "deleted within its duplicate window", for the window's 2 min, then put them back into
# the purged stream); the next write goes on, the mirror follows.
P=$W/gone; M=$W/gone-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
GID=$(sid "$P")
"$PROBE" mkstream "$URL" GONE "entity.$GID.>" 120000 || exit 1
put "$P" g1 g2 g3
timeout 60 "$E" -s "$P" relay --nats "$URL" --stream GONE --once 2>/dev/null || bad "relay to GONE: exit $?"
put "$P" g4 g5
for q in 4 5; do
  "$PROBE" pub "$URL" "entity.$GID.customer.create" "$("$E" -s "$P" events --from $q --limit 1)" Nats-Msg-Id "$GID:$q" \
    Entity-Seq $q Entity-Schema-Version 1 Entity-Txn-End 1 || bad "publishing seq $q by hand"
done
"$PROBE" check "$URL" GONE "$GID" 5 >/dev/null || bad "GONE before the purge: $("$PROBE" check "$URL" GONE "$GID" 5 2>&1)"
timeout 60 "$E" -s "$M" mirror --nats "$URL" --stream GONE --once 2>/dev/null || bad "mirror of GONE: exit $?"
"$PROBE" purge "$URL" GONE || exit 1
out=$(timeout 60 "$E" -s "$P" relay --nats "$URL" --stream GONE --once 2>&1); rc=$?
if [ $rc = 0 ] && [ "$("$E" -s "$P" subs)" = '{"name":"relay","checkpoint":5,"lag":0}' ] && [ "$("$PROBE" msgs "$URL" GONE)" = "0 7" ]; then
  say "ok: a relay behind its acks, run after a purge within the duplicate window, takes the drops for acks"
else bad "relay behind its acks after a purge: exit $rc, $("$E" -s "$P" subs), stream $("$PROBE" msgs "$URL" GONE): $out"; fi
put "$P" g6
timeout 60 "$E" -s "$P" relay --nats "$URL" --stream GONE --once 2>/dev/null || bad "relay to GONE after the purge: exit $?"
[ "$("$PROBE" msgs "$URL" GONE)" = "1 7" ] || bad "GONE after a write: $("$PROBE" msgs "$URL" GONE) (count, first seq), expected 1 7"
timeout 60 "$E" -s "$M" mirror --nats "$URL" --stream GONE --once 2>/dev/null || bad "mirror of the purged GONE: exit $?"
same "$P" "$M" "a mirror of a stream purged under a relay behind its acks"

if [ $fails != 0 ]; then say "$fails failure(s)"; exit 1; fi
say "all ok"
