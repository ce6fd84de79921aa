// Overlaying CMB memory on a fresh file mapping (see serve.h).
#include "serve.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/fiemap.h"
#include "../real.h"
#include "core.h"
#include "dirty.h"
#include "fill.h"
#include "lease.h"
#include "log.h"
#include "openfiles.h"
#include "p2pmem.h"
#include "registry.h"
#include "serial.h"
#include "stats.h"
#include "watcher.h"
#include "writeback.h"

namespace cmbmap::serve {
namespace {

// CMBMAP_FILL=auto: io_uring reads on the lease's O_DIRECT fd, measured
// fastest of the engines that read through the file from 4 MiB on; below 2
// MiB setting up a ring costs more than it saves, and a plain O_DIRECT pread
// is faster (README: Performance). Under a write lease the file must not be
// opened again: passthrough then.
int auto_engine(bool write_lease, size_t run_len) {
  if (write_lease) return fill::kPassthru;
  return run_len < (size_t{2} << 20) ? fill::kPread : fill::kUring;
}


// Marks segments [first, last] with reason.
void mark(Plan* plan, size_t first, size_t last, int reason) {
  for (size_t i = first; i <= last; ++i) plan->segments[i].reason = reason;
}

// Puts the file back over [addr, addr+len): used when a run cannot be served.
void map_file_back(const Request& req, uintptr_t addr, size_t len, uint64_t file_off) {
  real::mmap((void*)addr, len, req.prot, (req.flags & MAP_TYPE) | MAP_FIXED, req.fd, (off_t)file_off);
}

}  // namespace

int initial_flags(int flags, const Plan& plan) {
  return plan.eligible_bytes ? flags & ~(MAP_POPULATE | MAP_LOCKED) : flags;
}

void finish_flags(const Request& req) {
  if (req.flags & MAP_LOCKED) mlock(req.base, req.len);
  else if (req.flags & MAP_POPULATE) real::madvise(req.base, req.len, 22 /* MADV_POPULATE_READ */);
}

namespace {

// Room for len more bytes under CMBMAP_BUDGET, giving back the least
// recently used ranges outside this mapping if needed.
bool within_budget(const Request& req, const Options& opts, size_t len) {
  if (!opts.budget) return true;
  uint64_t now = stats::get()->served_bytes;
  if (now + len <= opts.budget) return true;
  if (len > opts.budget) return false;
  size_t freed = core::evict(-1, now + len - opts.budget, (uintptr_t)req.base, req.len, CMBMAP_BUDGET);
  stats::add(&cmbmap_stats::evicted_bytes, freed);
  return stats::get()->served_bytes + len <= opts.budget;
}

// CMB memory at addr; a full CMB first gets back what this process holds
// there least recently used (outside this mapping).
int map_cmb(const Request& req, const FileFacts& f, int ctrl, uintptr_t addr, size_t len, p2pmem::Identity* id) {
  int why = p2pmem::map_at(f.target.pci_path, (void*)addr, len, id);
  if (why == CMBMAP_CMB_FULL && ctrl >= 0) {
    size_t freed = core::evict(ctrl, len, (uintptr_t)req.base, req.len, CMBMAP_CMB_FULL);
    stats::add(&cmbmap_stats::evicted_bytes, freed);
    if (freed) why = p2pmem::map_at(f.target.pci_path, (void*)addr, len, id);
  }
  return why;
}

// A writable shared mapping is served only under a write lease (nobody
// else has the file open, so nobody else sees the file while its newest
// bytes are in CMB memory) and as the file's only mapping here (another
// mapping would not show the stores).
int writable_check(const Request& req, const FileFacts& f, const lease::Grant& grant) {
  if (grant.reason == CMBMAP_LEASE_DENIED || (grant.reason == CMBMAP_ELIGIBLE && !grant.write)) {
    log::Line(LogLevel::Info).s("fd ").i(req.fd).s(": writable mapping without a write lease on the file").emit();
    return CMBMAP_WRITE_LEASE_DENIED;
  }
  if (grant.reason == CMBMAP_ELIGIBLE &&
      openfiles::mapped_elsewhere(f.st.st_dev, f.st.st_ino, (uintptr_t)req.base, req.len, false))
    return CMBMAP_MAPPED_TWICE;
  return grant.reason;
}

bool track_stores(uintptr_t addr, size_t len, int prot, uint64_t file_off, const NvmeTarget& target,
                  const Segment* segs, size_t nsegs) {
  if (!writeback::remember(addr, addr + len, file_off, target, segs, nsegs)) return false;
  if (dirty::track(addr, addr + len, prot)) return true;
  writeback::forget_unused();
  return false;
}

void untrack_stores(uintptr_t addr, size_t len) {
  dirty::untrack(addr, addr + len);
  writeback::forget_unused();
}

}  // namespace

uint64_t overlay(const Request& req, const FileFacts& f, const Options& opts, Plan* plan) {
  if (plan->eligible_bytes == 0) return 0;
  serial::Hold hold;
  const bool writable = (req.prot & PROT_WRITE) && (req.flags & MAP_TYPE) == MAP_SHARED;
  const int saved = errno;
  size_t runs = 0;
  for (size_t i = 0; i < plan->count; ++i)
    if (plan->segments[i].reason == CMBMAP_ELIGIBLE && (i == 0 || plan->segments[i - 1].reason != CMBMAP_ELIGIBLE))
      ++runs;
  int block = CMBMAP_ELIGIBLE;
  // Each run can split one VMA into three; stay well clear of the limit.
  if (openfiles::map_count() + 2 * runs + 16 > openfiles::max_map_count()) block = CMBMAP_MAP_COUNT;
  // No lease, no serving: the filesystem must be able to take it back.
  lease::Grant grant{CMBMAP_LEASE_DENIED, -1, false};
  bool leased = false;  // a lease pinned for this serve (settled at the end)
  if (block == CMBMAP_ELIGIBLE) {
    grant = lease::acquire(req.fd, f.st.st_dev, f.st.st_ino, opts.signal, watcher::ensure(opts.signal));
    leased = grant.reason == CMBMAP_ELIGIBLE;
    block = writable ? writable_check(req, f, grant) : grant.reason;
    // The lease does not see stores through this process's own writable
    // shared mappings of the file (read leases cannot coexist with them).
    if (block == CMBMAP_ELIGIBLE && !writable && grant.write &&
        openfiles::mapped_elsewhere(f.st.st_dev, f.st.st_ino, (uintptr_t)req.base, req.len, true)) {
      log::Line(LogLevel::Info).s("fd ").i(req.fd).s(": a writable shared mapping of the file exists here").emit();
      block = CMBMAP_LEASE_DENIED;
    }
  }
  int own_fd = -1;
  if (block == CMBMAP_ELIGIBLE) {
    own_fd = openfiles::dup_above_floor(req.fd);
    if (own_fd < 0) block = CMBMAP_FILL_FAILED;
  }
  const int ctrl = block == CMBMAP_ELIGIBLE ? stats::controller_slot(f.target.controller) : -1;
  // This process's own writes do not break its write lease: a serve racing
  // with one (in any thread) must not register what may be the old bytes.
  const uint64_t epoch = core::change_epoch();

  uint64_t served = 0;
  const uintptr_t base = (uintptr_t)req.base;
  for (size_t i = 0; i < plan->count;) {
    if (plan->segments[i].reason != CMBMAP_ELIGIBLE) { ++i; continue; }
    size_t j = i;
    while (j + 1 < plan->count && plan->segments[j + 1].reason == CMBMAP_ELIGIBLE) ++j;
    const uint64_t file_off = plan->segments[i].offset;
    const uint64_t run_len = openfiles::page_round_up(plan->segments[j].offset + plan->segments[j].length - file_off);
    const uintptr_t addr = base + (file_off - (uint64_t)req.offset);
    int why = block;
    // A break that arrived during an earlier run: serve no more of the file.
    if (why == CMBMAP_ELIGIBLE && lease::breaking_now(f.st.st_dev, f.st.st_ino)) why = CMBMAP_LEASE_BROKEN;
    if (why == CMBMAP_ELIGIBLE && !within_budget(req, opts, run_len)) why = CMBMAP_BUDGET;
    p2pmem::Identity cmb{};
    if (why == CMBMAP_ELIGIBLE) {
      why = map_cmb(req, f, ctrl, addr, run_len, &cmb);
      if (why != CMBMAP_ELIGIBLE) map_file_back(req, addr, run_len, file_off);
    }
    if (why == CMBMAP_ELIGIBLE) {
      fill::Source src{req.fd, grant.direct_fd, grant.write, (uint64_t)f.st.st_size, &f.target,
                       &plan->segments[i], j - i + 1};
      const int engine = opts.fill >= 0 ? opts.fill : auto_engine(grant.write, run_len);
      fill::Result r = fill::run(engine, src, (void*)addr, file_off, run_len);
      // NVMe passthrough read blocks, not the file: if the blocks moved
      // meanwhile, what arrived is not the file's (the commit check).
      if (!r.err && r.engine == fill::kPassthru && !segments_in_place(req.fd, &plan->segments[i], j - i + 1))
        r.err = ESTALE;
      stats::add_fill(r.engine, r.read, r.ns);
      if (r.err) {
        log::Line(LogLevel::Warn).s(fill::engine_name(r.engine)).s(" fill of ").u(run_len)
            .s(" bytes at file offset ").u(file_off).s(" failed (errno ").i(r.err)
            .s("): ordinary pages instead").emit();
        map_file_back(req, addr, run_len, file_off);
        why = CMBMAP_FILL_FAILED;
      } else {
        stats::add(&cmbmap_stats::zeroed_bytes, r.zeroed);
        // Writable: clean pages are write-protected, the first store to
        // each is tracked (dirty.h).
        if (writable) dirty::prepare_ptes((void*)addr, run_len);
        real::mprotect((void*)addr, run_len, writable ? req.prot & ~PROT_WRITE : req.prot);
        registry::Range rg{addr, addr + run_len, f.st.st_dev, f.st.st_ino, file_off, own_fd, req.prot,
                           req.flags & MAP_TYPE, ctrl, 0, cmb.dev, cmb.ino};
        if (writable && !track_stores(addr, run_len, req.prot, file_off, f.target, &plan->segments[i], j - i + 1)) {
          map_file_back(req, addr, run_len, file_off);
          why = CMBMAP_MAP_COUNT;
        } else if (!registry::add(rg)) {
          untrack_stores(addr, run_len);
          map_file_back(req, addr, run_len, file_off);
          why = CMBMAP_MAP_COUNT;
        } else if (grant.write && (__atomic_thread_fence(__ATOMIC_SEQ_CST), core::changed_since(epoch))) {
          // Registered first, then checked: a change either sees the range
          // (and gives it back after this serve) or is seen here.
          registry::remove(addr, run_len);
          untrack_stores(addr, run_len);
          map_file_back(req, addr, run_len, file_off);
          why = CMBMAP_FILE_CHANGED;
        } else {
          served += run_len;
        }
      }
    }
    if (why != CMBMAP_ELIGIBLE) mark(plan, i, j, why);
    i = j + 1;
  }
  if (own_fd >= 0 && !registry::uses_fd(own_fd)) syscall(SYS_close, own_fd);
  // Stores to track now: the watcher's periodic writeback must wake for them.
  if (served && writable && opts.writeback_ms) watcher::wake();
  if (served) {
    stats::add(&cmbmap_stats::served_bytes, served);
    stats::add(&cmbmap_stats::served_total, served);
  }
  if (leased) lease::settle(f.st.st_dev, f.st.st_ino);
  errno = saved;
  return served;
}

}  // namespace cmbmap::serve
