# Shared by the differential tests (sourced): run a command without the shim,
# with it, with CMBMAP_DISABLE=1, and with it watching every mapping
# (CMBMAP_MIN_SIZE=0, CMBMAP_LOG=debug to a file), then require identical
# stdout and exit status from all four.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The library: build/'s, or another build's (CMBMAP_TEST_LIB); a sanitized one
# needs its runtime loaded before it (CMBMAP_TEST_RUNTIME). make check-sanitize
# sets both.
LIB=${CMBMAP_TEST_LIB:-$ROOT/build/libcmbmap.so}
PRELOAD="${CMBMAP_TEST_RUNTIME:+$CMBMAP_TEST_RUNTIME }$LIB"
HELPERS=$ROOT/build/test/diff
WORK=${CMBMAP_TEST_DIR:-$(mktemp -d /tmp/cmbmap-diff.XXXXXX)}
mkdir -p "$WORK"
[ -n "${CMBMAP_TEST_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT
[ -f "$LIB" ] || { echo "libcmbmap.so not built"; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "skip: $*"; exit 77; }

# variants NAME CMD...: runs the four variants; stdout in $WORK/NAME.<variant>.out
variants() {
  local name=$1; shift
  local log=$WORK/$name.debug.log
  rm -f "$log"
  env -u LD_PRELOAD "$@" >"$WORK/$name.plain.out" 2>"$WORK/$name.plain.err"; local rc0=$?
  env LD_PRELOAD="$PRELOAD" "$@" >"$WORK/$name.shim.out" 2>"$WORK/$name.shim.err"; local rc1=$?
  env LD_PRELOAD="$PRELOAD" CMBMAP_DISABLE=1 "$@" >"$WORK/$name.disabled.out" 2>"$WORK/$name.disabled.err"; local rc2=$?
  env LD_PRELOAD="$PRELOAD" CMBMAP_MIN_SIZE=0 CMBMAP_LOG="debug:$log" "$@" \
    >"$WORK/$name.watched.out" 2>"$WORK/$name.watched.err"; local rc3=$?
  [ "$rc0 $rc1 $rc2 $rc3" = "$rc0 $rc0 $rc0 $rc0" ] \
    || fail "$name: exit status differs: plain $rc0, shim $rc1, disabled $rc2, watched $rc3"
  for v in shim disabled watched; do
    cmp -s "$WORK/$name.plain.out" "$WORK/$name.$v.out" || {
      diff "$WORK/$name.plain.out" "$WORK/$name.$v.out" | head -20
      fail "$name: stdout differs between plain and $v"
    }
  done
  # The shim's own output goes to its log, never into the program's stderr.
  for v in shim disabled watched; do
    cmp -s "$WORK/$name.plain.err" "$WORK/$name.$v.err" || {
      diff "$WORK/$name.plain.err" "$WORK/$name.$v.err" | head -20
      fail "$name: stderr differs between plain and $v"
    }
  done
  echo "$name: identical in 4 variants (exit $rc0, $(wc -c <"$WORK/$name.plain.out") bytes)"
}

# saw_mappings NAME MIN: the watched run logged at least MIN file-mapping decisions.
saw_mappings() {
  local n
  n=$(grep -c ' info: mmap ' "$WORK/$1.debug.log" 2>/dev/null)
  [ "${n:-0}" -ge "$2" ] || fail "$1: the shim saw ${n:-0} file mappings, expected >= $2 (was it loaded?)"
  echo "$1: the shim decided on $n file mapping(s)"
}
