#!/usr/bin/env bash
# entity relay and mirror against a secured nats-server (README, "Connecting to a secured NATS"):
# started here on 127.0.0.1 (free ports, a temporary directory), with what an internal deployment
# has, all made at test time, offline:
#  - TLS with a private CA (openssl: a CA, a server certificate for IP:127.0.0.1 and DNS:localhost,
#    a client certificate) and verify: true (mutual TLS), JetStream: relay and mirror through it
#    with --tlsca/--tlscert/--tlskey (and the --opt=VALUE form), the mirror equal to the primary;
#    refused, one line naming the URL and why, exit 1, not retried: no --tlsca (unknown CA), a
#    wrong --tls-hostname; no client certificate (one line saying a certificate may be wanted);
#    before anything is made (a mirror leaves no directory): a certificate without its key (exit
#    2), a key not the certificate's, a file missing or not PEM (exit 1);
#  - NKey users (authorization { users = [ { nkey: U... } ] }): a user key pair made with openssl
#    (an Ed25519 key) and encoded here as NKeys are (base32, CRC-16): --nkey SEEDFILE relays and
#    mirrors; another seed, a damaged seed, a file without one are refused; --nkey with --creds or
#    with a user in the URL is wrong usage;
#  - decentralized auth (operator mode): an operator, a system account, an account with JetStream
#    and its user, as JWTs signed here (openssl pkeyutl signs with Ed25519; the claims are those
#    nats-io/jwt v2 encodes) and a user's .creds file: relay and mirror with --creds; a user of an
#    account the server does not trust refused (exit 1 naming the file, not retried); a missing
#    file and one that is not a .creds file (exit 1, before anything is made).
# Never printed: the seed (checked: no line of any output holds it).
#   nats_auth.sh ENTITY_BIN SOURCE_DIR
set -uo pipefail
# the keys, seeds and .creds files made here are 0600, as an operator keeps them: one that others
# may read is warned about (its own cases below)
umask 077
E=$1; SRC=$2
W=$(mktemp -d "${TMPDIR:-/tmp}/entity-nats-auth.XXXXXX")
PIDS=()
fails=0
say() { echo "nats_auth: $*"; }
bad() { echo "nats_auth: FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
command -v openssl >/dev/null || { say "openssl is not installed (.ci/deps.sh installs it)"; exit 1; }
# four ports held for the run (see nats_test.sh): the TLS server's, the NKey server's, the JWT one's
# and its monitoring port (its readiness, below)
python3 -c '
import signal, socket
h = []
for _ in range(4):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    h.append(s)
print(" ".join(str(s.getsockname()[1]) for s in h), flush=True)
signal.pause()
' >"$W/ports" & PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/ports" ] && break; sleep 0.05; done
read -r TPORT KPORT JPORT MPORT <"$W/ports" || { say "no ports held"; exit 1; }

# ---- the PKI: a private CA, the server's certificate, a client's; all P-256 ---------------------
C="$W/pki"
mkdir -p "$C"
mk() { openssl "$@" >>"$W/openssl.log" 2>&1 || { say "openssl $1 failed"; cat "$W/openssl.log"; exit 1; }; }
mk req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$C/ca.key" -out "$C/ca.pem" -days 2 -subj "/CN=entity test CA"
mk req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$C/server.key" -out "$C/server.csr" -subj "/CN=entity test server"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$C/server.ext"
mk x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -out "$C/server.pem" -days 2 -extfile "$C/server.ext"
mk req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$C/client.key" -out "$C/client.csr" -subj "/CN=entity test client"
printf 'extendedKeyUsage=clientAuth\n' >"$C/client.ext"
mk x509 -req -in "$C/client.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -out "$C/client.pem" -days 2 -extfile "$C/client.ext"

# nats-server's configuration names files in quoted strings: the directory (CI's TMPDIR holds a
# space and a quote) goes in as JSON strings, which its parser reads
q() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
cat >"$W/tls.conf" <<CONF
listen: "127.0.0.1:$TPORT"
jetstream { store_dir: $(q "$W/js-tls") }
tls { cert_file: $(q "$C/server.pem"), key_file: $(q "$C/server.key"), ca_file: $(q "$C/ca.pem"), verify: true }
CONF

# ---- an NKey user: an Ed25519 key from openssl, encoded as the nkeys library does -------------
openssl genpkey -algorithm ed25519 -outform DER -out "$C/nk.der" 2>>"$W/openssl.log" &&
  openssl pkey -inform DER -in "$C/nk.der" -pubout -outform DER -out "$C/nk.pub.der" 2>>"$W/openssl.log" &&
  openssl genpkey -algorithm ed25519 -outform DER -out "$C/nk2.der" 2>>"$W/openssl.log" || { say "openssl ed25519 failed"; exit 1; }
# nkeys: base32 (no padding) of prefix + 32 key bytes + CRC-16/XMODEM little-endian; a seed's
# prefix is 2 bytes (seed 18<<3 with user 20<<3 spread over them), a public key's 1 byte (user 20<<3)
NKEY_PY='
import base64, sys
def crc16(d):
    c = 0
    for b in d:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021 if c & 0x8000 else c << 1) & 0xffff
    return c
def enc(raw):
    return base64.b32encode(raw + crc16(raw).to_bytes(2, "little")).decode().rstrip("=")
kind, path = sys.argv[1], sys.argv[2]
key = open(path, "rb").read()[-32:]
if kind == "seed":
    print(enc(bytes([18 << 3 | (20 << 3) >> 5, ((20 << 3) & 31) << 3]) + key))
else:
    print(enc(bytes([20 << 3]) + key))
'
SEED=$(python3 -c "$NKEY_PY" seed "$C/nk.der"); PUB=$(python3 -c "$NKEY_PY" pub "$C/nk.pub.der")
SEED2=$(python3 -c "$NKEY_PY" seed "$C/nk2.der")
printf '%s\n' "$SEED" >"$C/user.nk"
printf '%s\n' "$SEED2" >"$C/other.nk"
# one character changed: the checksum no longer matches
printf '%s\n' "${SEED:0:20}$([ "${SEED:20:1}" = A ] && echo B || echo A)${SEED:21}" >"$C/damaged.nk"
printf 'no seed here\n' >"$C/noseed.nk"
cat >"$W/nkey.conf" <<CONF
listen: "127.0.0.1:$KPORT"
jetstream { store_dir: $(q "$W/js-nkey") }
authorization { users = [ { nkey: "$PUB" } ] }
CONF

# ---- operator mode: JWTs for an operator, a system account, an account and its user ------------
# nats-io/jwt v2: header {"typ":"JWT","alg":"ed25519-nkey"}, claims {jti, iat, iss, name, sub,
# nats: {type, version 2, ...}}, base64url without padding, the signature Ed25519 over
# "header.claims" by the issuer's key. The operator signs the accounts, the account its user.
JWT_PY='
import base64, hashlib, json, os, subprocess, sys, time
D = sys.argv[1]
def crc16(d):
    c = 0
    for b in d:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021 if c & 0x8000 else c << 1) & 0xffff
    return c
def enc(raw):
    return base64.b32encode(raw + crc16(raw).to_bytes(2, "little")).decode().rstrip("=")
def ossl(*a):
    return subprocess.run(["openssl"] + list(a), check=True, capture_output=True).stdout
def key(name, prefix):
    pem = os.path.join(D, name + ".pem")
    ossl("genpkey", "-algorithm", "ed25519", "-out", pem)
    priv = ossl("pkey", "-in", pem, "-outform", "DER")[-32:]
    pub = ossl("pkey", "-in", pem, "-pubout", "-outform", "DER")[-32:]
    return pem, enc(bytes([prefix]) + pub), enc(bytes([18 << 3 | prefix >> 5, (prefix & 31) << 3]) + priv)
def b64(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")
def jwt(signer, iss, sub, name, nats, exp=None):
    c = {"iat": int(time.time()), "iss": iss, "name": name, "sub": sub, "nats": nats}
    if exp is not None:
        c["exp"] = exp
    c["jti"] = base64.b32encode(hashlib.sha256(json.dumps(c).encode()).digest()).decode().rstrip("=")
    h = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode()) + "." + b64(json.dumps(c).encode())
    p = os.path.join(D, "tosign")
    open(p, "w").write(h)
    return h + "." + b64(ossl("pkeyutl", "-sign", "-rawin", "-inkey", signer, "-in", p))
def creds(path, user_jwt, seed):
    open(path, "w").write("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
                          "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n" % (user_jwt, seed))
O, A, U = 14 << 3, 0, 20 << 3
user = {"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}
if len(sys.argv) > 3:
    # NAME SECONDS: a user of the account made before, its JWT expiring in SECONDS
    ac_pem = os.path.join(D, "acc.pem")
    ac_pub = enc(bytes([A]) + ossl("pkey", "-in", ac_pem, "-pubout", "-outform", "DER")[-32:])
    _, u_pub, u_seed = key(sys.argv[2], U)
    creds(os.path.join(D, sys.argv[2] + ".creds"), jwt(ac_pem, ac_pub, u_pub, sys.argv[2], user,
                                                       int(time.time()) + int(sys.argv[3])), u_seed)
    sys.exit(0)
op_pem, op_pub, _ = key("op", O)
sy_pem, sy_pub, _ = key("sys", A)
ac_pem, ac_pub, _ = key("acc", A)
ro_pem, ro_pub, _ = key("rogue", A)
us_pem, us_pub, us_seed = key("user", U)
ru_pem, ru_pub, ru_seed = key("ruser", U)
lim = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
js = dict(lim, mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
open(os.path.join(D, "op.jwt"), "w").write(jwt(op_pem, op_pub, op_pub, "op", {"type": "operator", "version": 2, "system_account": sy_pub}))
creds(os.path.join(D, "user.creds"), jwt(ac_pem, ac_pub, us_pub, "user", user), us_seed)
# signed by an account the operator never signed: refused
creds(os.path.join(D, "rogue.creds"), jwt(ro_pem, ro_pub, ru_pub, "ruser", user), ru_seed)
# the user of the account, its JWT expired an hour ago (its "exp" claim)
creds(os.path.join(D, "expired.creds"), jwt(ac_pem, ac_pub, us_pub, "user", user, int(time.time()) - 3600), us_seed)
print(sy_pub, jwt(op_pem, op_pub, sy_pub, "SYS", {"type": "account", "version": 2, "limits": lim}),
      ac_pub, jwt(op_pem, op_pub, ac_pub, "acc", {"type": "account", "version": 2, "limits": js}))
'
J="$C/jwt"
mkdir -p "$J"
read -r SYS_PUB SYS_JWT ACC_PUB ACC_JWT < <(python3 -c "$JWT_PY" "$J" 2>>"$W/openssl.log")
[ -n "${ACC_JWT:-}" ] || { say "making the JWTs failed"; cat "$W/openssl.log"; exit 1; }
cat >"$W/jwt.conf" <<CONF
listen: "127.0.0.1:$JPORT"
http: "127.0.0.1:$MPORT"
debug: true
operator: $(q "$J/op.jwt")
system_account: $SYS_PUB
resolver: MEMORY
resolver_preload: { $SYS_PUB: "$SYS_JWT", $ACC_PUB: "$ACC_JWT" }
jetstream { store_dir: $(q "$W/js-jwt") }
CONF

start() { # CONF PORT
  nats-server -c "$1" >>"$W/nats.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$2) 2>/dev/null && return 0; sleep 0.05; done
  say "nats-server did not start"; cat "$W/nats.log"; exit 1
}
start "$W/tls.conf" "$TPORT"
start "$W/nkey.conf" "$KPORT"
start "$W/jwt.conf" "$JPORT"; JSRV=${PIDS[-1]}
# An operator-mode server takes connections before it is ready for them: a valid user's first
# connection, made a few seconds after its start on a loaded machine, was refused "Authorization
# Violation" (2 of about 80 runs). Its own readiness probe says when it is (JetStream included);
# its log (debug) names the reason of any refusal after that.
jwt_ready() {
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$MPORT/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  say "the operator-mode nats-server never said it was ready (/healthz)"; tail -20 "$W/nats.log"; exit 1
}
jwt_ready
TURL=nats://127.0.0.1:$TPORT
KURL=nats://127.0.0.1:$KPORT
JURL=nats://127.0.0.1:$JPORT

# ALL the output of every command, to look for the seed in at the end
touch "$W/all"
run() { "$@" >"$W/out" 2>"$W/err"; local rc=$?; cat "$W/out" "$W/err" >>"$W/all"; return $rc; }
# refused WHAT WANT PATTERN CMD...: exit WANT, and exactly one line on stderr (state lines aside) holding PATTERN
refused() {
  local what=$1 want=$2 pat=$3 rc
  shift 3
  run timeout 60 "$@"; rc=$?
  grep -Ev "(relay|mirror): (created|connected)" "$W/err" >"$W/err2"
  if [ "$rc" = "$want" ] && [ "$(wc -l <"$W/err2")" = 1 ] && grep -q -- "$pat" "$W/err2"; then
    say "ok: $what: exit $rc: $(cat "$W/err2")"
  else
    bad "$what: exit $rc ($want expected, one line with \"$pat\"):"; cat "$W/err"
  fi
}
same() {
  if cmp -s <("$E" -s "$1" dump) <("$E" -s "$2" dump) && cmp -s <("$E" -s "$1" events) <("$E" -s "$2" events) &&
     [ "$("$E" -s "$2" check 2>&1)" = ok ]; then
    say "ok: $3: the mirror's dump and events equal the primary's, check ok"
  else
    bad "$3: the mirror differs from the primary"; diff <("$E" -s "$1" dump) <("$E" -s "$2" dump) | head -5
  fi
}

P="$W/primary"
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || { say "init failed"; exit 1; }
for i in 1 2 3; do echo "{\"name\":\"c$i\",\"email\":\"c$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
CA=(--tlsca "$C/ca.pem"); CERT=(--tlscert "$C/client.pem" --tlskey "$C/client.key")
# One connection to each server before the cases, its result not looked at: a fresh server refused
# the first client that authenticated to it now and then on a loaded machine ("authentication
# error" for a valid NKey 7 s after its start, and for a valid .creds user: 3 of about 130 runs,
# two or four suites at once beside busy CPUs); the same key and file were taken by the next
# connection and by every later run, so it is none of the library's (its code path is the same
# for every connection), and a case's own verdict must not hang on it. Cause not found.
"$E" -s "$W/warm" init --schema "$SRC/schemas/shop.json" 2>/dev/null || { say "init failed"; exit 1; }
"$E" -s "$W/warm" relay --nats "$TURL" --stream WARM --once "${CA[@]}" "${CERT[@]}" >>"$W/all" 2>&1
"$E" -s "$W/warm" relay --nats "$KURL" --stream WARM --once --nkey "$C/user.nk" >>"$W/all" 2>&1
"$E" -s "$W/warm" relay --nats "$JURL" --stream WARM --once --creds "$J/user.creds" >>"$W/all" 2>&1
mkfifo "$C/fifo.pem"

# ---- mutual TLS -------------------------------------------------------------------------------
if run timeout 60 "$E" -s "$P" relay --nats "$TURL" --stream TLS --once "${CA[@]}" "${CERT[@]}"; then
  say "ok: relay --once through mutual TLS (--tlsca, --tlscert, --tlskey)"
else bad "relay through mutual TLS: $(cat "$W/err")"; fi
M="$W/mirror tls"
if run timeout 60 "$E" -s "$M" mirror --nats "$TURL" --stream TLS --once "--tlsca=$C/ca.pem" "--tlscert=$C/client.pem" "--tlskey=$C/client.key"; then
  same "$P" "$M" "mirror --once through mutual TLS (--opt=VALUE form)"
else bad "mirror through mutual TLS: $(cat "$W/err")"; fi
# by IP with the name the certificate also holds, and a tls:// URL
if run timeout 60 "$E" -s "$P" relay --nats "tls://127.0.0.1:$TPORT" --stream TLS --once "${CA[@]}" "${CERT[@]}" --tls-hostname localhost; then
  say "ok: tls:// URL with --tls-hostname localhost (a name the certificate holds)"
else bad "--tls-hostname localhost: $(cat "$W/err")"; fi
# a relay that runs (no --once) carries a later write to a running mirror
"$E" -s "$P" relay --nats "$TURL" --stream TLS "${CA[@]}" "${CERT[@]}" 2>>"$W/all" & RPID=$!; PIDS+=($RPID)
"$E" -s "$M" mirror --nats "$TURL" --stream TLS "${CA[@]}" "${CERT[@]}" 2>>"$W/all" & MPID=$!; PIDS+=($MPID)
echo '{"name":"c4","email":"c4@x"}' | "$E" -s "$P" put customer - >/dev/null
last=$("$E" -s "$P" stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"]["last_seq"])' 2>/dev/null || echo x)
[ "$last" = x ] && bad "stat of the primary gave no last seq"
for _ in $(seq 600); do
  a=$("$E" -s "$M" stat 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["mirror_of"]["applied_seq"])' 2>/dev/null)
  [ "$a" = "$last" ] && break; sleep 0.05
done
kill "$RPID" "$MPID"; wait "$RPID" "$MPID" 2>/dev/null
same "$P" "$M" "running relay and mirror through mutual TLS, a write made meanwhile"

# refusals of the server or its certificate: one line, the URL named (its password not), exit 1,
# and not retried: a relay without --once ends too (timeout 60 would say 124)
refused "no --tlsca: the private CA is unknown" 1 "NATS at nats://u:\*\*\*@127.0.0.1:$TPORT: its certificate is not trusted: .*unable to get local issuer" \
  "$E" -s "$P" relay --nats "nats://u:pw@127.0.0.1:$TPORT" --stream TLS "${CERT[@]}"
refused "a wrong --tls-hostname" 1 "its certificate is not trusted: .*hostname mismatch" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once "${CA[@]}" "${CERT[@]}" --tls-hostname wrong.example
refused "mirror without --tlsca" 1 "its certificate is not trusted" \
  "$E" -s "$W/m-noca" mirror --nats "$TURL" --stream TLS --once "${CERT[@]}"
[ -e "$W/m-noca" ] && bad "a mirror refused by the server left its directory" || say "ok: ... and left no directory"
refused "no client certificate, the server verifies its clients" 1 "NATS at $TURL: .*wants a certificate: --tlscert and --tlskey" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once "${CA[@]}"
# wrong usage and wrong files: before anything is opened or made
refused "--tlscert without --tlskey" 2 "give --tlscert and --tlskey" \
  "$E" -s "$W/m-usage" mirror --nats "$TURL" --stream TLS --once "${CA[@]}" --tlscert "$C/client.pem"
refused "--tlskey without --tlscert" 2 "give --tlscert and --tlskey" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once --tlskey "$C/client.key"
refused "a key that is not the certificate's" 1 "--tlskey .*server.key.*mismatch" \
  "$E" -s "$W/m-usage" mirror --nats "$TURL" --stream TLS --once "${CA[@]}" --tlscert "$C/client.pem" --tlskey "$C/server.key"
refused "a missing --tlsca file" 1 "--tlsca .*nope.pem: No such file or directory" \
  "$E" -s "$W/m-usage" mirror --nats "$TURL" --stream TLS --once --tlsca "$C/nope.pem"
refused "a --tlsca that is not PEM" 1 "--tlsca .*ca.key.*no certificate" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once --tlsca "$C/ca.key"
refused "a directory as --tlscert" 1 "--tlscert .*Is a directory" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once "${CA[@]}" --tlscert "$C" --tlskey "$C/client.key"
# a key encrypted with a passphrase: OpenSSL asked for it on the terminal ("Enter PEM pass phrase:",
# waiting there; without one, "processing error")
openssl pkey -in "$C/client.key" -aes256 -passout pass:entity-test -out "$C/client-enc.key" 2>>"$W/openssl.log"
refused "a client key encrypted with a passphrase" 1 "--tlskey .*client-enc.key: the key is encrypted with a passphrase" \
  "$E" -s "$W/m-usage" mirror --nats "$TURL" --stream TLS --once "${CA[@]}" --tlscert "$C/client.pem" --tlskey "$C/client-enc.key"
refused "a FIFO as --tlsca" 1 "--tlsca .*fifo.pem: not a regular file" \
  "$E" -s "$P" relay --nats "$TURL" --stream TLS --once --tlsca "$C/fifo.pem" "${CERT[@]}"
refused "--tls-hostname without TLS" 2 "needs TLS" \
  "$E" -s "$P" relay --nats "$KURL" --stream TLS --once --tls-hostname localhost
refused "an empty --tlsca (a variable unset)" 2 "--tlsca needs a file, not an empty word" \
  "$E" -s "$W/m-usage" mirror --nats "$TURL" --stream TLS --once --tlsca "" "${CERT[@]}"
refused "an empty --creds" 2 "--creds needs a file, not an empty word" \
  "$E" -s "$P" relay --nats "$JURL" --stream TLS --once "--creds="
[ -e "$W/m-usage" ] && bad "a refused mirror made its directory" || say "ok: no refused mirror made its directory"
run "$E" -s "$P" relay --nats "$TURL" --stream TLS --tlsca; rc=$?
[ $rc = 2 ] && head -1 "$W/err" | grep -q -- "--tlsca needs a value" && say "ok: --tlsca without a value: wrong usage" ||
  bad "--tlsca without a value: exit $rc: $(cat "$W/err")"

# ---- NKey --------------------------------------------------------------------------------------
if run timeout 60 "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey "$C/user.nk"; then
  say "ok: relay --once with --nkey"
else bad "relay with --nkey: $(cat "$W/err")"; fi
M2="$W/mirror nkey"
if run timeout 60 "$E" -s "$M2" mirror --nats "$KURL" --stream NK --once "--nkey=$C/user.nk"; then
  same "$P" "$M2" "mirror --once with --nkey"
else bad "mirror with --nkey: $(cat "$W/err")"; fi
refused "no credentials at an NKey server" 1 "refused the URL's credentials" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK
refused "another user's seed" 1 "refused the NKey of --nkey .*other.nk" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --nkey "$C/other.nk"
refused "a damaged seed" 1 "--nkey .*damaged.nk: its seed is damaged" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --once --nkey "$C/damaged.nk"
refused "a file without a seed" 1 "--nkey .*noseed.nk: holds no user NKey seed" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey "$C/noseed.nk"
refused "a missing seed file" 1 "--nkey .*none.nk: No such file" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --once --nkey "$C/none.nk"
refused "--nkey and --creds" 2 "two ways to authenticate" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey "$C/user.nk" --creds "$C/user.nk"
refused "--nkey and a user in the URL" 2 "give one way to authenticate" \
  "$E" -s "$W/m-nk" mirror --nats "nats://u:pw@127.0.0.1:$KPORT" --stream NK --once --nkey "$C/user.nk"
# files libnats could not read, or that hung: each refused before connecting, naming what is wrong
# (they connected and failed at each connection: "base32: invalid data at location 59", retried for
# ever as an outage; a FIFO blocked in open() without a word)
printf '%s\r\n' "$SEED" >"$C/crlf.nk"
printf '%s  \n' "$SEED" >"$C/trail.nk"
printf '\xef\xbb\xbf%s\n' "$SEED" >"$C/bom.nk"
python3 -c "$NKEY_PY" seed "$C/nk.der" | python3 -c '
import base64, sys
raw = base64.b32decode(sys.stdin.read().strip() + "======")
k = raw[2:34]
c = 0
for b in bytes([18 << 3, 0]) + k:
    c ^= b << 8
    for _ in range(8):
        c = ((c << 1) ^ 0x1021 if c & 0x8000 else c << 1) & 0xffff
print(base64.b32encode(bytes([18 << 3, 0]) + k + c.to_bytes(2, "little")).decode().rstrip("="))' >"$C/account.nk"
mkfifo "$C/fifo.nk"
refused "a seed file with CRLF line ends" 1 "--nkey .*crlf.nk: the line of its seed ends in a carriage return" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --nkey "$C/crlf.nk"
refused "spaces after the seed" 1 "--nkey .*trail.nk: spaces or tabs follow its seed" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --nkey "$C/trail.nk"
refused "a seed file with a byte-order mark" 1 "--nkey .*bom.nk: begins with a byte-order mark" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --once --nkey "$C/bom.nk"
refused "an account seed as --nkey" 1 "--nkey .*account.nk: holds an account seed (SA...), not a user's" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey "$C/account.nk"
refused "a FIFO as --nkey" 1 "--nkey .*fifo.nk: not a regular file" \
  "$E" -s "$W/m-nk" mirror --nats "$KURL" --stream NK --once --nkey "$C/fifo.nk"
refused "a pipe as --nkey (/dev/stdin)" 1 "--nkey /dev/stdin: not a regular file" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey /dev/stdin < <(cat "$C/user.nk")
[ -e "$W/m-nk" ] && bad "a refused mirror made its directory" || say "ok: no refused --nkey mirror made its directory"

# ---- --creds: a user JWT and its seed (operator mode) ----------------------------------------------
if run timeout 60 "$E" -s "$P" relay --nats "$JURL" --stream CR --once --creds "$J/user.creds"; then
  say "ok: relay --once with --creds"
else bad "relay with --creds: $(cat "$W/err")"; grep -i "auth\|jwt\|error" "$W/nats.log" | tail -5; fi
M3="$W/mirror creds"
if run timeout 60 "$E" -s "$M3" mirror --nats "$JURL" --stream CR --once "--creds=$J/user.creds"; then
  same "$P" "$M3" "mirror --once with --creds"
else bad "mirror with --creds: $(cat "$W/err")"; fi
# the .creds file removed under a running relay, then the server restarted: libnats reads the file
# only while connecting, and its "No such file" was an outage, retried for ever without a line;
# now the run ends, exit 1, naming the file (as a --nkey seed file gone does)
cp "$J/user.creds" "$J/gone.creds"
timeout 60 "$E" -s "$P" relay --nats "$JURL" --stream CR --creds "$J/gone.creds" 2>"$W/gone.err" & GPID=$!; PIDS+=($GPID)
for _ in $(seq 600); do grep -q "relay: connected" "$W/gone.err" && break; sleep 0.05; done
rm "$J/gone.creds"
kill "$JSRV"; wait "$JSRV" 2>/dev/null
start "$W/jwt.conf" "$JPORT"; JSRV=${PIDS[-1]}
jwt_ready
wait "$GPID"; rc=$?
cat "$W/gone.err" >>"$W/all"
if [ $rc = 1 ] && grep -q -- "--creds .*gone.creds: No such file" "$W/gone.err"; then
  say "ok: the .creds file removed under a running relay: exit 1 at the next connection, naming it"
else bad "the .creds file removed under a running relay: exit $rc (1 expected, naming the file):"; cat "$W/gone.err"; fi
refused "no credentials at an operator-mode server" 1 "refused the URL's credentials" \
  "$E" -s "$P" relay --nats "$JURL" --stream CR
refused "a user of an account the server does not trust" 1 "refused the credentials of --creds .*rogue.creds" \
  "$E" -s "$W/m-cr" mirror --nats "$JURL" --stream CR --creds "$J/rogue.creds"
refused "a missing .creds file" 1 "--creds .*none.creds: No such file" \
  "$E" -s "$P" relay --nats "$KURL" --stream NK --once --creds "$C/none.creds"
# a .creds file saved with CRLF line ends: the JWT went to the server with its '\r' ("Authorization
# Violation", said as refused credentials); spaces after its seed: "base32: invalid data", retried
sed 's/$/\r/' "$J/user.creds" >"$J/crlf.creds"
sed 's/^\(SU.*\)$/\1 /' "$J/user.creds" >"$J/trail.creds"
refused "a .creds file with CRLF line ends" 1 "--creds .*crlf.creds: the line of its JWT ends in a carriage return" \
  "$E" -s "$W/m-cr" mirror --nats "$JURL" --stream CR --creds "$J/crlf.creds"
refused "a space after a .creds file's seed" 1 "--creds .*trail.creds: spaces or tabs follow its seed" \
  "$E" -s "$P" relay --nats "$JURL" --stream CR --creds "$J/trail.creds"
refused "a file that is not a .creds file" 1 "--creds .*user.nk: not a .creds file" \
  "$E" -s "$W/m-cr" mirror --nats "$KURL" --stream NK --once --creds "$C/user.nk"
# a user JWT expired: said before connecting, naming the file and when (the server refused it,
# said only as refused credentials); exit 1, no directory made
refused "a .creds file whose user JWT expired" 1 "--creds .*expired.creds: the user JWT in .*expired.creds expired at 20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]*Z" \
  "$E" -s "$W/m-cr" mirror --nats "$JURL" --stream CR --creds "$J/expired.creds"
[ -e "$W/m-cr" ] && bad "a refused mirror made its directory" || say "ok: no refused --creds mirror made its directory"
# ... and one that expires while the relay runs: the server closes its connection then, and the
# reconnection says why and ends the run (exit 1), not "refused the credentials" alone. Minted
# with 3 s left: on a machine so slow that they are gone before it starts, the same line comes
# before connecting, which this case takes too (the line, not the timing, is what it checks).
python3 -c "$JWT_PY" "$J" short 3 2>>"$W/openssl.log" || bad "minting a short-lived JWT failed"
run timeout 60 "$E" -s "$P" relay --nats "$JURL" --stream CR --creds "$J/short.creds"; rc=$?
if [ $rc = 1 ] && grep -q -- "--creds .*short.creds: the user JWT in .*short.creds expired at 20" "$W/err"; then
  say "ok: a user JWT that expired under a running relay: exit 1, $(grep -c 'relay: connected' "$W/err") connection(s) before, $(tail -1 "$W/err")"
else bad "a user JWT that expired under a running relay: exit $rc (1 expected, naming the expiry):"; cat "$W/err"; fi

# ---- secret files that others may read ------------------------------------------------------------
# warned (one line, the file, its mode, chmod 600), not refused: libnats and the nats CLI take
# them, and a running deployment is not stopped by an upgrade; 0640 owned by root (a service's
# group reads it, as PostgreSQL allows its key) is not warned about
grep -q warning "$W/all" && bad "a file of mode 0600 was warned about: $(grep warning "$W/all" | head -1)" ||
  say "ok: no file of mode 0600 was warned about"
cp "$C/user.nk" "$C/open.nk"; chmod 644 "$C/open.nk"
if run timeout 60 "$E" -s "$P" relay --nats "$KURL" --stream NK --once --nkey "$C/open.nk" &&
   grep -q -- "relay: warning: --nkey .*open.nk has mode 0644: every user may read it .*chmod 600" "$W/err"; then
  say "ok: a seed file of mode 0644: relayed, $(grep warning "$W/err")"
else bad "a seed file of mode 0644 (relayed, with a warning expected):"; cat "$W/err"; fi
cp "$J/user.creds" "$J/gw.creds"; chmod 660 "$J/gw.creds"
if run timeout 60 "$E" -s "$M3" mirror --nats "$JURL" --stream CR --once --creds "$J/gw.creds" &&
   grep -q -- "mirror: warning: --creds .*gw.creds has mode 0660: its group may replace it" "$W/err"; then
  say "ok: a .creds file of mode 0660: mirrored, warned"
else bad "a .creds file of mode 0660 (mirrored, with a warning expected):"; cat "$W/err"; fi
cp "$C/client.key" "$C/g.key"; chmod 640 "$C/g.key"
if run timeout 60 "$E" -s "$P" relay --nats "$TURL" --stream TLS --once "${CA[@]}" --tlscert "$C/client.pem" --tlskey "$C/g.key"; then
  if [ "$(id -u)" = 0 ]; then
    grep -q warning "$W/err" && bad "a root-owned key of mode 0640 was warned about: $(cat "$W/err")" ||
      say "ok: a root-owned key of mode 0640 (a group reads it): no warning"
  else
    grep -q -- "relay: warning: --tlskey .*g.key has mode 0640: its group may read it" "$W/err" &&
      say "ok: a key of mode 0640 not owned by root: warned" || bad "a key of mode 0640 not owned by root: no warning: $(cat "$W/err")"
  fi
else bad "a key of mode 0640: $(cat "$W/err")"; fi

# ---- entity-nats-bench: the same options (the tool's parser), for its relays and mirrors -------------
NB=$(dirname "$E")/entity-nats-bench
if [ -x "$NB" ]; then
  if run timeout 120 "$NB" --nats "$KURL" --nkey "$C/user.nk" --quick --n 2000 --rate 500 &&
     grep -q "^relay throughput" "$W/out" && grep -q "floor  not measured (a secured NATS" "$W/out" && grep -q "commit->mirror lag p50" "$W/out"; then
    say "ok: entity-nats-bench --nats URL --nkey SEEDFILE: relay and mirror measured at an NKey server"
  else bad "entity-nats-bench with --nkey: $(cat "$W/out" "$W/err")"; fi
  run timeout 60 "$NB" --nats "$KURL" --nkey "$C/other.nk" --quick; rc=$?
  [ $rc = 1 ] && grep -q "refused the NKey of --nkey .*other.nk" "$W/err" && say "ok: entity-nats-bench with another user's seed: exit 1, refused" ||
    bad "entity-nats-bench with another user's seed: exit $rc: $(cat "$W/err")"
  run "$NB" --nkey "$C/user.nk"; rc=$?
  [ $rc = 2 ] && grep -q "need --nats URL" "$W/err" && say "ok: entity-nats-bench --nkey without --nats: wrong usage" ||
    bad "entity-nats-bench --nkey without --nats: exit $rc: $(cat "$W/err")"
  run "$NB" --nats "$KURL" --tlscert "$C/client.pem"; rc=$?
  [ $rc = 2 ] && grep -q "give --tlscert and --tlskey" "$W/err" && say "ok: entity-nats-bench --tlscert without --tlskey: wrong usage" ||
    bad "entity-nats-bench --tlscert alone: exit $rc: $(cat "$W/err")"
else bad "entity-nats-bench not built beside entity"; fi

# ---- the seeds never printed -------------------------------------------------------------------
CSEEDS=()
while read -r l; do CSEEDS+=(-e "$l"); done < <(grep -h '^SU' "$J/user.creds" "$J/rogue.creds")
[ ${#CSEEDS[@]} = 4 ] || bad "the .creds files hold no seeds"
if grep -qF -e "$SEED" -e "$SEED2" "${CSEEDS[@]}" "$W/all"; then bad "a seed was printed"; else say "ok: no output held a seed"; fi

[ $fails = 0 ] && say "all passed" || say "$fails failed"
[ $fails = 0 ]
