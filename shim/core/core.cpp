// Core state, start-up and the mapping decision (see core.h).
#include "core.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/resolve.h"
#include "../real.h"
#include "log.h"
#include "machine.h"
#include "openfiles.h"
#include "options.h"
#include "dirty.h"
#include "policy.h"
#include "registry.h"
#include "lease.h"
#include "serial.h"
#include "serve.h"
#include "stats.h"
#include "watcher.h"
#include "writeback.h"

namespace cmbmap::core {
namespace {

enum class State : int { Uninit, Active, Disabled };
State g_state = State::Uninit;
pid_t g_pid;  // this process (see in_vfork_child)
Options g_opts;

// initial-exec TLS: no __tls_get_addr (which may allocate) on the hot path.
__thread int t_depth __attribute__((tls_model("initial-exec")));

const char* env_lookup(const char* name) { return getenv(name); }
void warn_option(const char* msg) {
  char line[600] = "cmbmap: ";
  size_t n = 8;
  for (const char* p = msg; *p && n + 1 < sizeof line; ++p) line[n++] = *p;
  line[n] = '\0';
  log::to_stderr(line);
}

// Gives back the files held under write leases and releases the leases:
// before fork (the child shares the open file and could write through it
// without breaking anything), exec and exit (nobody would answer a break).
void give_back_write_leased() {
  serial::Hold hold;
  dev_t devs[64];
  ino_t inos[64];
  for (size_t n; (n = lease::write_leased(devs, inos, 64)) > 0;) {
    for (size_t i = 0; i < n; ++i) {
      core::revoke_file(devs[i], inos[i], CMBMAP_LEASE_BROKEN);
      lease::release(devs[i], inos[i]);
    }
  }
}

// fork: no revocation may be half done in the parent as it forks, and the
// child gives back everything it inherited. Its CMB pages are the parent's
// (p2pmem is shared), and the parent's watcher neither knows about the
// child nor can the child be told of a break: file pages are right for it.
void atfork_prepare() {
  serial::before_fork();  // first: no serve may take a new lease from here on
  give_back_write_leased();
  lease::before_fork();
}
void atfork_parent() { serial::after_fork_parent(); }
void atfork_child() {
  serial::after_fork_child();
  registry::after_fork_child();
  dirty::after_fork_child();
  writeback::after_fork_child();
  machine::after_fork_child();
  core::changes_after_fork_child();
  g_pid = (pid_t)syscall(SYS_getpid);
  stats::after_fork_child();
  watcher::after_fork_child();
  size_t n = core::give_back_inherited();
  lease::after_fork_child();
  log::Line(LogLevel::Debug).s("fork: child gave back ").size(n)
      .s(" of inherited CMB ranges and starts with its own statistics").emit();
}

}  // namespace

Scope::Scope() : on_(false) {
  if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == State::Active && t_depth == 0) {
    t_depth = 1;
    on_ = true;
  }
}

Scope::~Scope() {
  if (on_) t_depth = 0;
}

const Options& options() { return g_opts; }

void init() {
  if (g_state != State::Uninit) return;
  real::resolve();
  // A setuid/setgid program must not let its caller's environment choose
  // files it writes (CMBMAP_LOG=...:/etc/passwd): ignore CMBMAP_* entirely.
  if (getauxval(AT_SECURE)) {
    __atomic_store_n(&g_state, State::Disabled, __ATOMIC_RELEASE);
    return;
  }
  g_pid = (pid_t)syscall(SYS_getpid);
  parse_options(env_lookup, warn_option, &g_opts);
  log::init(g_opts);
  if (policy::mapping_reason(g_opts, false, SIZE_MAX, 0, 0) == CMBMAP_DISABLED) {
    log::Line(LogLevel::Info).s("inactive: ").s(cmbmap_reason_name(CMBMAP_DISABLED)).emit();
    __atomic_store_n(&g_state, State::Disabled, __ATOMIC_RELEASE);
    return;
  }
  machine::init(g_opts);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  log::Line(LogLevel::Debug).s("active: min_size ").size(g_opts.min_size)
      .s(machine::any_usable() ? ", a usable CMB is present" : ", no usable CMB on this machine")
      .emit();
  __atomic_store_n(&g_state, State::Active, __ATOMIC_RELEASE);
}

// The file's path, for log lines.
static void fd_path(int fd, char* path, size_t cap) {
  char link[32];
  openfiles::proc_fd_path(fd, link);
  long r = syscall(SYS_readlinkat, AT_FDCWD, link, path, cap - 1);
  path[r > 0 ? r : 0] = '\0';
}

static void log_decision(int fd, void* at, size_t len, off_t off, const Plan& plan, uint64_t served) {
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
static int plan_request(size_t len, int prot, int flags, int fd, off_t off, FileFacts* facts, Plan* plan) {
  int reason = policy::mapping_reason(g_opts, false, len, prot, flags);
  if (reason != CMBMAP_ELIGIBLE) return reason;
  // A device already found unable to serve: no need to walk sysfs again
  // (nor to clear the facts, which the caller then does not read).
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && machine::known_unusable(st.st_dev, &reason))
    return reason;
  if (resolve_file(machine::sysfs_root(), fd, facts) < 0)
    reason = CMBMAP_NOT_REGULAR;  // bad fd: the real mmap reports the error
  if (reason == CMBMAP_ELIGIBLE) {
    machine::apply(g_opts, facts);
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
static void account(const serve::Request& req, int reason, Plan* plan, uint64_t served) {
  stats::publish();
  stats::add(&cmbmap_stats::mmap_calls, 1);
  stats::add(&cmbmap_stats::mmap_bytes, req.len);
  if (plan->count == 0) {
    // One reason for the whole mapping (the common case for files cmbmap
    // does not serve): one segment, planned only if the log shows it.
    stats::add(&cmbmap_stats::planned_segments, 1);
    stats::add_fallback(reason, openfiles::page_round_up(req.len));
    if (!log::enabled(LogLevel::Info)) return;
    PlanRequest whole{(uint64_t)req.offset, req.len, 0, (uint32_t)openfiles::page_size(), 0, reason, true};
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

void* map_file(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  // The common case costs nothing: without a usable CMB and with nobody
  // watching (log, stats), no mapping can be served and none is inspected.
  bool watching = log::enabled(LogLevel::Info) || g_opts.stats;
  if (!machine::any_usable() && !watching)
    return real::mmap(addr, len, prot, flags, fd, off);

  const int saved_errno = errno;
  // Stores through a writable shared mapping change the file without a
  // system call: what cmbmap serves of the file must go back first.
  const bool writable = (prot & PROT_WRITE) && (flags & MAP_TYPE) == MAP_SHARED;
  if (writable) file_changing(fd);
  else if (dirty::any()) mapping_again(fd);
  FileFacts facts;
  Segment segs[64];
  Plan plan{segs, 64, 0, 0};
  int reason = plan_request(len, prot, flags, fd, off, &facts, &plan);

  // The kernel makes the ordinary mapping first: address, hint, MAP_FIXED,
  // MAP_FIXED_NOREPLACE and every error are then exactly its own. MAP_FIXED
  // over served ranges replaces them (under the lock: the watcher must not
  // give them back over the new mapping).
  const bool over = (flags & MAP_FIXED) && range_is_ours(addr, len);
  if (over) serial::lock();
  dirty::SignalsBlocked quiet(over && dirty::any());
  if (over) write_back_before_replacing(addr, len);
  errno = saved_errno;
  void* res = real::mmap(addr, len, prot, serve::initial_flags(flags, plan), fd, off);
  int err = errno;
  if (res == MAP_FAILED) {
    if (writable) file_changed();
    if (over) replacing_failed(addr, len);
    if (over) serial::unlock();
    log::Line(LogLevel::Debug).s("mmap fd ").i(fd).s(" failed in the kernel, errno ").i(err).emit();
    errno = err;
    return res;
  }
  if (over) {
    forget_range(res, len);
    quiet.end();
    serial::unlock();
  }
  if (writable) file_changed();
  serve::Request req{res, len, prot, flags, fd, off};
  uint64_t served = serve::overlay(req, facts, g_opts, &plan);
  serve::finish_flags(req);
  account(req, reason, &plan, served);
  errno = err;
  return res;
}

void serve_existing(void* at, size_t len, int prot, int flags, int fd, off_t off) {
  const int saved_errno = errno;
  FileFacts facts;
  Segment segs[64];
  Plan plan{segs, 64, 0, 0};
  int reason = plan_request(len, prot, flags, fd, off, &facts, &plan);
  serve::Request req{at, len, prot, flags, fd, off};
  uint64_t served = serve::overlay(req, facts, g_opts, &plan);
  account(req, reason, &plan, served);
  errno = saved_errno;
}

bool range_is_ours(const void* addr, size_t len) {
  return registry::overlaps((uintptr_t)addr, len);
}

bool fd_is_ours(int fd) { return fd >= 0 && fd == log::fd() && fd != 2; }

void opened(int fd, int flags) {
  if (!in_vfork_child()) lease::note_open(fd, flags);
}

void fd_written_elsewhere(int fd) {
  // Other fds of the same open file (a dup) could still look like the
  // program's own: the file itself gets no write lease any more.
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) == 0) lease::never_write_lease(st.st_dev, st.st_ino);
  lease::note_closed(fd);
  file_changing(fd);
  file_changed();
}

void fd_replaced(int fd) {
  lease::note_closed(fd);
  if (fd_is_ours(fd)) log::forget_fd();
  keep_own_fd(fd);
}

bool in_vfork_child() { return (pid_t)syscall(SYS_getpid) != g_pid; }

void before_exec() {
  if (in_vfork_child()) return;  // the parent's state is not the child's to change
  if (g_state == State::Active) {
    lease::refuse_new(true);
    give_back_write_leased();
  }
  // The new image starts with nothing of ours: its own stats file, if any.
  stats::unpublish();
}

void before_spawn() {
  if (in_vfork_child() || g_state != State::Active) return;
  give_back_write_leased();
  lease::before_fork();  // the fds are the child's too now
}

void after_exec_failed() {
  if (in_vfork_child()) return;
  lease::refuse_new(false);
  log::Line(LogLevel::Debug).s("exec failed; statistics continue in memory").emit();
}

void enter_internal_thread() { t_depth = 1; }

void at_exit() {
  if (g_state != State::Active) return;
  // Stores in CMB memory die with the process: to the file with them.
  write_back_at_exit();
  lease::refuse_new(true);
  if (g_opts.stats) stats::print();
  stats::unpublish();
}

}  // namespace cmbmap::core
