# Shared by the CLI tests (sourced).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLI=$ROOT/build/cmbmap
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() {  # expect_rc WANT CMD...
  local want=$1; shift
  "$@" >/dev/null 2>&1; local rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
}
