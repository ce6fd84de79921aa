# Shared by the writable-mapping tests (sourced): the wstore helper and a
# file of random bytes whose blocks are allocated (so it can be served).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WSTORE=$ROOT/build/test/vm/wstore
[ -x "$WSTORE" ] || skip "build/test/vm/wstore not built"

# with_wshim LOGNAME CMD...: CMD under the shim with writable mappings served
with_wshim() { local name=$1; shift; with_shim "$name" env CMBMAP_WRITABLE=1 "$@"; }

# wshim_env LOGNAME: the environment of with_wshim, for `env $(wshim_env N) CMD &`
# (then $! is CMD's own pid, which a function run in the background is not)
wshim_env() {
  echo "LD_PRELOAD=$LIB CMBMAP_MIN_SIZE=0 CMBMAP_STATS=1 CMBMAP_LOG=debug:$LOGS/$1.log CMBMAP_WRITABLE=1"
}

# why_not LOGNAME: the log's mapping decisions, for a failure message
why_not() { grep -E "info: mmap|not taken|without a write lease" "$LOGS/$1.log" | head -5; }

# data_file PATH MIB: random bytes, on disk
data_file() { dd if=/dev/urandom of="$1" bs=1M count="$2" status=none && sync; }
