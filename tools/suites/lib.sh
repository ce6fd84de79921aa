# Shared helpers for the third-party suite runners in tools/suites/ (sourced, not run).
# The suites themselves are never part of this repository: each runner takes the path
# of a checkout, builds a copy of it once in the cache, and runs it in the test machine
# (tools/vm/run) plain and under the shim, so the same code decides "pass" both ways.

SUITES_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITES_CACHE=${CMBMAP_SUITES_CACHE:-/var/cache/cmbmap/suites}
SUITES_LIB=$SUITES_ROOT/build/libcmbmap.so
SUITES_START=$(date +%s)

say() { printf '[suites %4ss] %s\n' "$(( $(date +%s) - SUITES_START ))" "$*" >&2; }
die() { printf 'tools/suites: error: %s\n' "$*" >&2; exit 1; }

# suite_key DIR: what the cached build is keyed on: the checkout's commit, plus a hash
# of its local changes when it has any (a changed checkout must not reuse a build).
suite_key() {
  local dir=$1 commit dirty
  if ! commit=$(git -C "$dir" rev-parse --short=12 HEAD 2>/dev/null); then
    # A release tarball: no commit to name it by, so its path names it.
    echo "nogit-$(realpath "$dir" | sha1sum | cut -c1-12)"
    return
  fi
  dirty=$( { git -C "$dir" diff HEAD; git -C "$dir" status --porcelain --untracked-files=normal; } \
             2>/dev/null | sha1sum | cut -c1-8)
  if [ -n "$(git -C "$dir" status --porcelain 2>/dev/null)" ]; then
    echo "$commit-dirty$dirty"
  else
    echo "$commit"
  fi
}

# suite_commit DIR: the full commit (for reports), or "unknown".
suite_commit() { git -C "$1" rev-parse HEAD 2>/dev/null || echo unknown; }

# suite_build NAME DIR BUILD_FN: a built copy of checkout DIR in the cache, printed.
# BUILD_FN runs in the copy (a temporary dir, renamed into place only on success), so an
# interrupted or failed build is never taken for a finished one.
suite_build() {
  local name=$1 dir=$2 fn=$3 key out tmp
  key=$(suite_key "$dir")
  out="$SUITES_CACHE/$name-$key"
  if [ -f "$out/.cmbmap-built" ]; then
    say "$name: cached build $out"
    echo "$out"; return 0
  fi
  mkdir -p "$SUITES_CACHE" || die "cannot create $SUITES_CACHE (set CMBMAP_SUITES_CACHE)"
  tmp=$(mktemp -d "$SUITES_CACHE/$name.tmp.XXXXXX") || die "cannot create a dir in $SUITES_CACHE"
  say "$name: copying $dir (without .git) to $tmp"
  tar -C "$dir" --exclude=./.git -cf - . | tar -C "$tmp" -xf - || { rm -rf "$tmp"; die "copying $dir failed"; }
  say "$name: building (log: $tmp/.cmbmap-build.log)"
  if ! (cd "$tmp" && "$fn") > "$tmp/.cmbmap-build.log" 2>&1; then
    tail -n 30 "$tmp/.cmbmap-build.log" >&2
    die "$name: build failed; the partial build stays in $tmp (log: $tmp/.cmbmap-build.log)"
  fi
  suite_commit "$dir" > "$tmp/.cmbmap-built"
  rm -rf "$out" && mv "$tmp" "$out" || die "cannot move $tmp to $out"
  say "$name: built $out"
  echo "$out"
}

# suite_check_lib: the shim must exist before a machine is booted for nothing.
suite_check_lib() {
  [ -f "$SUITES_LIB" ] || die "$SUITES_LIB does not exist: build the library first (make)"
}

# suite_mode_env MODE LOG: the environment a mode adds (NAME=VALUE lines). Everything the
# suite runs inherits it, so every process of every test runs under the shim.
suite_mode_env() {
  local mode=$1 log=$2
  case $mode in
    plain) ;;
    shim) printf '%s\n' "LD_PRELOAD=$SUITES_LIB" CMBMAP_MIN_SIZE=0 "CMBMAP_LOG=info:$log" ;;
    writable) printf '%s\n' "LD_PRELOAD=$SUITES_LIB" CMBMAP_MIN_SIZE=0 "CMBMAP_LOG=info:$log" \
                CMBMAP_WRITABLE=1 ;;
    *) die "unknown mode $mode" ;;
  esac
}

# suite_served LOG: "BYTES MAPPINGS" served from the CMB according to a shim log
# (lines "...: 1 MiB served from CMB, 1 segment(s)"); "0 0" without a log.
suite_served() {
  [ -f "$1" ] || { echo "0 0"; return; }
  awk '
    match($0, /: [0-9]+ (B|KiB|MiB|GiB|TiB) served from CMB/) {
      split(substr($0, RSTART + 2, RLENGTH - 2), f, " ")
      m = 1
      if (f[2] == "KiB") m = 1024; else if (f[2] == "MiB") m = 1048576
      else if (f[2] == "GiB") m = 1073741824; else if (f[2] == "TiB") m = 1099511627776
      bytes += f[1] * m; n++
    }
    END { printf "%.0f %d\n", bytes, n }' "$1"
}

# suite_table RESULTS COMMIT: the parity table from the guest's results file (lines:
# test mode result seconds served_bytes served_maps), and the parity verdict. Returns 1
# when a test that passes plain does not pass under the shim in some mode.
suite_table() {
  local results=$1 commit=$2
  awk -v commit="$commit" '
    function human(b,  u, i) {
      split("B KiB MiB GiB TiB", u, " "); i = 1
      while (b >= 1024 && i < 5) { b /= 1024; i++ }
      return i == 1 ? sprintf("%d B", b) : sprintf("%.1f %s", b, u[i])
    }
    !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
    { r[$1, $2] = $3; s[$1, $2] = $4; b[$1, $2] = $5; m[$1, $2] = $6 }
    END {
      printf "suite commit: %s\n", commit
      printf "%-14s %-8s %-8s %-8s %-22s %-22s %s\n", "test", "plain", "shim", "shim+wr",
        "served (shim)", "served (shim+wr)", "parity"
      bad = 0
      for (i = 1; i <= n; i++) {
        t = order[i]; verdict = "ok"
        p = ((t, "plain") in r) ? r[t, "plain"] : "-"
        for (k = 1; k <= 2; k++) {
          mode = k == 1 ? "shim" : "writable"
          if (!((t, mode) in r)) continue
          if (p == "pass" && r[t, mode] != "pass") { verdict = "DIFF"; bad = 1 }
        }
        if (p != "pass" && verdict == "ok") verdict = "(" p " plain)"
        sv = ((t, "shim") in b) ? sprintf("%s in %d maps", human(b[t, "shim"]), m[t, "shim"]) : "-"
        wv = ((t, "writable") in b) ? sprintf("%s in %d maps", human(b[t, "writable"]), m[t, "writable"]) : "-"
        printf "%-14s %-8s %-8s %-8s %-22s %-22s %s\n", t, p,
          ((t, "shim") in r) ? r[t, "shim"] : "-", ((t, "writable") in r) ? r[t, "writable"] : "-",
          sv, wv, verdict
      }
      exit bad
    }' "$results"
}

# suite_table_md RESULTS: the same table in Markdown (the README's format), one row per test.
suite_table_md() {
  awk '
    function human(b,  u, i) {
      split("B KiB MiB GiB TiB", u, " "); i = 1
      while (b >= 1024 && i < 5) { b /= 1024; i++ }
      return i == 1 ? sprintf("%d B", b) : sprintf("%.1f %s", b, u[i])
    }
    function cell(t, mode) { return ((t, mode) in r) ? r[t, mode] : "-" }
    function served(t, mode) {
      return ((t, mode) in b) ? sprintf("%s (%d maps)", human(b[t, mode]), m[t, mode]) : "-"
    }
    !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
    { r[$1, $2] = $3; b[$1, $2] = $5; m[$1, $2] = $6 }
    END {
      print "| test | plain | shim | shim+writable | served (shim) | served (shim+writable) |"
      print "|---|---|---|---|---|---|"
      for (i = 1; i <= n; i++) {
        t = order[i]
        printf "| %s | %s | %s | %s | %s | %s |\n", t, cell(t, "plain"), cell(t, "shim"),
          cell(t, "writable"), served(t, "shim"), served(t, "writable")
      }
    }' "$1"
}

# suite_tests FILE: the test names of a list file (# comments and blank lines dropped).
suite_tests() {
  [ -f "$1" ] || die "no test list $1"
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"
}
