#!/usr/bin/env bash
# Power-cut test driver: for durable, lazy and mixed (durable and lazy handles) stores, 16 writer threads under the recording shim,
# then the log played back with the power cut at many points (see powercut.c).
set -u
P=$1 SHIM=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# LD_PRELOAD splits its list at spaces and colons: a build tree under such a path preloads a copy.
case $SHIM in
  *[\ :]*) cp "$SHIM" "$work/shim.so"; SHIM=$work/shim.so ;;
esac
rc=0
for dur in durable lazy mixed; do
  rm -rf "$work/st" "$work/acks" "$work/log"
  if ! POWERCUT_LOG=$work/log LD_PRELOAD="$SHIM" "$P" write "$work/st" "$work/acks" 16 60 "$dur"; then
    echo "FAIL: the $dur writer failed"; rc=1; continue
  fi
  "$P" check "$work/log" "$work" 150 "${POWERCUT_SEED:-$RANDOM}" "$dur" "$work/st" || { echo "FAIL: $dur"; rc=1; }
done
exit $rc
