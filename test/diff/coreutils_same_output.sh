#!/usr/bin/env bash
# Everyday programs (coreutils, grep) over multi-MiB files: identical output
# with and without the shim.
. "$(dirname "$0")/lib.sh"
seq 1 400000 | awk '{print ($1 * 7919) % 100003, $1}' > "$WORK/lines"
head -c $((8 << 20)) /dev/urandom > "$WORK/bin"
variants sort sort -n "$WORK/lines"
variants sha sha256sum "$WORK/lines" "$WORK/bin"
variants tac tac "$WORK/lines"
variants wc wc "$WORK/lines" "$WORK/bin"
variants grep grep -c '^7' "$WORK/lines"
variants cp sh -c "cp '$WORK/bin' '$WORK/bin.copy' && cmp '$WORK/bin' '$WORK/bin.copy' && echo copied"
variants od od -A d -t x1 -N 4096 -j 123456 "$WORK/bin"
