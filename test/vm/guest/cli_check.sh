#!/usr/bin/env bash
# `cmbmap check` on the test machine: on the P2PDMA kernel every controller is ready and it
# exits 0 (peers behind the one switch reach each other's CMB with two controllers); on the
# stock kernel it exits 1 and names CONFIG_PCI_P2PDMA or the unpublished p2pmem.
. "$(dirname "$0")/../helpers.sh"; in_guest; need_cli
out=$(mktemp); trap 'rm -f "$out" "$out.json"' EXIT
n=${TESTVM_CONTROLLERS:-1}
peers=()
[ "$n" = 2 ] && peers=(--peer "$(basename "$(nvme_pci nvme1)")")
"$CLI" check "${peers[@]}" > "$out" 2>&1; rc=$?
cat "$out"
"$CLI" check --json "${peers[@]}" > "$out.json"; jrc=$?
[ "$jrc" = "$rc" ] || fail "--json exited $jrc, text $rc"
if p2p_kernel; then
  [ "$rc" = 0 ] || fail "exit $rc on the P2PDMA kernel"
  grep -q 'this machine can serve$' "$out" || fail "no verdict line"
  json_check "$out.json" "j['can_serve'] is True" "len(j['controllers']) == $n" \
    "all(c['ready'] and c['can_allocate'] == 'yes' for c in j['controllers'])" \
    "all(c['p2pmem']['size'] == $(( ${TESTVM_CMB_MB:-64} << 20 )) for c in j['controllers'])" \
    "j['sysctl']['leases_enable'] == 1"
  if [ "$n" = 2 ]; then
    # nvme1 as a peer of nvme0's CMB (and of its own): through the switch, as the kernel allows.
    grep -qE '^ok +peer .* reaches nvme0 .* below switch port' "$out" || fail "nvme1 does not reach nvme0"
    json_check "$out.json" "j['peers'][0]['found'] is True" \
      "[r['kind'] for r in j['peers'][0]['routes'] if r['controller'] == 'nvme0'] == ['switch']"
  fi
else
  [ "$rc" = 1 ] || fail "exit $rc on the stock kernel"
  grep -qE '^FAIL .*(CONFIG_PCI_P2PDMA|p2pmem)' "$out" || fail "no CONFIG_PCI_P2PDMA/p2pmem failure line"
  json_check "$out.json" "j['can_serve'] is False" "all(not c['ready'] for c in j['controllers'])"
fi
