// The mapping decision: plan a file mapping, let the kernel make it, serve
// its eligible runs (serve.h), count and log what was decided.
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/stats.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "resolver/fiemap.h"
#include "resolver/plan.h"
#include "resolver/resolve.h"
#include "shim/core/core.h"
#include "shim/core/internal.h"
#include "shim/core/machine.h"
#include "shim/core/policy.h"
#include "shim/core/serve.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/revoke.h"
#include "shim/real.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::core {
namespace {

// The file's path, for log lines.
void fd_path(int fd, char* path, size_t cap) {
  char link[32];
  procself::proc_fd_path(fd, link);
  prim::readlink_at(link, path, cap);
}

void log_decision(int fd, void* at, size_t len, off_t off, const Plan& plan, uint64_t served) {
  if (!log::enabled(LogLevel::Info)) return;
  char path[256];
  fd_path(fd, path, sizeof path);
  log::Line l(LogLevel::Info);
  l.s("mmap ").s(path[0] ? path : "?").s(" offset ").u((uint64_t)off).s(" length ").u(len).s(" at ")
      .x((uintptr_t)at).s(": ");
  if (served) l.size(served).s(" served from CMB");
  else l.s("ordinary");
  if (plan.count == 1 && plan.segments[0].reason != CMBMAP_ELIGIBLE)
    l.s(", ").s(cmbmap_reason_name(plan.segments[0].reason));
  else
    l.s(", ").u(plan.count).s(" segment(s)");
  l.emit();
  for (size_t i = 0; i < plan.count; ++i) {
    const Segment& s = plan.segments[i];
    log::Line d(LogLevel::Debug);
    d.s("  segment offset ").u(s.offset).s(" length ").u(s.length);
    if (s.has_physical) d.s(" physical ").u(s.physical);
    if (s.reason == CMBMAP_ELIGIBLE) d.s(": CMB").emit();
    else d.s(": ordinary, ").s(cmbmap_reason_name(s.reason)).emit();
  }
  log::backtrace();
}

// Plans a mapping of fd: the mapping-level reason (ELIGIBLE if the plan in
// *plan decides per segment); *plan stays empty for a mapping-level reason.
int plan_request(size_t len, int prot, int flags, int fd, off_t off, FileFacts* facts, Plan* plan) {
  int reason = policy::mapping_reason(options(), false, len, prot, flags);
  if (reason != CMBMAP_ELIGIBLE) return reason;
  // A device already found unable to serve: no need to walk sysfs again
  // (nor to clear the facts, which the caller then does not read).
  struct stat st;
  if (prim::fstat_fd(fd, &st) == 0 && S_ISREG(st.st_mode) && machine::known_unusable(st.st_dev, &reason))
    return reason;
  if (resolve_file(machine::sysfs_root(), fd, facts) < 0)
    reason = CMBMAP_NOT_REGULAR;  // bad fd: the real mmap reports the error
  if (reason == CMBMAP_ELIGIBLE) {
    machine::apply(options(), facts);
    const int device = device_reason(*facts);
    if (device != CMBMAP_ELIGIBLE && facts->file_reason != CMBMAP_NOT_REGULAR)
      machine::remember_unusable(facts->st.st_dev, device);
    Extent ext[128];
    ExtentList list{ext, 128, 0, true};
    plan_file(fd, *facts, (uint64_t)off, len, false, true, &list, plan);
  }
  return reason;
}

// Statistics and the log line for one decision.
void account(const serve::Request& req, int reason, Plan* plan, uint64_t served) {
  stats::publish();
  stats::add(&cmbmap_stats::mmap_calls, 1);
  stats::add(&cmbmap_stats::mmap_bytes, req.len);
  if (plan->count == 0) {
    // One reason for the whole mapping (the common case for files cmbmap
    // does not serve): one segment, planned only if the log shows it.
    stats::add(&cmbmap_stats::planned_segments, 1);
    stats::add_fallback(reason, prim::page_round_up(req.len));
    if (!log::enabled(LogLevel::Info)) return;
    PlanRequest whole{(uint64_t)req.offset, req.len, 0, (uint32_t)prim::page_size(), 0, reason, true};
    plan_whole(whole, reason, plan);
    log_decision(req.fd, req.base, req.len, req.offset, *plan, served);
    return;
  }
  stats::add(&cmbmap_stats::planned_segments, plan->count);
  stats::add(&cmbmap_stats::eligible_bytes, plan->eligible_bytes);
  for (size_t i = 0; i < plan->count; ++i)
    stats::add_fallback(plan->segments[i].reason, plan->segments[i].length);
  log_decision(req.fd, req.base, req.len, req.offset, *plan, served);
}

// The kernel's mlock_future_ok: within RLIMIT_MEMLOCK, or CAP_IPC_LOCK.
bool may_lock(size_t len) {
  constexpr int kCapIpcLock = 14;
  const uint64_t limit = prim::memlock_limit();
  if (limit == ~uint64_t{0} || procself::has_capability(kCapIpcLock)) return true;
  return procself::locked_bytes() + prim::page_round_up(len) <= limit;
}

// The kernel makes the ordinary mapping first: address, hint, MAP_FIXED,
// MAP_FIXED_NOREPLACE and every error are then exactly its own. MAP_FIXED
// over served ranges replaces them (under the lock: the watcher must not
// give them back over the new mapping). errno: the kernel's.
void* kernel_map(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  const bool over = (flags & MAP_FIXED) && range_is_ours(addr, len);
  if (!over) return real::mmap(addr, len, prot, flags, fd, off);
  served_lock::Hold hold;
  const bool scrubbed = give_back_before_replacing(addr, len);
  dirty::SignalsBlocked quiet(dirty::any());
  void* res = real::mmap(addr, len, prot, flags, fd, off);
  const int err = errno;
  if (res != MAP_FAILED || scrubbed) revoke::forget(addr, len);
  errno = err;
  return res;
}

}  // namespace

void* map_file(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  // The common case costs nothing: without a usable CMB and with nobody
  // watching (log, stats), no mapping can be served and none is inspected.
  bool watching = log::enabled(LogLevel::Info) || options().stats;
  if (!machine::any_usable() && !watching)
    return real::mmap(addr, len, prot, flags, fd, off);

  const int saved_errno = errno;
  // Stores through a writable shared mapping change the file without a
  // system call: what cmbmap serves of the file must go back first.
  const bool writable = (prot & PROT_WRITE) && policy::shared(flags);
  // Before planning: a change of the file from here on makes the plan stale,
  // but for this mapping's own (a writable one counts as one change).
  const uint64_t epoch = changes::epoch() + (writable ? 1 : 0);
  if (writable) file_changing(fd);
  else if (dirty::any()) mapping_again(fd);
  FileFacts facts;
  Segment segs[64];
  Plan plan{segs, 64, 0, 0};
  int reason = plan_request(len, prot, flags, fd, off, &facts, &plan);

  // MAP_LOCKED: the kernel refuses a mapping it could not lock. A served one
  // is made without it (locking would fill the page cache), so the same
  // check is made here, before anything is mapped or replaced.
  if ((flags & MAP_LOCKED) && plan.eligible_bytes && !may_lock(len)) {
    if (writable) file_changed();
    errno = EAGAIN;
    return MAP_FAILED;
  }

  errno = saved_errno;
  void* res = kernel_map(addr, len, prot, serve::initial_flags(flags, plan), fd, off);
  const int err = errno;
  if (writable) file_changed();
  if (res == MAP_FAILED) {
    log::Line(LogLevel::Debug).s("mmap fd ").i(fd).s(" failed in the kernel, errno ").i(err).emit();
    errno = err;
    return res;
  }
  serve::Request req{res, len, prot, flags, fd, off, epoch};
  uint64_t served = serve::overlay(req, facts, options(), &plan);
  serve::finish_flags(req);
  account(req, reason, &plan, served);
  errno = err;
  return res;
}

void serve_existing(void* at, size_t len, int prot, int flags, int fd, off_t off) {
  prim::KeepErrno keep;
  const uint64_t epoch = changes::epoch();
  FileFacts facts;
  Segment segs[64];
  Plan plan{segs, 64, 0, 0};
  int reason = plan_request(len, prot, flags, fd, off, &facts, &plan);
  serve::Request req{at, len, prot, flags, fd, off, epoch};
  uint64_t served = serve::overlay(req, facts, options(), &plan);
  account(req, reason, &plan, served);
}

bool range_is_ours(const void* addr, size_t len) { return registry::overlaps((uintptr_t)addr, len); }

}  // namespace cmbmap::core
