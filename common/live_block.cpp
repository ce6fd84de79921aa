// Reading another process's statistics block (see live_block.h).
#include "common/live_block.h"

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>

#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap::live_block {
namespace {

constexpr size_t kSlots = sizeof(cmbmap_stats::controller) / sizeof(cmbmap_stats::controller[0]);

bool same_name(const char (&slot)[16], const char* name) {
  for (size_t i = 0; i < sizeof slot; ++i) {
    if (slot[i] != name[i]) return false;
    if (!name[i]) return true;
  }
  return name[sizeof slot] == '\0';
}

// "/proc/PID/task/TID" into buf.
void task_dir(char* buf, size_t cap, uint64_t pid, uint64_t tid) {
  text::copy(buf, cap, "/proc/");
  text::append_u64(buf, cap, pid);
  text::join(buf, cap, buf, "task/");
  text::append_u64(buf, cap, tid);
}

}  // namespace

bool read(const char* path, cmbmap_stats* out, uid_t* owner) {
  const int fd = prim::open_read(path, O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  const bool regular = prim::fstat_fd(fd, &st) == 0 && S_ISREG(st.st_mode);
  const long n = regular ? prim::pread_fd(fd, out, sizeof *out, 0) : -1;
  prim::close_fd(fd);
  if (owner) *owner = st.st_uid;
  return n == (long)sizeof *out && out->magic == CMBMAP_STATS_MAGIC;
}

bool watcher_plausible(uid_t owner, uint64_t pid, uint64_t tid, uint64_t signal) {
  if (!pid || !tid || tid == pid || (int)signal < SIGRTMIN || (int)signal > SIGRTMAX) return false;
  char task[64], comm_path[80], comm[32];
  task_dir(task, sizeof task, pid, tid);
  if (!text::join(comm_path, sizeof comm_path, task, "comm")) return false;
  if (prim::read_text(comm_path, comm, sizeof comm) < 12) return false;
  const char* want = "cmbmap-watch";
  for (int i = 0; i < 12; ++i)
    if (comm[i] != want[i]) return false;
  struct stat task_st;
  return prim::fstat_at(AT_FDCWD, task, &task_st) == 0 && task_st.st_uid == owner;
}

int slot_of(const cmbmap_stats& s, const char* controller) {
  for (size_t i = 0; i < kSlots; ++i)
    if (same_name(s.controller[i], controller)) return (int)i;
  return -1;
}

uint64_t held_on(const cmbmap_stats& s, const char* controller) {
  uint64_t n = 0;
  for (size_t i = 0; i < kSlots; ++i)
    if (!controller || !*controller || same_name(s.controller[i], controller)) n += s.held_by_controller[i];
  return n;
}

bool alive(uint64_t pid) {
  char dir[32];
  text::copy(dir, sizeof dir, "/proc/");
  text::append_u64(dir, sizeof dir, pid);
  return prim::exists(dir);
}

}  // namespace cmbmap::live_block
