// Statistics block and its shared file (see stats.h).
#include "common/stats.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prim/prim.h"
#include "prim/text.h"
#include "common/log.h"

namespace cmbmap::stats {
namespace {

cmbmap_stats g_local;
cmbmap_stats* g_block = &g_local;   // the file's mapping once published
char g_path[128];
prim::SpinLock g_lock;               // guards publish/unpublish and the controller slots

// Opens (creating) DIR/PID.stats; returns fd or -1 and leaves the path in g_path.
int open_in(const char* dir, mode_t dir_mode) {
  prim::mkdir_at(dir, dir_mode);
  text::join(g_path, sizeof g_path, dir, "");
  text::append_u64(g_path, sizeof g_path, (uint64_t)prim::pid());
  unsigned n = 0;
  while (g_path[n]) ++n;
  text::copy(g_path + n, sizeof g_path - n, ".stats");
  return prim::open_at(g_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
}

}  // namespace

const char* run_dir() { return "/run/cmbmap"; }

void user_dir(char* buf, unsigned cap) {
  text::copy(buf, cap, "/tmp/cmbmap-");
  text::append_u64(buf, cap, (uint64_t)prim::uid());
}

cmbmap_stats* get() { return __atomic_load_n(&g_block, __ATOMIC_ACQUIRE); }

void add(uint64_t cmbmap_stats::*field, uint64_t v) {
  __atomic_fetch_add(&(get()->*field), v, __ATOMIC_RELAXED);
}

void add_fallback(int reason, uint64_t bytes) {
  if (reason <= 0 || reason >= CMBMAP_REASON_COUNT) return;
  __atomic_fetch_add(&get()->fallback_by_reason[reason], bytes, __ATOMIC_RELAXED);
  add(&cmbmap_stats::fallback_bytes, bytes);
}

void add_fill(int engine, uint64_t bytes, uint64_t ns) {
  if (engine < 0 || engine >= 4) return;
  cmbmap_stats* s = get();
  __atomic_fetch_add(&s->fills[engine], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&s->fill_bytes[engine], bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add(&s->fill_ns[engine], ns, __ATOMIC_RELAXED);
}

void add_revoke(int cause, uint64_t bytes) {
  cmbmap_stats* s = get();
  if (cause > 0 && cause < CMBMAP_REASON_COUNT)
    __atomic_fetch_add(&s->revoked_by_reason[cause], bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add(&s->revoked_bytes, bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add(&s->revocations, 1, __ATOMIC_RELAXED);
}

int controller_slot(const char* name) {
  cmbmap_stats* s = get();
  constexpr int kSlots = sizeof s->controller / sizeof s->controller[0];
  prim::SpinHold hold(g_lock);
  int slot = -1;
  for (int i = 0; i < kSlots && slot < 0; ++i) {
    if (!s->controller[i][0]) text::copy(s->controller[i], sizeof s->controller[i], name);
    if (text::equal(s->controller[i], name)) slot = i;
  }
  return slot;
}

void add_held(int slot, int64_t delta) {
  cmbmap_stats* s = get();
  if (slot >= 0 && slot < (int)(sizeof s->held_by_controller / sizeof s->held_by_controller[0]))
    __atomic_fetch_add(&s->held_by_controller[slot], (uint64_t)delta, __ATOMIC_RELAXED);
}

void publish() {
  if (get() != &g_local) return;
  prim::SpinHold hold(g_lock);
  if (g_block == &g_local) {
    // /run/cmbmap is shared by all users (sticky, like /tmp); else per-user /tmp.
    int fd = open_in(run_dir(), 01777);
    if (fd < 0) {
      char dir[64];
      user_dir(dir, sizeof dir);
      fd = open_in(dir, 0700);
    }
    if (fd >= 0 && prim::ftruncate_fd(fd, sizeof(cmbmap_stats)) == 0) {
      void* p = prim::map(nullptr, sizeof(cmbmap_stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        auto* blk = static_cast<cmbmap_stats*>(p);
        *blk = g_local;
        blk->magic = CMBMAP_STATS_MAGIC;
        blk->pid = (uint64_t)prim::pid();
        __atomic_store_n(&g_block, blk, __ATOMIC_RELEASE);
      } else {
        g_path[0] = '\0';
      }
    } else {
      g_path[0] = '\0';
    }
    if (fd >= 0) prim::close_fd(fd);
  }
}

void unpublish() {
  prim::SpinHold hold(g_lock);
  if (g_block != &g_local) {
    g_local = *g_block;
    cmbmap_stats* old = g_block;
    __atomic_store_n(&g_block, &g_local, __ATOMIC_RELEASE);
    prim::unmap(old, sizeof(cmbmap_stats));
    if (g_path[0]) prim::unlink_at(g_path);
    g_path[0] = '\0';
  }
}

void after_fork_child() {
  // The parent's block is MAP_SHARED: drop it without touching the parent's file.
  cmbmap_stats* old = g_block;
  g_local = cmbmap_stats{};
  g_block = &g_local;
  g_lock.reset();
  if (old != &g_local) prim::unmap(old, sizeof(cmbmap_stats));
  g_path[0] = '\0';
}

void print() {
  const cmbmap_stats& s = *get();
  log::Line(LogLevel::Error, "stats").s("file mappings ").u(s.mmap_calls).s(" (").size(s.mmap_bytes)
      .s("), eligible ").size(s.eligible_bytes).s(", served ").size(s.served_total)
      .s(", ordinary ").size(s.fallback_bytes).emit();
  static const char* const kEngine[] = {"pread", "uring", "passthru", "?"};
  for (int e = 0; e < 4; ++e) {
    if (!s.fills[e]) continue;
    uint64_t mbps = s.fill_ns[e] ? s.fill_bytes[e] * 1000 / s.fill_ns[e] : 0;
    log::Line(LogLevel::Error, "stats").s("  fill ").s(kEngine[e]).s(": ").u(s.fills[e]).s(" fills, ")
        .size(s.fill_bytes[e]).s(", ").u(mbps).s(" MB/s").emit();
  }
  if (s.dirty_faults || s.writebacks)
    log::Line(LogLevel::Error, "stats").s("  writeback: ").u(s.dirty_faults).s(" pages dirtied, ")
        .u(s.writebacks).s(" writebacks, ").size(s.writeback_direct_bytes).s(" from CMB by NVMe write, ")
        .size(s.writeback_file_bytes).s(" through the file, ").u(s.writeback_errors).s(" errors")
        .emit();
  if (s.scrubbed_bytes || s.unscrubbed_bytes)
    log::Line(LogLevel::Error, "stats").s("  scrub: ").size(s.scrubbed_bytes).s(" zeroed on release, ")
        .size(s.unscrubbed_bytes).s(" released unscrubbed").emit();
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r) {
    if (s.fallback_by_reason[r])
      log::Line(LogLevel::Error, "stats").s("  ").s(cmbmap_reason_name(r)).s(" ")
          .size(s.fallback_by_reason[r]).emit();
  }
}

}  // namespace cmbmap::stats

