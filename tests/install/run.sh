#!/usr/bin/env bash
# Install the built libentity into a temporary prefix, then build a tiny host program against the
# installed copy four ways — pkg-config and CMake find_package, each shared and static — and as C++
# with pkg-config, and run each build on both backends; where the optional components are built, a
# host serving a store over HTTP and one calling the NATS relay, built with pkg-config both ways.
set -euo pipefail
src=$1 bin=$2 http=${3:-no-http} nats=${4:-no-nats}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$bin" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name entity.pc | head -n1)")
libdir=$(dirname "$pcdir")
export PKG_CONFIG_PATH=$pcdir
here=$src/tests/install
# pkg-config's output as the words a shell (or make's $(shell ...)) reads from it, in PCW: the .pc
# files escape a space in the prefix ("\ "), and $work is under TMPDIR, which may hold spaces, so
# the flags are split by eval, never by IFS. PCW_SED filters the text first (default: none).
pcw() { local out; out=$(pkg-config "$@" | sed "${PCW_SED:-}"); eval "PCW=($out)"; }

run() { # name binary
  "$2" memory >"$work/out" && "$2" lmdb "$work/store-$1" >>"$work/out" || { echo "FAIL: $1"; cat "$work/out"; exit 1; }
  [ "$(grep -c '^host ok: note 1 "hello" version 1$' "$work/out")" = 2 ] || { echo "FAIL: $1 output"; cat "$work/out"; exit 1; }
  echo "ok: $1"
}

# The .pc files name the install's prefix as it is spelt (pkg-config filters the system's -I and -L
# only so); a staged install (DESTDIR) names the prefix, not the staging directory.
pcw --variable=prefix entity
[ "${PCW[*]}" = "$prefix" ] || { echo "FAIL: entity.pc prefix is $(pkg-config --variable=prefix entity), not $prefix"; exit 1; }
if pkg-config --cflags --libs entity | grep -q '/\.\./'; then echo "FAIL: entity.pc: $(pkg-config --cflags --libs entity)"; exit 1; fi
DESTDIR=$work/stage cmake --install "$bin" --prefix /opt/ent >/dev/null
for pc in $(cd "$pcdir" && ls *.pc); do
  staged=$(find "$work/stage/opt/ent" -name "$pc")
  grep -qx 'prefix=/opt/ent' "$staged" || { echo "FAIL: staged $pc:"; head -3 "$staged"; exit 1; }
done
[ -f "$work/stage/opt/ent/include/entity/entity.h" ] || { echo "FAIL: DESTDIR install has no headers"; exit 1; }
# a prefix with a space and a quote: escaped in the .pc, so a shell that reads pkg-config's output
# as words (make's $(shell ...), eval) gets each flag whole (an unescaped quote: no flags, exit 0)
cmake --install "$bin" --prefix "$work/pre fix'd" >/dev/null
flags=$(PKG_CONFIG_PATH=$(dirname "$(find "$work/pre fix'd" -name entity.pc)") pkg-config --cflags --libs entity)
case $flags in *-lentity*) ;; *) echo "FAIL: pkg-config --cflags --libs for a prefix with a quote: '$flags'"; exit 1 ;; esac
eval "cc -std=c11 -Wall -Wextra -Werror -o \"\$work/pc_space\" \"\$here/host.c\" $flags"
LD_LIBRARY_PATH="$work/pre fix'd/${libdir#"$prefix"/}" run pkgconfig-space "$work/pc_space"
# a component's .pc asks for the libentity of its own version (another one's ABI may differ)
for pc in entity-nats entity-http; do
  [ -f "$pcdir/$pc.pc" ] || continue
  pkg-config --print-requires "$pc" | grep -qx "entity = $(pkg-config --modversion entity)" ||
    { echo "FAIL: $pc.pc does not require entity = $(pkg-config --modversion entity)"; exit 1; }
done
echo "ok: pc-prefix, destdir, pc-requires"

# each installed header compiles alone (included twice), as C11 and as C++, with nothing else on
# the include path: a host includes any one of them first
for h in "$prefix"/include/entity/*.h; do
  printf '#include <entity/%s>\n#include <entity/%s>\nint ent_header_probe;\n' "${h##*/}" "${h##*/}" >"$work/hdr.c"
  cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$prefix/include" -c "$work/hdr.c" -o /dev/null ||
    { echo "FAIL: ${h##*/} does not compile alone as C"; exit 1; }
  if command -v c++ >/dev/null; then
    c++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$prefix/include" -c "$work/hdr.c" -o /dev/null ||
      { echo "FAIL: ${h##*/} does not compile alone as C++"; exit 1; }
  fi
  # clang++ warns of NULL (__null) as a zero where C++ has nullptr: the headers' inline code is
  # compiled with the host's flags (ent_key_id() failed a host built with -Werror this way)
  if command -v clang++ >/dev/null; then
    clang++ -x c++ -std=c++17 -Wall -Wextra -Wpedantic -Wzero-as-null-pointer-constant -Werror \
      -I"$prefix/include" -c "$work/hdr.c" -o /dev/null ||
      { echo "FAIL: ${h##*/} does not compile alone as C++17 with clang++ -Wzero-as-null-pointer-constant"; exit 1; }
  fi
done
echo "ok: headers-alone"
# the layout the README's "Building a host against an installed copy" describes
for f in bin/entity include/entity/entity.h share/libentity/schemas/shop.json share/libentity/schemas/fleet.json \
         "${libdir#"$prefix"/}/libentity.a" "${libdir#"$prefix"/}/cmake/libentity/libentityConfig.cmake"; do
  [ -e "$prefix/$f" ] || { echo "FAIL: the install has no $f"; exit 1; }
done

# the README's sample ("Using it from C", with the serving snippet where entity-http is built) as
# a host writes it: its lines in a main(), its #includes and its function above; built against the
# installed copy with the README's link line and run on the shop schema (the sample used fprintf
# without <stdio.h>)
python3 - "$src/README.md" "$work/readme.c" "$http" <<'PY'
import sys
readme, http = open(sys.argv[1]).read(), sys.argv[3] == "http"
def block(after):
    s = readme.index("```c\n", readme.index(after)) + 5
    return readme[s:readme.index("```\n", s)].split("\n")
lines = block("## Using it from C")
if http:
    # on a free port: 8080 may be another program's
    lines += ["#include <entity/http.h>", "{"] + [l.replace("/* ... the host goes on using the store ... */", "")
                                                   .replace('"127.0.0.1:8080"', '"127.0.0.1:0"')
                                                  for l in block("From C, a host serves its own store")] + ["}"]
# above main(): the #includes, a struct type's definition, a static function through its "}"
top, body, infn = [], [], False
for l in lines:
    if infn or l.startswith("#include") or l.startswith("static ") or \
            (l.startswith("struct ") and l.endswith("};") and "=" not in l):
        top.append(l)
        if l.startswith("static ") and not l.endswith("}"):
            infn = True
        elif l == "}":
            infn = False
    else:
        body.append(l)
open(sys.argv[2], "w").write("\n".join(top) + "\nint main(void)\n{\n" + "\n".join(body) +
                             "\n    ent_iter_free(it);\n    return 0;\n}\n")
PY
pcw --cflags --libs "$([ "$http" = http ] && echo entity-http || echo entity)"
cc -std=c11 -Wall -Wextra -Werror -o "$work/readme_host" "$work/readme.c" "${PCW[@]}"
# readme_run NAME BINARY: run the sample in a directory of its own holding schemas/shop.json; it must
# do what its comments say: customer 1 with vip defaulted, order 1 created, updated to paid
# (version 2) and shipped by the ent_txn_run() function (version 3); run again, its create is
# refused with the message the comment shows
readme_run() {
  local d=$work/readme-$1 got
  mkdir -p "$d/schemas" && cp "$src/schemas/shop.json" "$d/schemas/"
  (cd "$d" && "$2") || { echo "FAIL: the README's C sample ($1)"; exit 1; }
  [ -f "$d/entity-store/data.mdb" ] || { echo "FAIL: the README's C sample made no store ($1)"; exit 1; }
  got=$(LD_LIBRARY_PATH=$libdir "$prefix/bin/entity" -s "$d/entity-store" get customer 1)
  [ "$got" = '{"type":"customer","key":1,"version":1,"data":{"email":"ada@example.com","name":"Ada","vip":false}}' ] ||
    { echo "FAIL: the README's C sample ($1): customer 1 is $got"; exit 1; }
  got=$(LD_LIBRARY_PATH=$libdir "$prefix/bin/entity" -s "$d/entity-store" get order 1)
  [ "$got" = '{"type":"order","key":1,"version":3,"data":{"customer":1,"status":"shipped","lines":[{"sku":"tea-01","qty":2}]}}' ] ||
    { echo "FAIL: the README's C sample ($1): order 1 is $got"; exit 1; }
  (cd "$d" && "$2") 2>"$d.err" || true
  grep -q '^customer.email: value "ada@example.com" is taken' "$d.err" ||
    { echo "FAIL: the README's C sample ($1) run twice:"; cat "$d.err"; exit 1; }
  echo "ok: readme-sample-$1"
}
LD_LIBRARY_PATH=$libdir readme_run pkgconfig-shared "$work/readme_host"
# and linked static by the README's own line (the archive by path, sed dropping -lentity)
pcw --cflags entity; cflags=("${PCW[@]}")
PCW_SED='s/-lentity//' pcw --static --libs entity
# the archives by path, as arrays: a prefix under a TMPDIR with a space and a quote (CI's) stays
# one word
http_a=() mhd=()
if [ "$http" = http ]; then
  http_a=("$libdir/libentity-http.a")
  read -ra mhd <<<"$(pkg-config --libs libmicrohttpd)"
fi
cc -std=c11 -Wall -Wextra -Werror -o "$work/readme_static" "$work/readme.c" "${cflags[@]}" \
   "${http_a[@]}" "$libdir/libentity.a" "${PCW[@]}" "${mhd[@]}"
if ldd "$work/readme_static" | grep -q libentity; then echo "FAIL: static README sample links libentity.so"; exit 1; fi
readme_run pkgconfig-static "$work/readme_static"

# pkg-config, shared
pcw --cflags --libs entity
cc -std=c11 -Wall -Wextra -Werror -o "$work/pc_shared" "$here/host.c" "${PCW[@]}"
LD_LIBRARY_PATH=$libdir run pkgconfig-shared "$work/pc_shared"
# a C++ host (the headers' extern "C" blocks: mangled names would not link)
if command -v c++ >/dev/null; then
  pcw --cflags --libs entity
  c++ -x c++ -std=c++11 -Wall -Wextra -Werror -o "$work/pc_cxx" "$here/host.c" "${PCW[@]}"
  LD_LIBRARY_PATH=$libdir run pkgconfig-cxx "$work/pc_cxx"
  cxx=1
fi
# a C++17 host that uses the API for real (host_cxx.cpp: both backends open at once, threads, a
# subscriber, RAII, the INIT macros), with each C++ compiler there is, warnings as errors
for cxxc in c++ clang++; do
  command -v "$cxxc" >/dev/null || continue
  extra=()
  if [ "$cxxc" = clang++ ]; then extra=(-Wzero-as-null-pointer-constant); fi
  pcw --cflags --libs entity
  "$cxxc" -std=c++17 -Wall -Wextra -Wpedantic -Werror ${extra[@]+"${extra[@]}"} -pthread -o "$work/host_cxx_$cxxc" \
    "$here/host_cxx.cpp" "${PCW[@]}" || { echo "FAIL: host_cxx.cpp does not build with $cxxc"; exit 1; }
  LD_LIBRARY_PATH=$libdir "$work/host_cxx_$cxxc" "$work/store-cxx-$cxxc" || { echo "FAIL: host_cxx ($cxxc)"; exit 1; }
  echo "ok: cxx17-host-$cxxc"
  cxx=$((${cxx:-0} + 1))
done
# pkg-config, static: the archive by path, its dependencies from --static
pcw --cflags entity; cflags=("${PCW[@]}")
PCW_SED='s/-lentity//' pcw --static --libs-only-l --libs-only-L entity
cc -std=c11 -Wall -Wextra -Werror -o "$work/pc_static" "$here/host.c" "${cflags[@]}" "$libdir/libentity.a" "${PCW[@]}"
run pkgconfig-static "$work/pc_static"
if ldd "$work/pc_static" | grep -q libentity; then echo "FAIL: static host links libentity.so"; exit 1; fi

# CMake find_package, both targets
cmake -S "$here" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" -DREADME_C="$work/readme.c" -DWITH_HTTP=$([ "$http" = http ] && echo ON || echo OFF) \
      -DWITH_NATS=$([ "$nats" = nats ] && echo ON || echo OFF) >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH=$libdir run cmake-shared "$work/cm/host_shared"
run cmake-static "$work/cm/host_static"
LD_LIBRARY_PATH=$libdir readme_run cmake-shared "$work/cm/readme_shared"
if ldd "$work/cm/readme_static" | grep -q libentity; then echo "FAIL: static README sample (cmake) links libentity.so"; exit 1; fi
readme_run cmake-static "$work/cm/readme_static"
passed=$((10 + ${cxx:-0})) # with headers-alone and the sample three more ways
# an optional find_package(libentity) where its dependencies' .pc files are missing: not found, said
# why, and the host's configure goes on
mkdir "$work/no-pc"
PKG_CONFIG_LIBDIR=$work/no-pc PKG_CONFIG_PATH= cmake -S "$here/optional" -B "$work/opt" -DCMAKE_PREFIX_PATH="$prefix" \
  >"$work/opt.log" 2>&1 || { echo "FAIL: optional find_package stopped the configure"; cat "$work/opt.log"; exit 1; }
grep -q 'libentity_FOUND=0' "$work/opt.log" && tr -s ' \n' ' ' <"$work/opt.log" | grep -q 'lmdb is not found' ||
  { echo "FAIL: optional find_package without lmdb"; cat "$work/opt.log"; exit 1; }
# a component that is not there: not found, saying which and why (it said only "NOT FOUND")
comp_case() { # COMPONENTS WORDS-EXPECTED
  cmake -S "$here/optional" -B "$work/opt-$1" -DCMAKE_PREFIX_PATH="$prefix" -DCOMPS="$1" >"$work/opt.log" 2>&1 ||
    { echo "FAIL: find_package(libentity COMPONENTS $1) stopped the configure"; cat "$work/opt.log"; exit 1; }
  grep -q 'libentity_FOUND=0' "$work/opt.log" && tr -s ' \n' ' ' <"$work/opt.log" | grep -qF "$2" ||
    { echo "FAIL: find_package(libentity COMPONENTS $1) does not say: $2"; cat "$work/opt.log"; exit 1; }
}
comp_case bogus 'libentity has no component "bogus" (its components: http, nats)'
[ "$nats" = nats ] || comp_case nats "libentity's component nats is not installed"
[ "$http" = http ] || comp_case http "libentity's component http is not installed"
if [ "$nats" = nats ]; then # installed, and libnats's .pc hidden: the core's dependencies' only
  mkdir "$work/core-pc"
  for m in lmdb msgpack-c msgpack jansson libxxhash; do
    if pkg-config --exists "$m"; then ln -s "$(pkg-config --variable=pcfiledir "$m")/$m.pc" "$work/core-pc/"; fi
  done
  PKG_CONFIG_LIBDIR=$work/core-pc PKG_CONFIG_PATH= comp_case nats "libentity's component nats needs libnats, found by pkg-config: libnats is not found"
fi
echo "ok: cmake-optional"
passed=$((passed + 1))

# entity-http (installed where libmicrohttpd was found): pkg-config, with the shared libentity and
# with both of libentity's libraries static
if [ "$http" = http ] && [ ! -f "$pcdir/entity-http.pc" ]; then echo "FAIL: entity-http built, entity-http.pc not installed"; exit 1; fi
if [ "$http" = http ]; then
  pcw --cflags --libs entity-http
  cc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -o "$work/http_shared" "$here/host_http.c" "${PCW[@]}"
  LD_LIBRARY_PATH=$libdir "$work/http_shared" || { echo "FAIL: http-pkgconfig-shared"; exit 1; }
  echo "ok: http-pkgconfig-shared"
  pcw --cflags entity-http; cflags=("${PCW[@]}")
  PCW_SED='s/-lentity//' pcw --static --libs-only-l --libs-only-L entity; slibs=("${PCW[@]}")
  pcw --libs libmicrohttpd jansson libxxhash
  cc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -o "$work/http_static" "$here/host_http.c" \
     "${cflags[@]}" "$libdir/libentity-http.a" "$libdir/libentity.a" "${slibs[@]}" \
     "${PCW[@]}" -lpthread # the system's libraries shared (GnuTLS has no .a)
  if ldd "$work/http_static" | grep -q libentity; then echo "FAIL: static http host links libentity.so"; exit 1; fi
  "$work/http_static" || { echo "FAIL: http-pkgconfig-static"; exit 1; }
  echo "ok: http-pkgconfig-static"
  passed=$((passed + 2))
fi

# libentity-nats (installed where libnats was found): pkg-config, shared and static
if [ "$nats" = nats ]; then
  [ -f "$pcdir/entity-nats.pc" ] || { echo "FAIL: libentity-nats built, entity-nats.pc not installed"; exit 1; }
  pcw --cflags --libs entity-nats
  cc -std=c11 -Wall -Wextra -Werror -o "$work/nats_shared" "$here/host_nats.c" "${PCW[@]}"
  LD_LIBRARY_PATH=$libdir "$work/nats_shared" || { echo "FAIL: nats-pkgconfig-shared"; exit 1; }
  echo "ok: nats-pkgconfig-shared"
  pcw --cflags entity-nats; cflags=("${PCW[@]}")
  PCW_SED='s/-lentity-nats//; s/-lentity//' pcw --static --libs-only-l --libs-only-L entity-nats
  cc -std=c11 -Wall -Wextra -Werror -o "$work/nats_static" "$here/host_nats.c" "${cflags[@]}" \
     "$libdir/libentity-nats.a" "$libdir/libentity.a" "${PCW[@]}"
  if ldd "$work/nats_static" | grep -q libentity; then echo "FAIL: static nats host links libentity.so"; exit 1; fi
  "$work/nats_static" || { echo "FAIL: nats-pkgconfig-static"; exit 1; }
  echo "ok: nats-pkgconfig-static"
  # the README's waiting-for-the-relay sample ("Losing no acknowledged write"), as written, in a
  # function that declares what it names (s, r, order, client and the host's reply functions)
  python3 - "$src/README.md" "$work/relay_wait.c" <<'PY'
import sys
readme = open(sys.argv[1]).read()
s = readme.index("```c\n", readme.index("### Losing no acknowledged write")) + 5
open(sys.argv[2], "w").write(
    "#include <entity/entity.h>\n#include <entity/nats.h>\n"
    "void reply_ok(void *client);\nvoid reply_unknown(void *client);\n"
    "int host_write(ent_store *s, ent_relay *r, ent_entity *order, void *client);\n"
    "int host_write(ent_store *s, ent_relay *r, ent_entity *order, void *client)\n{\n    int rc;\n" +
    readme[s:readme.index("```\n", s)] + "    return rc;\n}\n")
PY
  pcw --cflags entity-nats
  cc -std=c11 -Wall -Wextra -Wpedantic -Werror -c -o "$work/relay_wait.o" "$work/relay_wait.c" "${PCW[@]}" ||
    { echo "FAIL: the README's relay-wait sample does not compile"; exit 1; }
  echo "ok: readme-relay-wait-sample"
  passed=$((passed + 3))
fi
# a plugin host: the installed shared libraries by dlopen(), used and dlclose()d three times (with
# libentity-nats, a relay's libnats threads outlive it: it must stay loaded, or their code goes)
dl_nats=() dl_def=()
if [ "$nats" = nats ]; then dl_nats=("$libdir/libentity-nats.so.0") dl_def=(-DWITH_NATS); fi
cc -std=c11 -Wall -Wextra -Wpedantic -Werror ${dl_def[@]+"${dl_def[@]}"} -I"$prefix/include" \
   -o "$work/host_dlopen" "$here/host_dlopen.c" -ldl
LD_LIBRARY_PATH=$libdir "$work/host_dlopen" "$libdir/libentity.so.0" "$work/store-dlopen" \
  ${dl_nats[@]+"${dl_nats[@]}"} || { echo "FAIL: host_dlopen"; exit 1; }
echo "ok: dlopen"
passed=$((passed + 1))
# the optional components through find_package(libentity COMPONENTS ...), built above
if [ "$http" = http ]; then
  LD_LIBRARY_PATH=$libdir "$work/cm/http_host" || { echo "FAIL: http-cmake"; exit 1; }
  echo "ok: http-cmake"
  passed=$((passed + 1))
fi
if [ "$nats" = nats ]; then
  LD_LIBRARY_PATH=$libdir "$work/cm/nats_shared" || { echo "FAIL: nats-cmake-shared"; exit 1; }
  if ldd "$work/cm/nats_static" | grep -q libentity; then echo "FAIL: static nats host (cmake) links libentity.so"; exit 1; fi
  "$work/cm/nats_static" || { echo "FAIL: nats-cmake-static"; exit 1; }
  echo "ok: nats-cmake-shared, nats-cmake-static"
  passed=$((passed + 2))
fi
echo "$passed passed, 0 failed"
