// Overlaying CMB memory on a fresh file mapping (see serve.h): the gates
// (map count, lease, writable rules, an fd of our own), then each run of
// eligible segments in turn (budget, CMB memory, fill, protection,
// registration), then the settling (statistics, lease, watcher).
#include "shim/core/serve.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/stats.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "resolver/fiemap.h"
#include "shim/core/core.h"
#include "shim/core/policy.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/share.h"
#include "shim/giveback/watcher.h"
#include "shim/giveback/writeback.h"
#include "shim/real.h"
#include "shim/tier/fill.h"
#include "shim/tier/p2pmem.h"
#include "shim/tier/registry.h"
#include "shim/tier/scrub.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::serve {

int initial_flags(int flags, const Plan& plan) {
  return plan.eligible_bytes ? flags & ~(MAP_POPULATE | MAP_LOCKED) : flags;
}

void finish_flags(const Request& req) {
  if (req.flags & MAP_LOCKED) mlock(req.base, req.len);
  else if (req.flags & MAP_POPULATE) core::populate(req.base, req.len, MADV_POPULATE_READ);
}

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

bool writable_request(const Request& req) { return (req.prot & PROT_WRITE) && policy::shared(req.flags); }

// What every run of one serve shares, settled by the gates.
struct Serve {
  const Request& req;
  const FileFacts& f;
  const Options& opts;
  bool writable;
  int block = CMBMAP_ELIGIBLE;  // the reason no run is served, if any
  lease::Grant grant{CMBMAP_LEASE_DENIED, -1, false};
  bool leased = false;          // a lease pinned for this serve (settled at the end)
  int own_fd = -1;              // cmbmap's dup of the program's fd, to map the file back
  int held_before = -1;         // registry::hold_fd's previous fd
  int ctrl = -1;                // the controller's statistics slot
  mutable bool asked_peers = false;  // other processes had no room: not asked again in this call
};

// One run of eligible segments [first, last] at addr.
struct Run {
  uintptr_t addr;
  uint64_t file_off;
  size_t len;
  const Segment* segs;
  size_t nsegs;
};

// Puts the file back over a run whose file pages may be gone (place()).
void map_file_back(const Serve& s, const Run& r) {
  prim::map_over((void*)r.addr, r.len, s.req.prot, s.req.flags & MAP_TYPE, s.req.fd, (off_t)r.file_off);
}

// A writable shared mapping is served only under a write lease (nobody
// else has the file open, so nobody else sees the file while its newest
// bytes are in CMB memory) and as the file's only mapping here (another
// mapping would not show the stores).
int writable_check(const Serve& s) {
  const long status = prim::fcntl_fd(s.req.fd, F_GETFL, 0);
  const int open_reason = policy::writable_open_reason(status < 0 ? 0 : (int)status, prim::kernel_at_least(6, 9));
  if (open_reason != CMBMAP_ELIGIBLE) {
    log::Line(LogLevel::Info).s("fd ").i(s.req.fd).s(": O_APPEND, and this kernel cannot write at an offset through it")
        .emit();
    return open_reason;
  }
  if (s.grant.reason == CMBMAP_LEASE_DENIED || (s.grant.reason == CMBMAP_ELIGIBLE && !s.grant.write)) {
    log::Line(LogLevel::Info).s("fd ").i(s.req.fd).s(": writable mapping without a write lease on the file").emit();
    return CMBMAP_WRITE_LEASE_DENIED;
  }
  if (s.grant.reason == CMBMAP_ELIGIBLE &&
      procself::mapped_elsewhere(s.f.st.st_dev, s.f.st.st_ino, (uintptr_t)s.req.base, s.req.len, false))
    return CMBMAP_MAPPED_TWICE;
  return s.grant.reason;
}

// The lease: no lease, no serving (the filesystem must be able to take it back).
int lease_gate(Serve& s) {
  s.grant = lease::acquire(s.req.fd, s.f.st.st_dev, s.f.st.st_ino, s.opts.signal,
                           watcher::ensure(s.opts.signal, s.opts.writeback_ms));
  s.leased = s.grant.reason == CMBMAP_ELIGIBLE;
  const int why = s.writable ? writable_check(s) : s.grant.reason;
  // The lease does not see stores through this process's own writable
  // shared mappings of the file (read leases cannot coexist with them).
  if (why == CMBMAP_ELIGIBLE && !s.writable && s.grant.write &&
      procself::mapped_elsewhere(s.f.st.st_dev, s.f.st.st_ino, (uintptr_t)s.req.base, s.req.len, true)) {
    log::Line(LogLevel::Info).s("fd ").i(s.req.fd).s(": a writable shared mapping of the file exists here").emit();
    return CMBMAP_LEASE_DENIED;
  }
  return why;
}

size_t count_runs(const Plan& plan) {
  size_t runs = 0;
  for (size_t i = 0; i < plan.count; ++i)
    if (plan.segments[i].reason == CMBMAP_ELIGIBLE && (i == 0 || plan.segments[i - 1].reason != CMBMAP_ELIGIBLE))
      ++runs;
  return runs;
}

// The plan (its extents, the size that zeroes the last page's tail) was
// made before the lease: a change of the file in between, by another
// process (size, mtime or ctime moved) or by this one (the count of its own
// changes, read before planning, moved), makes it stale.
bool changed_before_the_lease(const Serve& s) {
  struct stat now;
  const struct stat& then = s.f.st;
  const bool other = prim::fstat_fd(s.req.fd, &now) != 0 || now.st_size != then.st_size ||
                     now.st_mtim.tv_sec != then.st_mtim.tv_sec || now.st_mtim.tv_nsec != then.st_mtim.tv_nsec ||
                     now.st_ctim.tv_sec != then.st_ctim.tv_sec || now.st_ctim.tv_nsec != then.st_ctim.tv_nsec;
  if (other || changes::changed_since(s.req.epoch)) {
    log::Line(LogLevel::Info).s("fd ").i(s.req.fd).s(": the file changed between planning and the lease").emit();
    return true;
  }
  return false;
}

// cmbmap's fd to map the file back with: the one the file's served ranges
// already use if it has the program's access mode (a later mprotect is
// checked against it), else a new duplicate above the floor. One per file,
// not per mapping: each counts against RLIMIT_NOFILE. A writable serve
// always has its own (its file has no other mapping here).
int own_fd_for(const Serve& s) {
  registry::Range other;
  if (!s.writable && registry::collect_file(s.f.st.st_dev, s.f.st.st_ino, &other, 1) == 1) {
    const long mine = prim::fcntl_fd(s.req.fd, F_GETFL, 0), theirs = prim::fcntl_fd(other.fd, F_GETFL, 0);
    if (mine >= 0 && theirs >= 0 && (mine & O_ACCMODE) == (theirs & O_ACCMODE)) return other.fd;
  }
  return prim::dup_above_floor(s.req.fd);
}

// The gates every run must pass; s.block says which one stopped it.
void gates(Serve& s, const Plan& plan) {
  // Each run can split one VMA into three; stay well clear of the limit.
  if (!procself::room_for_mappings(2 * count_runs(plan) + 16)) s.block = CMBMAP_MAP_COUNT;
  if (s.block == CMBMAP_ELIGIBLE) s.block = lease_gate(s);
  if (s.block == CMBMAP_ELIGIBLE && changed_before_the_lease(s)) s.block = CMBMAP_FILE_CHANGED;
  if (s.block == CMBMAP_ELIGIBLE) {
    s.own_fd = own_fd_for(s);
    if (s.own_fd < 0) {
      log::Line(LogLevel::Info).s("fd ").i(s.req.fd).s(": no fd number at or above ").i(prim::own_fd_floor())
          .s(" is free (errno ").i(-s.own_fd).s("; RLIMIT_NOFILE)").emit();
      s.block = CMBMAP_NO_FD;
    }
    // Shared with another range of the file, which making room may give back.
    else s.held_before = registry::hold_fd(s.own_fd);
  }
  if (s.block == CMBMAP_ELIGIBLE) s.ctrl = stats::controller_slot(s.f.target.controller);
}

// Room for len more bytes under CMBMAP_BUDGET, giving back the least
// recently used ranges outside this mapping if needed.
bool within_budget(const Serve& s, size_t len) {
  const uint64_t budget = s.opts.budget;
  if (!budget) return true;
  uint64_t now = stats::get()->served_bytes;
  if (now + len <= budget) return true;
  if (len > budget) return false;
  size_t freed = reclaim::evict(-1, now + len - budget, (uintptr_t)s.req.base, s.req.len, CMBMAP_BUDGET);
  stats::add(&cmbmap_stats::evicted_bytes, freed);
  return stats::get()->served_bytes + len <= budget;
}

// CMB memory for the run, aside (p2pmem.h); a full CMB first gets back what
// this process holds there least recently used (outside this mapping),
// then asks the other processes that hold memory there (share.h).
int allocate_cmb(const Serve& s, const Run& r, void** aside, p2pmem::Identity* id) {
  int why = p2pmem::allocate(s.f.target.pci_path, r.len, aside, id);
  if (why == CMBMAP_CMB_FULL && s.ctrl >= 0) {
    size_t freed = reclaim::evict(s.ctrl, r.len, (uintptr_t)s.req.base, s.req.len, CMBMAP_CMB_FULL);
    stats::add(&cmbmap_stats::evicted_bytes, freed);
    if (freed) why = p2pmem::allocate(s.f.target.pci_path, r.len, aside, id);
  }
  if (why == CMBMAP_CMB_FULL && !s.asked_peers) {
    struct Try {
      const Serve& s;
      const Run& r;
      void** aside;
      p2pmem::Identity* id;
      int why;
    } t{s, r, aside, id, why};
    share::ask(s.f.target.controller, r.len, [](void* ctx) {
      Try& t = *static_cast<Try*>(ctx);
      t.why = p2pmem::allocate(t.s.f.target.pci_path, t.r.len, t.aside, t.id);
      return t.why != CMBMAP_CMB_FULL;
    }, &t);
    // Once they had no room, not asked again in this call: its waiting stays bounded.
    s.asked_peers = t.why == CMBMAP_CMB_FULL;
    why = t.why;
  }
  return why;
}

// The drive fills the run's CMB memory (aside) from the file: 0 or an errno.
int fill_run(const Serve& s, const Run& r, void* aside) {
  const fill::Source src{.fd = s.req.fd, .direct_fd = s.grant.direct_fd, .no_reopen = s.grant.write,
                         .file_size = (uint64_t)s.f.st.st_size, .dev = &s.f.target, .segs = r.segs,
                         .nsegs = r.nsegs};
  const int engine = s.opts.fill >= 0 ? s.opts.fill : auto_engine(s.grant.write, r.len);
  fill::Result res = fill::run(engine, src, aside, r.file_off, r.len);
  // NVMe passthrough read blocks, not the file: if the blocks moved
  // meanwhile, what arrived is not the file's (the commit check).
  if (!res.err && res.engine == fill::kPassthru && !segments_in_place(s.req.fd, r.segs, r.nsegs)) res.err = ESTALE;
  stats::add_fill(res.engine, res.read, res.ns);
  if (res.err) {
    log::Line(LogLevel::Warn).s(fill::engine_name(res.engine)).s(" fill of ").u(r.len)
        .s(" bytes at file offset ").u(r.file_off).s(" failed (errno ").i(res.err).s("): ordinary pages instead")
        .emit();
    return res.err;
  }
  stats::add(&cmbmap_stats::zeroed_bytes, res.zeroed);
  return 0;
}

// Writable: stores are tracked from now on (dirty.h), and the blocks behind
// the run remembered for writing them back.
bool track_stores(const Serve& s, const Run& r) {
  if (!writeback::remember(r.addr, r.addr + r.len, r.file_off, s.f.st.st_dev, s.f.st.st_ino, s.f.target,
                                r.segs, r.nsegs)) return false;
  if (dirty::track(r.addr, r.addr + r.len, s.req.prot, s.opts.dirty_all)) return true;
  writeback::forget_unused();
  return false;
}

void untrack_stores(const Run& r) {
  dirty::untrack(r.addr, r.addr + r.len);
  writeback::forget_unused();
}

// Moves the filled memory over the run. A failed MREMAP_FIXED mostly
// leaves the target as it was (with what the program set on it: mlock,
// MADV_DONTDUMP); one that failed after unmapping it left a hole, and the
// file goes back there.
bool place(const Serve& s, const Run& r, void* aside) {
  if (prim::remap(aside, r.len, r.len, MREMAP_MAYMOVE | MREMAP_FIXED, (void*)r.addr) != MAP_FAILED) return true;
  log::Line(LogLevel::Warn).s("CMB memory for ").u(r.len).s(" bytes at ").x(r.addr)
      .s(" could not be moved into place (vm.max_map_count?): ordinary pages instead").emit();
  if (!prim::mapped((void*)r.addr, r.len)) map_file_back(s, r);
  return false;
}

// A filled run becomes a served range: protected as asked (clean pages
// write-protected when writable), tracked, registered, checked against this
// process's own changes and only then moved over the run, so that nothing
// after the move can fail: a run that falls back leaves the program's
// file mapping as the kernel made it. CMBMAP_ELIGIBLE or the reason it fell
// back; the memory aside is the caller's to release unless it was placed.
int register_run(const Serve& s, const Run& r, void* aside, const p2pmem::Identity& cmb) {
  // Every page write-protected but under CMBMAP_DIRTY=all (tracked dirty
  // from the start, dirty.h).
  real::mprotect(aside, r.len, s.writable && !s.opts.dirty_all ? s.req.prot & ~PROT_WRITE : s.req.prot);
  const registry::Range rg{.start = r.addr, .end = r.addr + r.len, .dev = s.f.st.st_dev, .ino = s.f.st.st_ino,
                           .file_offset = r.file_off, .fd = s.own_fd, .prot = s.req.prot,
                           .flags = s.req.flags & (MAP_TYPE | MAP_LOCKED), .ctrl = s.ctrl, .stamp = 0, .cmb_dev = cmb.dev,
                           .cmb_ino = cmb.ino};
  if (s.writable && !track_stores(s, r)) return CMBMAP_MAP_COUNT;
  if (!registry::add(rg)) {
    untrack_stores(r);
    return CMBMAP_MAP_COUNT;
  }
  // Registered first, then checked: a change either sees the range (and
  // gives it back after this serve) or is seen here.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  int why = CMBMAP_ELIGIBLE;
  if (s.grant.write && changes::changed_since(s.req.epoch)) why = CMBMAP_FILE_CHANGED;
  else if (!place(s, r, aside)) why = CMBMAP_MAP_COUNT;
  if (why != CMBMAP_ELIGIBLE) {
    registry::remove(r.addr, r.len);
    untrack_stores(r);
  }
  return why;
}

// Serves one run: CMBMAP_ELIGIBLE, or the reason it stays file pages. The
// CMB memory is filled and protected aside and moved over the run last: a
// reader of the program's mapping (one replaced in place with MAP_FIXED is
// in use meanwhile) sees the file's pages or the filled memory, never the
// pool's leftovers, and a run that falls back keeps its file pages.
int serve_run(const Serve& s, const Run& r) {
  int why = s.block;
  // A break that arrived during an earlier run: serve no more of the file.
  if (why == CMBMAP_ELIGIBLE && lease::breaking_now(s.f.st.st_dev, s.f.st.st_ino)) why = CMBMAP_LEASE_BROKEN;
  if (why == CMBMAP_ELIGIBLE && !within_budget(s, r.len)) why = CMBMAP_BUDGET;
  if (why != CMBMAP_ELIGIBLE) return why;
  void* aside = nullptr;
  p2pmem::Identity cmb{};
  why = allocate_cmb(s, r, &aside, &cmb);
  if (why != CMBMAP_ELIGIBLE) return why;
  why = fill_run(s, r, aside) ? CMBMAP_FILL_FAILED : register_run(s, r, aside, cmb);
  // The fill put file bytes there (some or all): zeroed before they go.
  if (why != CMBMAP_ELIGIBLE) scrub::release(aside, r.len);
  return why;
}

// Settles the serve: the fd, the statistics, the watcher, the lease.
void settle(const Serve& s, uint64_t served) {
  if (s.own_fd >= 0) registry::hold_fd(s.held_before);
  if (s.own_fd >= 0 && !registry::uses_fd(s.own_fd)) prim::close_fd(s.own_fd);
  // Stores to track now: the watcher's periodic writeback must wake for them.
  if (served && s.writable && s.opts.writeback_ms) watcher::wake();
  if (served) {
    stats::add(&cmbmap_stats::served_bytes, served);
    stats::add(&cmbmap_stats::served_total, served);
  }
  if (s.leased) lease::settle(s.f.st.st_dev, s.f.st.st_ino);
}

}  // namespace

uint64_t overlay(const Request& req, const FileFacts& f, const Options& opts, Plan* plan) {
  if (plan->eligible_bytes == 0) return 0;
  served_lock::Hold hold;
  prim::KeepErrno keep;
  Serve s{.req = req, .f = f, .opts = opts, .writable = writable_request(req)};
  gates(s, *plan);
  uint64_t served = 0;
  for (size_t i = 0; i < plan->count;) {
    if (plan->segments[i].reason != CMBMAP_ELIGIBLE) { ++i; continue; }
    size_t j = i;
    while (j + 1 < plan->count && plan->segments[j + 1].reason == CMBMAP_ELIGIBLE) ++j;
    const Segment* first = &plan->segments[i];
    const Segment& last = plan->segments[j];
    const Run run{.addr = (uintptr_t)req.base + (first->offset - (uint64_t)req.offset), .file_off = first->offset,
                  .len = prim::page_round_up(last.offset + last.length - first->offset), .segs = first,
                  .nsegs = j - i + 1};
    const int why = serve_run(s, run);
    if (why == CMBMAP_ELIGIBLE) served += run.len;
    else for (size_t k = i; k <= j; ++k) plan->segments[k].reason = why;
    i = j + 1;
  }
  settle(s, served);
  return served;
}

}  // namespace cmbmap::serve
