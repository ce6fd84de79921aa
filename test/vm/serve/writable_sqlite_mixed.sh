#!/usr/bin/env bash
# sqlite3 in WAL mode with mmap_size on /mnt/nvme, under the shim with
# CMBMAP_WRITABLE=1: its wal-index (the -shm file) is a writable shared
# mapping, served from the CMB. A mixed workload (inserts, updates, deletes,
# an index, a checkpoint, a rollback) ends with PRAGMA integrity_check ok
# and the same .dump as the same script without the shim.
. "$(dirname "$0")/wlib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
cat > "$LOGS/work.sql" <<'SQL'
PRAGMA journal_mode=WAL;
PRAGMA mmap_size=268435456;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, printf('key%06d', x * 7919 % 20000), zeroblob(100 + x % 300) FROM c;
CREATE INDEX tk ON t(k);
BEGIN; UPDATE t SET v = printf('%.*c', 50 + id % 500, 'u') WHERE id % 3 = 0; COMMIT;
BEGIN; DELETE FROM t WHERE id % 7 = 0; INSERT INTO t SELECT id + 20000, k || 'x', v FROM t WHERE id % 11 = 0; COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
BEGIN; DELETE FROM t; ROLLBACK;
BEGIN; UPDATE t SET k = upper(k) WHERE id % 5 = 0; COMMIT;
SELECT count(*), sum(length(v)), count(DISTINCT k) FROM t;
PRAGMA integrity_check;
SQL
sqlite3 "$WORK/plain.db" < "$LOGS/work.sql" > "$LOGS/plain.out" 2>&1 || fail "sqlite3 without the shim: $(cat "$LOGS/plain.out")"
with_wshim sqlite sqlite3 "$WORK/shim.db" < "$LOGS/work.sql" > "$LOGS/shim.out" 2>&1 \
  || fail "sqlite3 under the shim: $(tail -5 "$LOGS/shim.out")"
cat "$LOGS/shim.out"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "different results under the shim"
tail -n1 "$LOGS/shim.out" | grep -qx ok || fail "integrity_check"
sqlite3 "$WORK/plain.db" .dump > "$LOGS/plain.dump"
sqlite3 "$WORK/shim.db" .dump > "$LOGS/shim.dump"
cmp -s "$LOGS/plain.dump" "$LOGS/shim.dump" || fail "the databases differ (.dump)"
if expect_served; then
  grep -qE "info: mmap .*shim.db-shm .* served from CMB" "$LOGS/sqlite.log" \
    || fail "the wal-index was not served: $(grep -E 'info: mmap .*-shm' "$LOGS/sqlite.log" | head -2)"
fi
echo "same results and .dump with the wal-index in CMB memory"
