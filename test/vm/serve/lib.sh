# Shared by the serving tests (sourced, inside the test machine): the
# helpers of test/vm/, plus running a program with and without the shim.
. "$(dirname "${BASH_SOURCE[0]}")/../helpers.sh"
in_guest
need_cli
LIB=$ROOT/build/libcmbmap.so
MAPCHECK=$ROOT/build/test/vm/mapcheck
[ -x "$MAPCHECK" ] || skip "build/test/vm/mapcheck not built"
WORK=$(mktemp -d /mnt/nvme/serve.XXXXXX)
LOGS=$(mktemp -d /tmp/cmbmap-serve.XXXXXX)
# KEEP_LOGS=1 keeps the logs (under the host's /tmp) for a failure to be read.
trap 'rm -rf "$WORK"; [ -n "${KEEP_LOGS:-}" ] || rm -rf "$LOGS"' EXIT

# Served only where the kernel publishes the CMB as p2pmem.
expect_served() { p2p_kernel; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# with_shim LOGNAME CMD...: CMD under the shim, every mapping considered,
# log in $LOGS/LOGNAME.log
with_shim() {
  local name=$1; shift
  env LD_PRELOAD="$LIB" CMBMAP_MIN_SIZE=0 CMBMAP_STATS=1 CMBMAP_LOG="debug:$LOGS/$name.log" "$@"
}

# served_bytes LOGNAME: bytes the shim served in that run (from its log)
served_bytes() {
  sed -nE 's/.* info: mmap .*: ([0-9]+) ([KMG]i)?B served from CMB.*/\1 \2/p' "$LOGS/$1.log" \
    | awk '{m = $2 == "Ki" ? 1024 : $2 == "Mi" ? 1048576 : $2 == "Gi" ? 1073741824 : 1; s += $1 * m} END {print s + 0}'
}

# page_cache_bytes FILE: bytes of FILE resident in the page cache
page_cache_bytes() { fincore -b -n -o RES "$1" | awk '{print $1}'; }

# random_file FILE SIZE: SIZE random bytes, on disk when it returns (an
# extent still being written back reads UNWRITTEN on xfs and stays ordinary:
# a test expecting the file served whole would depend on writeback timing)
random_file() { head -c "$2" /dev/urandom > "$1" && sync "$1"; }

# The drive-fault tests' program: maps FILE (argv 1), creates argv 2, waits
# for argv 3 to exist (the faults cleared), then prints the sha256 of what
# the mapping reads.
MAP_THEN_HASH='
import hashlib, mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
print(hashlib.sha256(m).hexdigest())'

# cmb_fit MIB [SHARES]: MIB, or less where the machine's CMB is small
# (tools/vm/run --cmb-mb): at most 1/SHARES (default 2) of it, so that many
# mappings of that size fit at once with room to spare.
cmb_fit() { local cap=$(( ${TESTVM_CMB_MB:-64} / ${2:-2} )); echo $(( $1 < cap ? $1 : cap )); }
