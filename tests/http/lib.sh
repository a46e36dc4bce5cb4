# Shared by the HTTP tests: a server on a free 127.0.0.1 port over a store, curl helpers, checks.
# curl must never go through a proxy here.
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
SRV_PID= PORT= U=

# start_server STORE [serve options...]: port 0 takes a free port; the port is read from the
# "serving ... on http://127.0.0.1:PORT/" line.
start_server() {
  local store=$1; shift
  : >"$work/server.err"
  "$E" -s "$store" serve --listen 127.0.0.1:0 "$@" 2>"$work/server.err" &
  SRV_PID=$!
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$work/server.err")
    [ -n "$PORT" ] && break
    kill -0 $SRV_PID 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then bad "server did not start: $(cat "$work/server.err")"; return 1; fi
  U=http://127.0.0.1:$PORT
}

# stop_server: SIGTERM, and the server must exit 0 on its own (bounded: a hang is a failure)
stop_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM $SRV_PID
  for _ in $(seq 1 200); do kill -0 $SRV_PID 2>/dev/null || break; sleep 0.05; done
  if kill -0 $SRV_PID 2>/dev/null; then bad "server still running 10 s after SIGTERM"; kill -KILL $SRV_PID; fi
  wait $SRV_PID; local rc=$?
  [ $rc = 0 ] && ok || bad "server exited $rc after SIGTERM: $(tail -3 "$work/server.err")"
  SRV_PID=
}

# req METHOD PATH [curl args...]: status in $code, body in $work/b, headers in $work/h
req() {
  local m=$1 p=$2; shift 2
  code=$(curl -s -X "$m" -o "$work/b" -D "$work/h" -w '%{http_code}' "$@" "$U$p")
}
# sse_whole FILE ID: FILE holds the event stream's block of "id: ID" whole (up to its blank line)
sse_whole() { awk -v id="id: $2" '$0 == id { f = 1 } f && $0 == "" { w = 1; exit } END { exit !w }' "$1" 2>/dev/null; }
# wait_sse FILE ID PID: until FILE holds that block whole, the client PID has ended, or 20 s have
# passed (a bound on a broken run; what FILE holds is checked afterwards, not here)
wait_sse() {
  for _ in $(seq 1 400); do sse_whole "$1" "$2" && return 0; kill -0 "$3" 2>/dev/null || break; sleep 0.05; done
  sse_whole "$1" "$2"
}
# sse FILE SECONDS ID [curl args...]: the event stream read by curl into FILE for SECONDS, and on
# until the block of id ID has come whole (wait_sse). A stream never ends by itself, so a read was
# "curl --max-time SECONDS" alone: on a loaded machine (a sanitized server beside another suite)
# curl's start, the connection and the catching up could take longer than that, and the check
# found events missing that the server was about to send. At least SECONDS still, as before: what
# comes after the last event awaited (a repeat, say) is seen as well as it was.
sse() {
  local out=$1 secs=$2 id=$3 pid; shift 3
  curl -s -N --max-time 60 "$@" >"$out" & pid=$!
  sleep "$secs"
  wait_sse "$out" "$id" $pid
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  return 0
}
# want CODE: the last request's status
want() { if [ "$code" = "$1" ]; then ok; else bad "$2 -> $code (want $1): $(head -c 300 "$work/b")"; fi; }
# header NAME REGEX: a header of the last response matches
header() { if grep -qi "^$1: $2" "$work/h"; then ok; else bad "header $1 ~ '$2' missing: $(tr -d '\r' <"$work/h" | tr '\n' '|')"; fi; }
# etag: the last response's ETag as it came (quotes included), empty when it had none
etag() { tr -d '\r' <"$work/h" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'; }
noheader() { if grep -qi "^$1:" "$work/h"; then bad "header $1 present"; else ok; fi; }
# jcheck PY_EXPR EXPECTED: an expression on the last body parsed as JSON (d)
jcheck() { local got; got=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$work/b" 2>&1); if [ "$got" = "$2" ]; then ok; else bad "json $1 = '$got' (want '$2')"; fi; }
# errmsg TEXT: the last body is {"error": "...TEXT..."}
errmsg() { if python3 -c "import json,sys; d=json.load(open(sys.argv[2])); sys.exit(0 if list(d)==['error'] and sys.argv[1] in d['error'] else 1)" "$1" "$work/b" 2>/dev/null; then ok; else bad "error message lacks '$1': $(head -c 300 "$work/b")"; fi; }
# the error message does not contain $1
errnot() { if python3 -c "import json,sys; d=json.load(open(sys.argv[2])); sys.exit(0 if list(d)==['error'] and sys.argv[1] not in d['error'] else 1)" "$1" "$work/b" 2>/dev/null; then ok; else bad "error message holds '$1': $(head -c 300 "$work/b")"; fi; }
finish() {
  echo "$pass passed, $fail failed"
  [ $fail = 0 ]
}
