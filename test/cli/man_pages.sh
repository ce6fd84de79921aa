#!/usr/bin/env bash
# The generated cmbmap(1) and cmbmap(7) render with man -l without warnings and
# hold every command, every CMBMAP_* option and every reason code the code has.
. "$(dirname "$0")/lib.sh"
command -v man >/dev/null || { echo "man not installed (make deps)"; exit 77; }
dir=$(mktemp -d /tmp/cmbmap-man.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for page in 1 7; do
  f=$ROOT/build/man/cmbmap.$page
  [ -s "$f" ] || fail "$f not built"
  MANWIDTH=1000 man --warnings -l "$f" > "$dir/$page.txt" 2> "$dir/$page.err" || fail "man -l cmbmap.$page"
  [ ! -s "$dir/$page.err" ] || fail "cmbmap.$page: $(cat "$dir/$page.err")"
done
grep -q "^EXIT STATUS" "$dir/1.txt" || fail "cmbmap(1) has no EXIT STATUS"
commands=$("$CLI" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
[ "$(wc -w <<<"$commands")" -ge 7 ] || fail "too few commands parsed from --help: $commands"
for c in $commands; do grep -q "^ *cmbmap $c\b" "$dir/1.txt" || fail "cmbmap(1) lacks command $c"; done
options=$("$CLI" options --markdown | sed -n 's/^| `\(CMBMAP_[A-Z_]*\)`.*/\1/p')
[ "$(wc -w <<<"$options")" -ge 10 ] || fail "too few options parsed"
for o in $options; do grep -q "^ *$o (default" "$dir/7.txt" || fail "cmbmap(7) lacks option $o"; done
# Every reason name the library knows, from the library itself.
cat > "$dir/reasons.c" <<'C'
#include <cmbmap/cmbmap.h>
#include <stdio.h>
int main(void) { for (int i = 1; i < CMBMAP_REASON_COUNT; i++) puts(cmbmap_reason_name(i)); return 0; }
C
cc -I"$ROOT/include" -o "$dir/reasons" "$dir/reasons.c" -L"$ROOT/build" -lcmbmap || fail "compiling the reason lister"
reasons=$(CMBMAP_DISABLE=1 LD_LIBRARY_PATH=$ROOT/build "$dir/reasons") || fail "reason lister"
[ "$(wc -w <<<"$reasons")" -ge 40 ] || fail "too few reasons"
for r in $reasons; do grep -q "^ *$r\b" "$dir/7.txt" || fail "cmbmap(7) lacks reason $r"; done
echo "ok: $(wc -w <<<"$commands") commands, $(wc -w <<<"$options") options, $(wc -w <<<"$reasons") reasons"
