// Dirty-page tracking and the SIGSEGV handler (see dirty.h).
#include "shim/giveback/dirty.h"

#include <cerrno>
#include <sched.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prim/prim.h"
#include "prim/stable_table.h"
#include "shim/tier/fill.h"
#include "shim/real.h"
#include "common/stats.h"

namespace cmbmap::dirty {
namespace {

// One byte per page. Frozen pages wait for their range to be replaced;
// kFrozenDirty ones still have to be written before that.
enum : uint8_t { kUntracked = 0, kClean = 1, kDirty = 2, kFrozen = 3, kFrozenDirty = 4 };

struct Tracked {
  uintptr_t start, end;  // 0, 0: free slot
  int prot;              // the program's
  bool all_dirty;        // never write-protected: every page always dirty
  uint8_t* state;        // anonymous mapping, one byte per page
  size_t state_bytes;    // its length
  size_t live;           // pages not kUntracked
};

// Without a fixed limit; the fault handler reads it (under g_lock), so
// entries never move.
prim::StableTable<Tracked, 256, 4096> g_tracked;
size_t g_count;          // tracked ranges in use (read without the lock by any())
prim::SpinLock g_lock;   // taken by the handler: every other holder blocks signals
size_t g_page;           // set before the first range is tracked

struct sigaction g_program;  // the program's SIGSEGV disposition
bool g_installed;

// Spans given back recently (untrack), so that a store that faulted on a
// clean page just before its range went back to file pages is retried
// rather than taken for the program's own fault. A generation count tells
// a retried store that faults again with nothing given back since: that
// fault is the program's (one retry per give-back, never a loop).
struct Gone { uintptr_t lo, hi; };
constexpr size_t kGone = 64;
Gone g_gone[kGone];
uint64_t g_gone_gen;  // give-backs so far (under g_lock; read racily to skip the look)
__thread uintptr_t t_retried_page __attribute__((tls_model("initial-exec")));
__thread uint64_t t_retried_gen __attribute__((tls_model("initial-exec")));

// Spans hidden now (hide/show): nothing mapped there for an instant.
constexpr size_t kHidden = 8;
Gone g_hidden[kHidden];
size_t g_hiding;  // spans in g_hidden (read without the lock by on_fault)

bool recently_gone(uintptr_t a) {
  for (const Gone& g : g_gone)
    if (g.lo <= a && a < g.hi) return true;
  return false;
}

bool hidden(uintptr_t a) {
  for (const Gone& g : g_hidden)
    if (g.lo <= a && a < g.hi) return true;
  return false;
}

// The lock from ordinary code: signals blocked, so no handler on this
// thread can spin on a lock its own thread holds.
struct Locked {
  uint64_t mask;
  Locked() : mask(prim::block_all_signals()) { g_lock.lock(); }
  ~Locked() {
    g_lock.unlock();
    prim::restore_mask(mask);
  }
};

// The entry that tracks a's page. Not just one that covers a: a range
// given back in part keeps its entry while the rest is tracked, and the
// part given back may be tracked again (another file served there). The
// last one found is tried first: a program stores through one mapping for
// a while, and the table may hold thousands (under g_lock).
size_t g_last_found;
Tracked* find(uintptr_t a) {
  auto tracks_page = [a](const Tracked& r) {
    return r.start <= a && a < r.end && r.state[(a - r.start) / g_page] != kUntracked;
  };
  if (g_last_found < g_tracked.size() && tracks_page(g_tracked[g_last_found])) return &g_tracked[g_last_found];
  Tracked* r = g_tracked.find(tracks_page);
  if (r) g_last_found = g_tracked.index_of(r);
  return r;
}

int protect(uintptr_t start, uintptr_t end, int prot) { return prim::protect((void*)start, end - start, prot); }

// Calls fn(tracked, first page, last page + 1) for each tracked range overlapping [lo, hi).
template <typename Fn>
void each_overlap(uintptr_t lo, uintptr_t hi, Fn fn) {
  for (size_t n = 0; n < g_tracked.size(); ++n) {
    Tracked& r = g_tracked[n];
    if (r.end <= lo || r.start >= hi || r.start == r.end) continue;
    const uintptr_t a = lo > r.start ? lo : r.start, b = hi < r.end ? hi : r.end;
    fn(r, (a - r.start) / g_page, (b - r.start + g_page - 1) / g_page);
  }
}

// Write-protects pages [k, e) of r; failing that (each mprotect splits the
// mapping, and the process may be at vm.max_map_count), the whole tracked
// run around them, which merges the pieces.
bool write_protect(Tracked& r, size_t k, size_t e) {
  if (protect(r.start + k * g_page, r.start + e * g_page, PROT_READ) == 0) return true;
  const size_t n = (r.end - r.start) / g_page;
  while (k > 0 && r.state[k - 1] != kUntracked) --k;
  while (e < n && r.state[e] != kUntracked) ++e;
  return protect(r.start + k * g_page, r.start + e * g_page, PROT_READ) == 0;
}

// Sets pages [i, j) of r that are in state from to state to, changing the
// protection of each run to prot (-1: leave it; PROT_READ: write_protect).
// False if a protection could not be changed (prot >= 0 but PROT_READ).
bool convert(Tracked& r, size_t i, size_t j, uint8_t from, uint8_t to, int prot) {
  bool all = true;
  for (size_t k = i; k < j;) {
    if (r.state[k] != from) { ++k; continue; }
    size_t e = k;
    while (e < j && r.state[e] == from) r.state[e++] = to;
    if (prot == PROT_READ) write_protect(r, k, e);
    else if (prot >= 0) all &= protect(r.start + k * g_page, r.start + e * g_page, prot) == 0;
    k = e;
  }
  return all;
}

// Pages [i, j) of r that are clean or dirty: dirty and writable, a run at a
// time (a clean page next to a dirty one joins its run: fewer splits). No
// room to split the range there (vm.max_map_count): every clean or dirty
// page of the range, coarser but fewer mappings. False if even that failed:
// some of [i, j) is still write-protected.
bool open_pages(Tracked& r, size_t i, size_t j) {
  convert(r, i, j, kClean, kDirty, -1);
  if (convert(r, i, j, kDirty, kDirty, r.prot)) return true;
  const size_t all = (r.end - r.start) / g_page;
  convert(r, 0, all, kClean, kDirty, -1);
  return convert(r, 0, all, kDirty, kDirty, r.prot);
}

void free_tracked(Tracked& r) {
  prim::unmap(r.state, r.state_bytes);
  // start and end are read without the lock (overlaps_any): stored alone.
  __atomic_store_n(&r.start, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&r.end, 0, __ATOMIC_RELEASE);
  r.prot = 0;
  r.all_dirty = false;
  r.state = nullptr;
  r.state_bytes = r.live = 0;
  __atomic_fetch_sub(&g_count, 1, __ATOMIC_RELEASE);
}

// The program's disposition for a fault that is not cmbmap's. cmbmap's
// handler runs with every signal blocked; the program's runs with the mask
// the kernel would have given it (the interrupted one, its sa_mask, the
// signal itself unless SA_NODEFER), less SIGSEGV: a store of its own to a
// clean served page must fault into cmbmap's handler, not end the process.
void chain(int sig, siginfo_t* si, void* uc) {
  g_lock.lock();
  struct sigaction p = g_program;
  // The kernel resets the handler alone: flags and mask stay (sigaction shows them).
  if (p.sa_flags & SA_RESETHAND) g_program.sa_handler = SIG_DFL;
  g_lock.unlock();
  const bool sent = si->si_code <= 0;  // kill(), sigqueue(): not a fault
  // The kernel looks at the handler alone, SA_SIGINFO or not.
  if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    if (p.sa_handler == SIG_IGN && sent) return;
    // The default action: with it back in place, the faulting access runs
    // again and the kernel ends the process as it would have (a sent
    // signal is sent again; it is blocked until this handler returns).
    struct sigaction d{};
    d.sa_handler = SIG_DFL;
    real::sigaction(sig, &d, nullptr);
    if (sent) prim::kill_thread(prim::pid(), prim::tid(), sig);
    return;
  }
  uint64_t interrupted, theirs;
  __builtin_memcpy(&interrupted, &static_cast<ucontext_t*>(uc)->uc_sigmask, sizeof interrupted);
  __builtin_memcpy(&theirs, &p.sa_mask, sizeof theirs);
  uint64_t mask = interrupted | theirs | (p.sa_flags & SA_NODEFER ? 0 : uint64_t{1} << (sig - 1));
  mask &= ~(uint64_t{1} << (SIGSEGV - 1));
  uint64_t ours = 0;
  prim::signal_mask(SIG_SETMASK, &mask, &ours);
  if (p.sa_flags & SA_SIGINFO) p.sa_sigaction(sig, si, uc);
  else p.sa_handler(sig);
  prim::restore_mask(ours);
}

// A store to a tracked page that is not clean or dirty: wait while it is
// frozen (its range is being replaced). True if the store should simply
// run again: its range has just gone back to file pages.
bool retry_after_give_back(uintptr_t a, bool was_frozen) {
  const uintptr_t page = a & ~(uintptr_t)(g_page - 1);
  g_lock.lock();
  const bool gone = recently_gone(a);
  const uint64_t gen = g_gone_gen;
  g_lock.unlock();
  if (!gone && !was_frozen) return false;
  if (t_retried_page == page && t_retried_gen == gen) return false;  // faulted again: the program's
  t_retried_page = page;
  t_retried_gen = gen;
  return true;
}

// Runs with every signal blocked (install's sa_mask): nothing of the
// program's can run on this thread while it holds the lock.
// Waits while a is hidden (see hide); true if it was.
bool wait_while_hidden(uintptr_t a) {
  bool waited = false;
  for (;;) {
    g_lock.lock();
    const bool h = hidden(a);
    g_lock.unlock();
    if (!h) return waited;
    waited = true;
    prim::yield();
  }
}

// Whether the fault was a store (x86-64: the page-fault error code's write
// bit, and not an instruction fetch). Elsewhere every protection fault on a
// tracked page is taken for one.
bool fault_is_store(const void* uc) {
#if defined(__x86_64__)
  const long err = static_cast<const ucontext_t*>(uc)->uc_mcontext.gregs[REG_ERR];
  return (err & 0x2) && !(err & 0x10);
#else
  (void)uc;
  return true;
#endif
}

void on_fault(int sig, siginfo_t* si, void* uc) {
  const int saved = errno;
  const uintptr_t a = (uintptr_t)si->si_addr;
  const bool ours = __atomic_load_n(&g_count, __ATOMIC_ACQUIRE) || __atomic_load_n(&g_gone_gen, __ATOMIC_RELAXED) ||
                    __atomic_load_n(&g_hiding, __ATOMIC_ACQUIRE);
  if (si->si_code == SEGV_MAPERR && ours && retry_after_give_back(a, wait_while_hidden(a))) {
    errno = saved;
    return;
  }
  if (si->si_code == SEGV_ACCERR && ours) {
    bool was_frozen = wait_while_hidden(a);
    for (;;) {
      g_lock.lock();
      Tracked* r = find(a);
      const size_t i = r ? (a - r->start) / g_page : 0;
      const uint8_t s = r ? r->state[i] : (uint8_t)kUntracked;
      // A load or an instruction fetch there (a jump into the mapping) is
      // the program's: making the page writable would not end it.
      if ((s == kClean || s == kDirty) && !fault_is_store(uc)) {
        g_lock.unlock();
        break;
      }
      if (s == kClean || s == kDirty) {
        // Dirty before writable: a writeback never misses a store.
        r->state[i] = kDirty;
        const uintptr_t page = r->start + i * g_page;
        // No room to split off one page: the whole tracked range, coarser but right.
        if (protect(page, page + g_page, r->prot) != 0) open_pages(*r, 0, (r->end - r->start) / g_page);
        g_lock.unlock();
        if (s == kClean) __atomic_fetch_add(&stats::get()->dirty_faults, 1, __ATOMIC_RELAXED);
        errno = saved;
        return;
      }
      g_lock.unlock();
      if (s != kFrozen && s != kFrozenDirty) break;
      was_frozen = true;
      prim::yield();  // the range is being replaced: look again after
    }
    if (retry_after_give_back(a, was_frozen)) {
      errno = saved;
      return;
    }
  }
  chain(sig, si, uc);
  errno = saved;
}

// cmbmap's action for SIGSEGV. On the alternate stack only if the program's
// own handler asked for it (SA_ONSTACK): chain() runs that handler on this
// one's stack, which must be the one the kernel would have used (its
// stack-overflow faults reach it on the alternate stack; a handler without
// SA_ONSTACK runs on the thread's own, the alternate one often being small).
struct sigaction our_action(int program_flags) {
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | (program_flags & SA_ONSTACK);
  sigfillset(&sa.sa_mask);  // see on_fault
  return sa;
}

bool install() {
  if (g_installed) return true;
  {
    Locked l;
    struct sigaction cur{};
    if (real::sigaction(SIGSEGV, nullptr, &cur) != 0) return false;
    const struct sigaction sa = our_action(cur.sa_flags);
    if (real::sigaction(SIGSEGV, &sa, &g_program) != 0) return false;
    __atomic_store_n(&g_installed, true, __ATOMIC_RELEASE);
  }
  // From now on SIGSEGV must never be blocked where a store may fault (the
  // interposers keep it out of new masks): the handlers already installed,
  // and this thread.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction cur{};
    if (sig == SIGSEGV || sig == SIGKILL || sig == SIGSTOP || real::sigaction(sig, nullptr, &cur) != 0) continue;
    if (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN || !sigismember(&cur.sa_mask, SIGSEGV)) continue;
    sigdelset(&cur.sa_mask, SIGSEGV);
    real::sigaction(sig, &cur, nullptr);
  }
  const uint64_t segv = uint64_t{1} << (SIGSEGV - 1);
  prim::signal_mask(SIG_UNBLOCK, &segv, nullptr);
  return true;
}

}  // namespace

bool track(uintptr_t start, uintptr_t end, int prot, bool all_dirty) {
  if (!install()) return false;
  if (!g_page) g_page = prim::page_size();
  const size_t pages = (end - start) / g_page;
  const size_t bytes = (pages + g_page - 1) / g_page * g_page;
  void* m = prim::map(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
  auto* state = static_cast<uint8_t*>(m);
  for (size_t i = 0; i < pages; ++i) state[i] = all_dirty ? kDirty : kClean;
  Locked l;
  Tracked* r = g_tracked.free_entry([](const Tracked& t) { return t.start == t.end; });
  if (!r) {
    prim::unmap(m, bytes);
    return false;
  }
  r->prot = prot;
  r->all_dirty = all_dirty;
  r->state = state;
  r->state_bytes = bytes;
  r->live = pages;
  // Read without the lock (overlaps_any): stored alone, the end last.
  __atomic_store_n(&r->start, start, __ATOMIC_RELAXED);
  __atomic_store_n(&r->end, end, __ATOMIC_RELEASE);
  __atomic_fetch_add(&g_count, 1, __ATOMIC_RELEASE);
  if (all_dirty) protect(start, end, prot);
  return true;
}

bool any() { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE) != 0; }

namespace {

// Whether any tracked range overlaps [lo, hi), without the lock: a mapping
// call on memory cmbmap does not track (most of them) must not wait for a
// writeback's take, which holds the lock across an mprotect and its TLB
// shootdown. A range being tracked or untracked meanwhile may be seen
// either way, as if this ran just before or after.
bool overlaps_any(uintptr_t lo, uintptr_t hi) {
  for (size_t n = 0; n < g_tracked.size(); ++n) {
    const Tracked& r = g_tracked[n];
    const uintptr_t end = __atomic_load_n(&r.end, __ATOMIC_ACQUIRE);
    const uintptr_t start = __atomic_load_n(&r.start, __ATOMIC_RELAXED);
    if (start != end && start < hi && lo < end) return true;
  }
  return false;
}

}  // namespace

bool tracks(uintptr_t start, size_t len) {
  if (!any() || !overlaps_any(start, start + len)) return false;
  Locked l;
  bool found = false;
  each_overlap(start, start + len, [&](Tracked& r, size_t i, size_t j) {
    for (size_t k = i; k < j && !found; ++k) found = r.state[k] != kUntracked;
  });
  return found;
}

// Pages [k, e) of r are all tracked (none given back meanwhile).
bool all_tracked(const Tracked& r, size_t k, size_t e) {
  for (; k < e; ++k)
    if (r.state[k] == kUntracked) return false;
  return true;
}

void mark(Tracked& r, const Run& run, uint8_t to) {
  for (uintptr_t a = run.start; a < run.end; a += g_page) r.state[(a - r.start) / g_page] = to;
}

// Write-protects the dirty runs just taken from r, and marks them clean.
// Read-only before the bytes are read: a later store faults and dirties the
// page again rather than slipping past this writeback. Clean and frozen
// pages between two runs are read-only already, so runs with only tracked
// pages between them go in one call: a window of scattered dirty pages
// costs one mprotect, not one per run, under the lock every mapping call
// waits for. Pages that cannot be write-protected are written and stay
// dirty, as every page of an all-dirty range does.
void protect_taken(Tracked& r, const Run* runs, size_t n) {
  for (size_t a = 0; a < n;) {
    size_t b = a + 1;
    while (b < n && all_tracked(r, (runs[b - 1].end - r.start) / g_page, (runs[b].start - r.start) / g_page)) ++b;
    const bool whole = protect(runs[a].start, runs[b - 1].end, PROT_READ) == 0;
    for (size_t x = a; x < b; ++x)
      if (whole || write_protect(r, (runs[x].start - r.start) / g_page, (runs[x].end - r.start) / g_page))
        mark(r, runs[x], kClean);
    a = b;
  }
}

namespace {

// Appends to out[n..cap) the runs of pages [i, j) of r in state want;
// returns the new count.
size_t runs_in(const Tracked& r, size_t i, size_t j, uint8_t want, Run* out, size_t n, size_t cap) {
  for (size_t k = i; k < j && n < cap;) {
    if (r.state[k] != want) { ++k; continue; }
    size_t e = k;
    while (e < j && r.state[e] == want) ++e;
    out[n++] = Run{r.start + k * g_page, r.start + e * g_page};
    k = e;
  }
  return n;
}

// Dirty pages [i, j) of r become frozen-dirty, write-protected a run at a
// time. A run that cannot be write-protected stays dirty (and writable: a
// store to it must not be taken for frozen): false then.
bool freeze_dirty(Tracked& r, size_t i, size_t j) {
  bool all = true;
  for (size_t k = i; k < j;) {
    if (r.state[k] != kDirty) { ++k; continue; }
    size_t e = k;
    while (e < j && r.state[e] == kDirty) r.state[e++] = kFrozenDirty;
    if (!write_protect(r, k, e)) {
      for (size_t x = k; x < e; ++x) r.state[x] = kDirty;
      all = false;
    }
    k = e;
  }
  return all;
}

}  // namespace

size_t take(uintptr_t lo, uintptr_t hi, bool freeze, Run* out, size_t cap, bool* unfrozen) {
  if (!any()) return 0;
  Locked l;
  size_t n = 0;
  each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) {
    if (freeze) {
      convert(r, i, j, kClean, kFrozen, -1);
      if (!freeze_dirty(r, i, j) && unfrozen) *unfrozen = true;
    }
    const size_t first = n;
    n = runs_in(r, i, j, freeze ? kFrozenDirty : kDirty, out, n, cap);
    if (freeze)
      for (size_t x = first; x < n; ++x) mark(r, out[x], kFrozen);
    else if (!r.all_dirty)
      protect_taken(r, out + first, n - first);
  });
  return n;
}

size_t dirty_runs(uintptr_t lo, uintptr_t hi, Run* out, size_t cap) {
  if (!any()) return 0;
  Locked l;
  size_t n = 0;
  each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) { n = runs_in(r, i, j, kDirty, out, n, cap); });
  return n;
}

void thaw(uintptr_t lo, uintptr_t hi) {
  if (!any()) return;
  Locked l;
  each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) {
    convert(r, i, j, kFrozen, r.all_dirty ? kDirty : kClean, -1);
    convert(r, i, j, kFrozenDirty, kDirty, -1);  // read-only: the next store re-opens it
    if (r.all_dirty) open_pages(r, i, j);         // but nothing faults in an all-dirty range
  });
}

void redirty(uintptr_t lo, uintptr_t hi) {
  if (!any()) return;
  Locked l;
  each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) {
    convert(r, i, j, kClean, kDirty, -1);
    convert(r, i, j, kFrozen, kFrozenDirty, -1);
  });
}

void untrack(uintptr_t lo, uintptr_t hi) {
  if (!any()) return;
  Locked l;
  g_gone[g_gone_gen % kGone] = Gone{lo, hi};
  __atomic_store_n(&g_gone_gen, g_gone_gen + 1, __ATOMIC_RELEASE);
  each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) {
    for (size_t k = i; k < j; ++k)
      if (r.state[k] != kUntracked) {
        r.state[k] = kUntracked;
        --r.live;
      }
    if (r.live == 0) free_tracked(r);
  });
}

void clear_past_eof(uintptr_t from, uintptr_t to) {
  if (!any() || from >= to) return;
  const auto* b = reinterpret_cast<const volatile uint8_t*>(from);
  size_t nonzero = 0;
  for (size_t i = 0; i < to - from && !nonzero; ++i) nonzero = b[i] != 0;
  if (!nonzero) return;
  Locked l;
  Tracked* r = find(from);
  if (!r) return;
  const size_t i = (from - r->start) / g_page;
  if (r->state[i] != kClean && r->state[i] != kDirty) return;  // frozen: the range is going
  // A store to a page left write-protected would fault here, with every
  // signal blocked: the kernel would end the process. The bytes stay.
  if (open_pages(*r, i, i + 1)) fill::zero(reinterpret_cast<void*>(from), to - from);
}

void prepare_store(const void* p, size_t len) {
  if (!any() || len == 0) return;
  const uintptr_t lo = (uintptr_t)p, hi = lo + len;
  for (;;) {
    bool frozen = false;
    {
      Locked l;
      each_overlap(lo, hi, [&](Tracked& r, size_t i, size_t j) {
        for (size_t k = i; k < j; ++k) frozen |= r.state[k] == kFrozen || r.state[k] == kFrozenDirty;
        if (!frozen && !r.all_dirty) open_pages(r, i, j);  // all-dirty: open already
      });
    }
    if (!frozen) return;
    prim::yield();
  }
}

bool hide(uintptr_t lo, uintptr_t hi) {
  if (!install()) return false;
  Locked l;
  for (Gone& g : g_hidden) {
    if (g.lo != g.hi) continue;
    g = Gone{lo, hi};
    __atomic_fetch_add(&g_hiding, 1, __ATOMIC_RELEASE);
    return true;
  }
  return false;
}

void show(uintptr_t lo, uintptr_t hi) {
  Locked l;
  for (Gone& g : g_hidden) {
    if (g.lo != lo || g.hi != hi) continue;
    g = Gone{};
    __atomic_fetch_sub(&g_hiding, 1, __ATOMIC_RELEASE);
    break;
  }
  // A thread that faulted there but looks only now retries once.
  g_gone[g_gone_gen % kGone] = Gone{lo, hi};
  __atomic_store_n(&g_gone_gen, g_gone_gen + 1, __ATOMIC_RELEASE);
}

bool installed() { return __atomic_load_n(&g_installed, __ATOMIC_ACQUIRE); }

int program_sigaction(const struct sigaction* act, struct sigaction* old) {
  Locked l;
  if (old) *old = g_program;
  if (!act) return 0;
  const bool stack_changed = (act->sa_flags ^ g_program.sa_flags) & SA_ONSTACK;
  g_program = *act;
  if (stack_changed) {
    const struct sigaction sa = our_action(act->sa_flags);
    real::sigaction(SIGSEGV, &sa, nullptr);
  }
  return 0;
}

SignalsBlocked::SignalsBlocked(bool when) : on_(when), old_(when ? prim::block_all_signals() : 0) {}
void SignalsBlocked::end() {
  if (on_) prim::restore_mask(old_);
  on_ = false;
}

void after_fork_child() {
  // The parent gave back its writable ranges before forking; whatever is
  // left here is not the child's to track.
  for (size_t n = 0; n < g_tracked.size(); ++n)
    if (g_tracked[n].start != g_tracked[n].end) free_tracked(g_tracked[n]);
  g_lock.reset();
}

}  // namespace cmbmap::dirty
