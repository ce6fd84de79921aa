#!/usr/bin/env bash
# The command runs as root in the caller's directory with the caller's environment:
# CMBMAP_*, LD_PRELOAD, PATH and values with spaces, quotes and newlines arrive intact;
# tools/vm/run's own CMBMAP_VM_* knobs do not.
. "$(dirname "$0")/../helpers.sh"
libm=$(ls /lib/x86_64-linux-gnu/libm.so.6 2>/dev/null || ls /usr/lib*/libm.so.6 | head -n1)
odd=$'a b "c" \'d\' $e\nf'
got=$(cd "$ROOT/test/vm" && CMBMAP_TEST_TOKEN=tok-42 CMBMAP_TEST_ODD="$odd" LD_PRELOAD="$libm" \
      CMBMAP_VM_BOOT_TIMEOUT=170 "$VMRUN" -- bash -c \
      'printf "%s|" "$PWD" "$(id -u)" "$CMBMAP_TEST_TOKEN" "$LD_PRELOAD" "${CMBMAP_VM_BOOT_TIMEOUT-unset}" "$PATH"; printf "%s" "$CMBMAP_TEST_ODD"')
rc=$?
[ "$rc" = 0 ] || fail "exit status $rc"
want="$ROOT/test/vm|0|tok-42|$libm|unset|$PATH|$odd"
[ "$got" = "$want" ] || { printf 'got:  %q\nwant: %q\n' "$got" "$want"; fail "environment or cwd differ"; }
