#!/usr/bin/env bash
# Bad and edge-case calls (mmap flags, fds, offsets, munmap/msync alignment,
# mremap, madvise, past-EOF SIGBUS, write/truncate/open/dup/exec errors)
# return the same values and errno with and without the shim.
. "$(dirname "$0")/lib.sh"
variants badcalls "$HELPERS/badcalls" "$WORK"
saw_mappings badcalls 3
grep -q "read past EOF *signal SIGBUS" "$WORK/badcalls.plain.out" || fail "no SIGBUS past EOF in the baseline"
