#!/usr/bin/env bash
# `cmbmap devices --json` reports each controller's CMB in bytes, its namespace, and
# p2pmem published / usable ELIGIBLE under the p2p kernel, or NO_P2PDMA under the stock one.
. "$(dirname "$0")/../helpers.sh"; in_guest; need_cli
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$CLI" devices --json > "$out" || fail "cmbmap devices --json exited $?"
cmb=$(( ${TESTVM_CMB_MB:-64} << 20 ))
n=${TESTVM_CONTROLLERS:-1}
common=("len(j['controllers']) == $n"
  "sorted(c['name'] for c in j['controllers']) == ['nvme%d' % i for i in range($n)]"
  "all(c['cmb']['present'] is True for c in j['controllers'])"
  "all(c['namespaces'][0]['name'] == c['name'] + 'n1' for c in j['controllers'])"
  "all(c['namespaces'][0]['block_device'] == '/dev/' + c['name'] + 'n1' for c in j['controllers'])"
  "all(c['namespaces'][0]['lba_size'] in (512, 4096) for c in j['controllers'])")
if p2p_kernel; then
  json_check "$out" "${common[@]}" \
    "all(c['cmb']['size'] == $cmb for c in j['controllers'])" \
    "all(c['cmb']['bar'] == 2 and c['cmb']['rds'] and c['cmb']['wds'] for c in j['controllers'])" \
    "all(c['p2pmem']['present'] and c['p2pmem']['published'] and c['p2pmem']['size'] == $cmb for c in j['controllers'])" \
    "all(0 < c['p2pmem']['available'] <= $cmb for c in j['controllers'])" \
    "all(c['usable'] is True and c['reason'] == 'ELIGIBLE' for c in j['controllers'])"
else
  # Linux 6.1 hides cmbsz without P2PDMA: a size may be unknown (null) but never wrong.
  json_check "$out" "${common[@]}" \
    "all(c['cmb'].get('size') in (None, $cmb) for c in j['controllers'])" \
    "all(c['p2pmem']['present'] is False for c in j['controllers'])" \
    "all(c['usable'] is False and c['reason'] == 'NO_P2PDMA' for c in j['controllers'])"
fi
