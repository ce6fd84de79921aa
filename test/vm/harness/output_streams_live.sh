#!/usr/bin/env bash
# The command's stdout reaches the caller while it still runs (not only at the end), and
# stdout and stderr stay apart.
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); log=$(mktemp); trap 'rm -f "$err" "$log"' EXIT
"$VMRUN" -- sh -c 'echo first; sleep 6; echo second >&2; echo third' 2>"$err" \
  | while IFS= read -r line; do echo "$SECONDS $line"; done > "$log"
cat "$log"
t_first=$(awk '$2 == "first" {print $1}' "$log"); t_third=$(awk '$2 == "third" {print $1}' "$log")
[ -n "$t_first" ] && [ -n "$t_third" ] || fail "missing output lines"
[ $((t_third - t_first)) -ge 4 ] || fail "stdout arrived only at the end (first at $t_first s, third at $t_third s)"
[ "$(grep -v -e '^tools/vm/run' -e '^\[vm ' "$err")" = second ] || { cat "$err"; fail "stderr is not exactly 'second'"; }
! grep -q second "$log" || fail "stderr leaked into stdout"
