#!/usr/bin/env bash
# --help and --version everywhere, exit 2 for usage errors and missing files,
# errors name the file and the reason.
. "$(dirname "$0")/lib.sh"
expect_rc 0 "$CLI" --help
expect_rc 0 "$CLI" --version
for c in run inspect devices stat reclaim options; do expect_rc 0 "$CLI" $c --help; done
"$CLI" --version | grep -qE '^cmbmap [0-9]+\.[0-9]+\.[0-9]+$' || fail "version format"
expect_rc 2 "$CLI"
expect_rc 2 "$CLI" frobnicate
expect_rc 2 "$CLI" inspect
expect_rc 2 "$CLI" inspect --bogus /etc/hostname
expect_rc 2 "$CLI" devices --bogus
expect_rc 2 "$CLI" stat notapid
expect_rc 2 "$CLI" reclaim --bytes lots
expect_rc 2 "$CLI" reclaim --pid
expect_rc 2 "$CLI" reclaim --frob
err=$("$CLI" inspect /nonexistent/file 2>&1); rc=$?
[ $rc = 2 ] || fail "missing file: exit $rc"
[ "$err" = "cmbmap: /nonexistent/file: No such file or directory" ] || fail "error text: $err"
"$CLI" --help | grep -q CMBMAP_MIN_SIZE || fail "--help lacks the environment table"
"$CLI" --help | grep -qi "lost" || fail "--help lacks the writable-mapping warning"
echo ok
