#!/usr/bin/env bash
# CMB memory holds whatever its last user wrote. Paint the whole pool with a
# marker from one process; a served mapping in another shows only the file's
# bytes and zeros past EOF, never the marker.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
marker=STALECMBBYTES!!!
avail=$(cat "$(nvme_pci nvme0)/p2pmem/available")
"$MAPCHECK" paint $((avail / 4096 * 4096)) "$marker" >/dev/null || fail "painting the CMB"
f=$WORK/small
head -c $((1 << 20)) /dev/zero | tr '\0' 'z' > "$f"
printf 'end' >> "$f"    # 1 MiB + 3 bytes: the last page is almost all past EOF
drop_caches
with_shim stale "$MAPCHECK" content "$f" $((2 << 20)) > "$LOGS/stale.out" 2>"$LOGS/stale.backing" \
  || fail "mapcheck under the shim"
grep -q "backing p2pmem" "$LOGS/stale.backing" || fail "not served"
grep -q "data same as file" "$LOGS/stale.out" || fail "served bytes differ from the file: $(cat "$LOGS/stale.out")"
grep -q "tail of last page: 0 non-zero bytes" "$LOGS/stale.out" || fail "stale bytes past EOF: $(cat "$LOGS/stale.out")"
echo "painted $avail bytes with a marker; the served mapping shows only the file and zeros"
