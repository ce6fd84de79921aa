// Asking other processes for room in a full CMB (see share.h).
#include "shim/giveback/share.h"

#include "common/live_block.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/watcher_message.h"
#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap::share {
namespace {

bool g_enabled = true;
// How long one mapping call may wait for answers in all: a second, plus time
// to zero what it asks for at 32 MB/s (a peer's watcher gives ranges back in
// place and zeroes their CMB memory first, about 170 MB/s under an emulated
// CPU: README, scrub_ratio); 10 s at most. A peer may not answer at all (a
// stopped process, a forged block, or a watcher waiting for a lock its own
// mapping call holds while that call asks this process).
uint64_t wait_budget_ns(uint64_t bytes) {
  const uint64_t ns = 1000ull * 1000 * 1000 + (bytes < (1ull << 32) ? bytes : 1ull << 32) * 31;
  return ns < 10ull * 1000 * 1000 * 1000 ? ns : 10ull * 1000 * 1000 * 1000;
}
constexpr uint64_t kPollNs = 1000ull * 1000;
// A peer that did not answer in time is not asked again for this long.
constexpr uint64_t kSilentNs = 30ull * 1000 * 1000 * 1000;

// Peers that did not answer (under the served-ranges lock, as ask() is).
struct Silent {
  uint64_t pid, until;
};
Silent g_silent[8];

bool silent(uint64_t pid, uint64_t now) {
  for (const Silent& s : g_silent)
    if (s.pid == pid && now < s.until) return true;
  return false;
}

void note_silent(uint64_t pid, uint64_t now) {
  Silent* slot = &g_silent[0];
  for (Silent& s : g_silent)
    if (s.until < slot->until) slot = &s;
  *slot = Silent{pid, now + kSilentNs};
}

struct Scan {
  const char* dir;
  const char* controller;
  pid_t self;
  uint64_t now;
  Peer* peers;
  size_t* n;
};

bool on_entry(const char* name, void* ctx) {
  Scan& scan = *static_cast<Scan*>(ctx);
  size_t len = 0;
  while (name[len]) ++len;
  if (len < 7 || !text::equal(name + len - 6, ".stats")) return true;
  Peer p;
  if (!text::join(p.path, sizeof p.path, scan.dir, name)) return true;
  cmbmap_stats s;
  uid_t owner = 0;
  if (live_block::read(p.path, &s, &owner) && !silent(s.pid, scan.now) &&
      candidate(p.path, owner, s, scan.controller, scan.self, &p))
    consider(scan.peers, scan.n, kMaxPeers, p);
  return true;
}

// Sends p one request; false if it could not be sent (or p no longer looks
// like a watcher: its task may have exited and the number been reused).
bool send(const Peer& p, uint64_t bytes) {
  if (!live_block::watcher_plausible(p.owner, p.pid, p.tid, p.signal)) return false;
  stats::add(&cmbmap_stats::share_requests, 1);
  const uint64_t message = watcher_message::peer_request(p.slot, bytes, prim::page_size());
  return watcher_message::send((pid_t)p.pid, (pid_t)p.tid, (int)p.signal, message) == 0;
}

// Waits until p has answered (its count of answers moved) or the deadline.
bool answered(const Peer& p, uint64_t deadline, uint64_t* given) {
  cmbmap_stats now;
  while (prim::monotonic_ns() < deadline) {
    prim::sleep_ns(kPollNs);
    if (!live_block::read(p.path, &now)) return false;
    if (now.share_answers > p.answered) {
      // Its answers to other processes meanwhile count too: room() decides.
      *given = now.share_given_bytes >= p.given ? now.share_given_bytes - p.given : 0;
      return true;
    }
  }
  return false;
}

}  // namespace

bool candidate(const char* path, uid_t owner, const cmbmap_stats& s, const char* controller, pid_t self, Peer* out) {
  if (s.pid == (uint64_t)self || s.pid == 0) return false;
  const int slot = live_block::slot_of(s, controller);
  if (slot < 0 || slot > watcher_message::kMaxSlot || s.held_by_controller[slot] == 0) return false;
  if (!live_block::alive(s.pid) || !live_block::watcher_plausible(owner, s.pid, s.watcher_tid, s.watcher_signal))
    return false;
  out->pid = s.pid;
  out->tid = s.watcher_tid;
  out->signal = s.watcher_signal;
  out->owner = owner;
  out->slot = slot;
  out->last_use = s.last_use_ns[slot];
  out->answered = s.share_answers;
  out->given = s.share_given_bytes;
  if (out->path != path) text::copy(out->path, sizeof out->path, path);
  return true;
}

void consider(Peer* list, size_t* n, size_t cap, const Peer& p) {
  size_t at = *n;
  while (at > 0 && list[at - 1].last_use > p.last_use) --at;
  if (at >= cap) return;
  const size_t last = *n < cap ? *n : cap - 1;
  for (size_t i = last; i > at; --i) list[i] = list[i - 1];
  list[at] = p;
  if (*n < cap) ++*n;
}

bool ask(const char* controller, uint64_t bytes, bool (*room)(void*), void* ctx) {
  if (!__atomic_load_n(&g_enabled, __ATOMIC_RELAXED) || !controller || !*controller) return false;
  const uint64_t start = prim::monotonic_ns(), deadline = start + wait_budget_ns(bytes);
  Peer peers[kMaxPeers];
  size_t n = 0;
  char user[64];
  stats::user_dir(user, sizeof user);
  Scan scan{stats::run_dir(), controller, prim::pid(), start, peers, &n};
  prim::list_dir(scan.dir, on_entry, &scan);
  scan.dir = user;
  prim::list_dir(scan.dir, on_entry, &scan);
  uint64_t got = 0;
  bool found = false;
  for (size_t i = 0; i < n && !found && prim::monotonic_ns() < deadline; ++i) {
    const Peer& p = peers[i];
    if (!send(p, bytes)) continue;
    uint64_t given = 0;
    if (!answered(p, deadline, &given)) {
      note_silent(p.pid, prim::monotonic_ns());
      log::Line(LogLevel::Info).s("CMB of ").s(controller).s(" full: process ").u(p.pid)
          .s(" did not answer in time (not asked again for 30 s)").emit();
      continue;
    }
    log::Line(LogLevel::Info).s("CMB of ").s(controller).s(" full: process ").u(p.pid).s(" gave back ")
        .size(given).emit();
    got += given;
    found = given && room(ctx);
  }
  stats::add(&cmbmap_stats::share_got_bytes, got);
  return found;
}

void set_enabled(bool on) { __atomic_store_n(&g_enabled, on, __ATOMIC_RELAXED); }

}  // namespace cmbmap::share
