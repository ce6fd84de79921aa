#!/usr/bin/env bash
# A program maps its file again over the mapping its threads read (mmap
# MAP_FIXED at the same address: to refresh or grow it). Without cmbmap the
# readers see the file's bytes throughout; served, they must too: the CMB
# memory is filled aside and only then moved over the mapping, so a reader
# never sees what the pool held before (painted with a marker here: what a
# process killed with SIGKILL leaves behind) nor a page not filled yet.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
avail=$(cat "$(nvme_pci nvme0)/p2pmem/available")
"$MAPCHECK" paint $((avail / 4096 * 4096)) STALECMBBYTES!!! >/dev/null || fail "painting the CMB"
f=$WORK/replaced
random_file "$f" $(( $(cmb_fit 4 4) << 20 ))
rounds=6
"$MAPCHECK" replace "$f" $rounds > "$LOGS/plain.out" 2>/dev/null || fail "mapcheck without the shim"
drop_caches
with_shim replaced "$MAPCHECK" replace "$f" $rounds > "$LOGS/shim.out" 2>"$LOGS/shim.err" \
  || fail "mapcheck under the shim: $(cat "$LOGS/shim.err")"
cat "$LOGS/shim.err"
served=$(sed -nE 's/^replace: ([0-9]+) of.*/\1/p' "$LOGS/shim.err")
[ "${served:-0}" -ge $((rounds - 1)) ] || fail "only ${served:-0} of $rounds mappings were served"
cmp -s "$LOGS/plain.out" "$LOGS/shim.out" || fail "without the shim: $(cat "$LOGS/plain.out"); under it: $(cat "$LOGS/shim.out")"
cat "$LOGS/shim.out"
