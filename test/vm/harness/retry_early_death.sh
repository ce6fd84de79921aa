#!/usr/bin/env bash
# A guest that dies before the command starts is booted again (up to 3 boots), and each
# retry is reported on stderr; the command then runs once and its status comes back.
# (A real early-boot flake on a retry may add one retry: counts allow for it.)
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); trap 'rm -f "$err" "$err.out"' EXIT
# deaths: how many boots die on purpose
for deaths in 1 2; do
  CMBMAP_VM_INJECT_EARLY_DEATH=$deaths "$VMRUN" -- sh -c 'echo ran; exit 3' 2>"$err" > "$err.out"; rc=$?
  cat "$err"
  [ "$rc" = 3 ] || fail "$deaths early death(s): exit status $rc, expected 3"
  n=$(grep -c 'booting once more' "$err")
  [ "$n" -ge "$deaths" ] && [ "$n" -le 2 ] || fail "$deaths early death(s): retry reported $n times"
  [ "$(cat "$err.out")" = ran ] || fail "$deaths early death(s): command output '$(cat "$err.out")'"
done
# Never more than 3 boots: 3 deaths end in 125.
CMBMAP_VM_INJECT_EARLY_DEATH=3 "$VMRUN" -- sh -c 'echo ran; exit 3' 2>"$err" > "$err.out"; rc=$?
[ "$rc" = 125 ] || fail "3 early deaths: exit status $rc, expected 125"
[ "$(grep -c 'booting once more' "$err")" = 2 ] || fail "3 early deaths: not exactly 2 retries"
[ ! -s "$err.out" ] || fail "3 early deaths: the command ran"
