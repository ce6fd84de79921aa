# Helpers shared by the tests under test/vm/ (sourced). A test exits 0 (pass),
# 77 (skip: its last output line names what is missing) or anything else (fail).
# Guest tests run inside tools/vm/run with the repository root as cwd and
# TESTVM_KERNEL/TESTVM_FS/TESTVM_CONTROLLERS/TESTVM_CMB_MB describing the machine.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMRUN="$ROOT/tools/vm/run"
CLI="$ROOT/build/cmbmap"
# The system python3: a PATH python3 may be a pyenv shim (a shell script, slow over 9p).
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
in_guest() { [ "${TESTVM:-}" = 1 ] || skip "not inside the test machine (run via test/vm/run-all)"; }
need_cli() { [ -x "$CLI" ] || skip "cmbmap CLI not built ($CLI missing)"; }
p2p_kernel() { [ "${TESTVM_KERNEL:-}" = p2p ]; }

# nvme_pci CTRL: the sysfs dir of controller CTRL's PCI function (e.g. nvme0 -> /sys/devices/...).
nvme_pci() { readlink -f "/sys/class/nvme/$1/device"; }

# json_check FILE PYTHON-EXPR...: each expression, evaluated with j = the parsed JSON, must be
# true; prints the first failing expression and the JSON, exits 1.
json_check() {
  "$PY" - "$@" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for expr in sys.argv[2:]:
    try:
        ok = eval(expr, {"j": j})
    except Exception as e:
        ok, expr = False, f"{expr}  ({type(e).__name__}: {e})"
    if not ok:
        print("FAIL: expected", expr)
        print(json.dumps(j, indent=1)[:3000])
        sys.exit(1)
PY
}
