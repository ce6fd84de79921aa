#!/usr/bin/env bash
# LMDB (memory-mapped database): python3-lmdb writes an environment, then
# mdb_stat, mdb_dump and python3-lmdb reads give the same output with and
# without the shim.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import lmdb' 2>/dev/null || skip "python3-lmdb not installed (make deps)"
command -v mdb_dump >/dev/null || skip "lmdb-utils not installed (make deps)"
$PY - "$WORK/env" <<'PYEOF' || fail "building the LMDB environment"
import lmdb, sys
env = lmdb.open(sys.argv[1], map_size=64 << 20)
with env.begin(write=True) as txn:
    for i in range(20000):
        txn.put(b"key%06d" % i, (b"value-%d-" % i) * 8)
env.close()
PYEOF
cat > "$WORK/read.py" <<'PYEOF'
import hashlib, lmdb, sys
env = lmdb.open(sys.argv[1], readonly=True, lock=False)
h = hashlib.sha256()
with env.begin() as txn:
    for k, v in txn.cursor():
        h.update(k + v)
    print(env.stat()["entries"], h.hexdigest(), txn.get(b"key012345"))
PYEOF
variants mdbstat mdb_stat -e "$WORK/env"
variants mdbdump mdb_dump -n "$WORK/env/data.mdb"
variants pylmdb $PY "$WORK/read.py" "$WORK/env"
saw_mappings pylmdb 1
