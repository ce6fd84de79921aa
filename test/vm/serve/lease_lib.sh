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

# start_holder NAME HOLDMAP-OPTIONS...: a copy of $WORK/f as $WORK/NAME, held
# by holdmap under the shim (results in $LOGS/NAME/); returns once every
# holder is ready, with HOLDER set to the background job
start_holder() {
  local name=$1 dir=$LOGS/$1; shift
  mkdir -p "$dir"
  dd if="$WORK/f" of="$WORK/$name" bs=1M status=none  # not cp: on xfs it would reflink (SHARED)
  with_shim "$name" "$HOLDMAP" "$@" "$WORK/$name" "$dir" &
  HOLDER=$!
  wait_for "$dir/parent.ready"
  case " $* " in *" --fork "*) wait_for "$dir/child.ready" ;; esac
}

# finish_holder NAME: lets the holders read, waits for them
finish_holder() {
  touch "$LOGS/$1/go"
  wait "$HOLDER" || fail "$1: holdmap failed"
}
