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
// How long a peer may take to answer: a second, plus time to zero what it
// gives back at 32 MB/s (its watcher gives ranges back in place and zeroes
// their CMB memory first, which under an emulated CPU runs at about 170
// MB/s: README, scrub_ratio). A peer that does not answer in time is given
// up on (its watcher may be waiting for a lock that its own mapping call
// holds while that call asks this process).
uint64_t answer_ns(uint64_t bytes) {
  const uint64_t ns = 1000ull * 1000 * 1000 + (bytes < (1ull << 32) ? bytes : 1ull << 32) * 31;
  return ns < 10ull * 1000 * 1000 * 1000 ? ns : 10ull * 1000 * 1000 * 1000;  // 10 s at most
}
constexpr uint64_t kPollNs = 1000ull * 1000;

struct Scan {
  const char* dir;
  const char* controller;
  pid_t self;
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
  if (live_block::read(p.path, &s) && candidate(p.path, s, scan.controller, scan.self, &p))
    consider(scan.peers, scan.n, kMaxPeers, p);
  return true;
}

// One request, and its answer: the bytes the peer gave back.
uint64_t ask_one(const Peer& p, uint64_t bytes, const char* controller) {
  stats::add(&cmbmap_stats::share_requests, 1);
  const uint64_t message = watcher_message::peer_request(p.slot, bytes, prim::page_size());
  if (watcher_message::send((pid_t)p.pid, (pid_t)p.tid, p.signal, message) < 0) return 0;
  const uint64_t deadline = prim::monotonic_ns() + answer_ns(bytes < p.held ? bytes : p.held);
  cmbmap_stats now;
  while (prim::monotonic_ns() < deadline) {
    prim::sleep_ns(kPollNs);
    if (!live_block::read(p.path, &now)) return 0;
    if (now.reclaim_requests > p.answered) {
      const uint64_t given = now.reclaimed_bytes - p.given;
      log::Line(LogLevel::Info).s("CMB of ").s(controller).s(" full: process ").u(p.pid).s(" gave back ")
          .size(given).emit();
      return given;
    }
  }
  log::Line(LogLevel::Info).s("CMB of ").s(controller).s(" full: process ").u(p.pid)
      .s(" did not answer in time").emit();
  return 0;
}

}  // namespace

bool candidate(const char* path, const cmbmap_stats& s, const char* controller, pid_t self, Peer* out) {
  if (s.pid == (uint64_t)self || s.pid == 0) return false;
  const int slot = live_block::slot_of(s, controller);
  if (slot < 0 || slot > watcher_message::kMaxSlot || s.held_by_controller[slot] == 0) return false;
  if (!live_block::alive(s.pid) || !live_block::watcher_plausible(path, s)) return false;
  out->pid = s.pid;
  out->tid = s.watcher_tid;
  out->signal = (int)s.watcher_signal;
  out->slot = slot;
  out->held = s.held_by_controller[slot];
  out->last_use = s.last_use_ns[slot];
  out->answered = s.reclaim_requests;
  out->given = s.reclaimed_bytes;
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

uint64_t ask(const char* controller, uint64_t bytes) {
  if (!g_enabled || !controller || !*controller) return 0;
  Peer peers[kMaxPeers];
  size_t n = 0;
  Scan scan{stats::run_dir(), controller, prim::pid(), peers, &n};
  prim::list_dir(scan.dir, on_entry, &scan);
  char user[64];
  stats::user_dir(user, sizeof user);
  scan.dir = user;
  prim::list_dir(scan.dir, on_entry, &scan);
  uint64_t got = 0;
  for (size_t i = 0; i < n && got < bytes; ++i) got += ask_one(peers[i], bytes - got, controller);
  stats::add(&cmbmap_stats::share_got_bytes, got);
  return got;
}

void set_enabled(bool on) { g_enabled = on; }

}  // namespace cmbmap::share
