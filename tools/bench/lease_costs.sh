#!/usr/bin/env bash
# Lease-break round trip (another process's open for writing of a served
# file → it continues) and revocation cost (give back a served 16 MiB
# mapping and read it again, against a pread of the same bytes; goal <= 2),
# REPS repetitions; run inside the test machine
# (tools/vm/run -- tools/bench/lease_costs.sh). Prints a table and writes
# JSON to $OUT (default /tmp/cmbmap-lease-costs.json).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
rb=$root/build/bench/revokebench
REPS=${REPS:-7}
MIB=${MIB:-16}
OUT=${OUT:-/tmp/cmbmap-lease-costs.json}
[ -x "$rb" ] || { echo "build/bench/revokebench missing (make bench-host builds it)"; exit 1; }
[ -d /mnt/nvme ] || { echo "run inside the test machine"; exit 1; }
stats3() { sort -n | awk '{a[NR]=$1} END {printf "%s %s %s", a[1], (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2, a[NR]}'; }
f=/mnt/nvme/lease-bench
head -c $((MIB << 20)) /dev/urandom > "$f"; sync
shim() { LD_PRELOAD=$root/build/libcmbmap.so CMBMAP_MIN_SIZE=0 "$@"; }
breaks=() ratios=()
for r in $(seq "$REPS"); do
  echo "  round $r/$REPS" >&2
  read -r us how < <(shim "$rb" break "$f") || { echo "break run failed"; exit 1; }
  [ "$how" = served ] || { echo "not served: $how"; exit 1; }
  breaks+=("$us")
  read -r revoke_us pread_us how < <(shim "$rb" revoke "$f") || { echo "revoke run failed"; exit 1; }
  [ "$how" = served ] || { echo "not served: $how"; exit 1; }
  ratios+=("$(awk -v a="$revoke_us" -v b="$pread_us" 'BEGIN {printf "%.3f", a / b}')")
  echo "    break ${us} us; revoke+reread ${revoke_us} us vs pread ${pread_us} us" >&2
done
read -r bmin bmed bmax < <(printf '%s\n' "${breaks[@]}" | stats3)
read -r rmin rmed rmax < <(printf '%s\n' "${ratios[@]}" | stats3)
printf '%-28s %10s %10s %10s %s\n' measure min median max goal
printf '%-28s %10s %10s %10s %s\n' "lease_break_ms" "$(awk -v v="$bmin" 'BEGIN{printf "%.2f", v/1000}')" \
  "$(awk -v v="$bmed" 'BEGIN{printf "%.2f", v/1000}')" "$(awk -v v="$bmax" 'BEGIN{printf "%.2f", v/1000}')" "-"
printf '%-28s %10s %10s %10s %s\n' "revoke_ratio (${MIB} MiB)" "$rmin" "$rmed" "$rmax" "<= 2"
cat > "$OUT" <<JSON
{"lease_break_ms": {"min": $(awk -v v="$bmin" 'BEGIN{print v/1000}'), "median": $(awk -v v="$bmed" 'BEGIN{print v/1000}'), "max": $(awk -v v="$bmax" 'BEGIN{print v/1000}'), "reps": $REPS},
 "revoke_ratio": {"min": $rmin, "median": $rmed, "max": $rmax, "goal": 2, "mib": $MIB, "reps": $REPS}}
JSON
