#!/usr/bin/env bash
# Lease breaks in the harder places:
#  - fork: parent and child both hold the mapping; a third process opens the
#    file for writing and overwrites 1 MiB: it is not stalled, and both see
#    the new bytes (the child gave its inherited CMB ranges back at fork);
#  - a program that blocks every signal in every thread: the break still
#    reaches cmbmap's watcher thread, the opener is not stalled;
#  - a program holding the file O_RDWR (as sqlite3 and LMDB do): served under
#    a write lease on its own open file; another process's open breaks it.
. "$(dirname "$0")/lease_lib.sh"
mib=$(cmb_fit 8 4)
random_file "$WORK/f" $((mib << 20))
check_case() {  # check_case NAME WHO... (after run_case)
  local name=$1 dir=$LOGS/$1 who; shift
  local want; want=$(file_sum "$WORK/$name" $((mib << 20)))
  read -r open_us < "$dir/times"
  echo "$name: the writer's open returned after $open_us us"
  for who in "$@"; do
    echo "  $who: before $(cat "$dir/$who.ready"), after: $(tr '\n' ' ' < "$dir/$who.result")"
    [ "$(field "$dir/$who.result" sum)" = "$want" ] || fail "$name: the $who does not see the new bytes"
    [ "$(field "$dir/$who.result" cmb)" = 0 ] || fail "$name: the $who still maps CMB"
  done
  expect_served || return 0
  [ "$(field "$dir/parent.ready" cmb)" = $((mib << 20)) ] || fail "$name: not served to begin with"
  grep -q "breaks [1-9]" "$dir/parent.result" || fail "$name: no lease break counted"
  [ "$(field "$dir/parent.result" cmb_again)" = $((mib << 20)) ] || fail "$name: a new mapping was not served again"
  [ "$open_us" -lt $((BREAK_TIME * 1000000 / 4)) ] || fail "$name: the open waited $open_us us"
}
run_case() {  # run_case NAME HOLDMAP-OPTIONS...
  start_holder "$@"
  open_us "$WORK/$1" > "$LOGS/$1/times"
  dd if=/dev/urandom of="$WORK/$1" bs=1M seek=2 count=1 conv=notrunc status=none || fail "dd"
  finish_holder "$1"
}
run_case fork --fork
grep -q "cmb 0" "$LOGS/fork/child.ready" || fail "the forked child still maps CMB it inherited"
check_case fork parent child
run_case blocked --block-signals
check_case blocked parent
run_case rdwr --rdwr
check_case rdwr parent
if expect_served; then
  grep -q "write lease taken" "$LOGS/rdwr.log" || fail "no write lease for the O_RDWR holder"
fi
