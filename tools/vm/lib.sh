# Shared helpers for the test-machine scripts in tools/vm/ (sourced, not run).
# Cache layout, progress lines and the project's private apt view live here so
# that build-kernel, stock-kernel and run agree on them.

CMBMAP_CACHE=${CMBMAP_CACHE:-/var/cache/cmbmap/vm}
VM_START=$(date +%s)

say() { printf '[vm %4ss] %s\n' "$(( $(date +%s) - VM_START ))" "$*" >&2; }
die() { printf 'tools/vm: error: %s\n' "$*" >&2; exit 1; }

# apt with its own sources file and state, so the machine's sources stay as they are.
# One state dir per suite ($CMBMAP_CACHE/apt/SUITE), so scripts using different suites
# (build-kernel: bookworm-backports, stock-kernel: bookworm) never undo each other.
VM_APT_DIR="$CMBMAP_CACHE/apt/bookworm-backports"
vm_apt_opts() {
  printf '%s\n' \
    -o "Dir::Etc::SourceList=$VM_APT_DIR/sources.list" \
    -o "Dir::Etc::SourceParts=/dev/null" \
    -o "Dir::State::Lists=$VM_APT_DIR/lists" \
    -o "Dir::Cache=$VM_APT_DIR/cache" \
    -o "APT::Get::List-Cleanup=0" \
    -o "APT::Sandbox::User=root"
}

# vm_apt_setup SUITE: point the private apt view at SUITE of the machine's own archive.
vm_apt_setup() {
  local suite=$1 mirror
  VM_APT_DIR="$CMBMAP_CACHE/apt/$suite"
  mkdir -p "$VM_APT_DIR/lists/partial" "$VM_APT_DIR/cache/archives/partial"
  # Same archive the machine already uses (first deb.debian-style URI), never another host.
  mirror=$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk '{print $2}' | grep -v security | head -n1)
  [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null \
                                 | awk '{print $2}' | head -n1)
  [ -n "$mirror" ] || die "cannot find the machine's Debian archive in /etc/apt"
  local want="deb $mirror $suite main"
  if [ "$(cat "$VM_APT_DIR/sources.list" 2>/dev/null)" != "$want" ] \
     || [ -z "$(find "$VM_APT_DIR/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
    echo "$want" > "$VM_APT_DIR/sources.list"
    say "apt update ($suite)"
    mapfile -t o < <(vm_apt_opts)
    apt-get "${o[@]}" -qq update >&2 || die "apt-get update for $suite failed"
  fi
}

# vm_apt_candidate PKG: the version the private view would fetch.
vm_apt_candidate() {
  mapfile -t o < <(vm_apt_opts)
  apt-cache "${o[@]}" policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

# vm_apt_download PKG DIR: the .deb into DIR (cached there by name).
vm_apt_download() {
  local pkg=$1 dir=$2
  mkdir -p "$dir"
  mapfile -t o < <(vm_apt_opts)
  (cd "$dir" && apt-get "${o[@]}" -qq download "$pkg" >&2) || die "apt-get download $pkg failed"
  ls -t "$dir"/"${pkg}"_*.deb | head -n1
}
