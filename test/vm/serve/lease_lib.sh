# Shared by the lease tests (sourced): holdmap in the background, and a
# writer in another process timed from the start of its open.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HOLDMAP=$ROOT/build/test/vm/holdmap
[ -x "$HOLDMAP" ] || skip "build/test/vm/holdmap not built"

# wait_for FILE: until FILE exists (30 s at most)
wait_for() {
  local i
  for ((i = 0; i < 3000; i++)); do [ -e "$1" ] && return 0; sleep 0.01; done
  fail "$1 did not appear"
}

# timed_ms CMD...: runs CMD (no shim), prints its wall time in ms
timed_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" || fail "$*"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

# The kernel waits this long for a lease holder that does not answer; a
# stall shows as a wait near it, an answered break as milliseconds.
BREAK_TIME=$(cat /proc/sys/fs/lease-break-time)

# file_sum FILE SIZE: the FNV-1a sum holdmap prints, of FILE's first SIZE bytes
file_sum() { "$HOLDMAP" --sum "$1" "$2"; }

# open_us FILE: microseconds another process's open(O_WRONLY) of FILE took
open_us() { "$HOLDMAP" --open-write "$1" || fail "open for writing $1"; }

field() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
