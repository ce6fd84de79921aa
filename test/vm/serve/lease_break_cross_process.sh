#!/usr/bin/env bash
# Another process changes a file that is served to this one: process A maps
# a 16 MiB file (less with a small CMB: cmb_fit; served from the CMB); process B opens it for writing,
# overwrites 1 MiB and truncates it to 5/8 of its size. B never waits for the kernel's
# lease-break-time: A's watcher gives the ranges back and releases the lease
# within milliseconds. A then reads B's bytes through the same mapping, and
# SIGBUS past the new end of file, exactly as a plain mapping would; a new
# mapping, once B is done, is served again.
. "$(dirname "$0")/lease_lib.sh"
mib=$(cmb_fit 16) cut=$(( $(cmb_fit 16) * 5 / 8 ))
random_file "$WORK/f" $((mib << 20))
start_holder plain
open_us=$(open_us "$WORK/plain")
write_ms=$(timed_ms dd if=/dev/urandom of="$WORK/plain" bs=1M seek=3 count=1 conv=notrunc status=none)
trunc_ms=$(timed_ms truncate -s $((cut << 20)) "$WORK/plain")
finish_holder plain
echo "A: $(cat "$LOGS/plain/parent.ready")"
echo "B: open(O_WRONLY) returned after $open_us us; dd (start to exit) $write_ms ms, truncate $trunc_ms ms" \
  "(lease-break-time ${BREAK_TIME} s)"
echo "A after: $(tr '\n' ' ' < "$LOGS/plain/parent.result")"
want=$(file_sum "$WORK/plain" $((cut << 20)))
[ "$(field "$LOGS/plain/parent.result" sum)" = "$want" ] || fail "A does not read B's bytes through its mapping"
[ "$(field "$LOGS/plain/parent.result" size)" = $((cut << 20)) ] || fail "A saw the wrong size"
[ "$(field "$LOGS/plain/parent.result" past_eof)" = SIGBUS ] || fail "no SIGBUS past the new end of file"
if expect_served; then
  [ "$(field "$LOGS/plain/parent.ready" cmb)" = $((mib << 20)) ] || fail "the mapping was not served to begin with"
  [ "$(field "$LOGS/plain/parent.result" cmb)" = 0 ] || fail "CMB still mapped after the break"
  grep -q "breaks [1-9]" "$LOGS/plain/parent.result" || fail "A counted no lease break"
  grep -q "revoked_lease $((mib << 20))" "$LOGS/plain/parent.result" || fail "A's stats miss the revocation"
  # B is done: a new mapping gets a new lease and is served again.
  [ "$(field "$LOGS/plain/parent.result" cmb_again)" = $((cut << 20)) ] || fail "a new mapping was not served again"
  # Far from the kernel's wait: the break was answered, not timed out.
  [ "$open_us" -lt $((BREAK_TIME * 1000000 / 4)) ] || fail "B's open waited $open_us us: the break was not answered"
  grep "lease broken" "$LOGS/plain.log" | head -2
fi
