// Sharing one CMB between processes (shim/giveback/share.cpp): which other
// processes a mapping that finds the CMB full may ask, and in what order.
// The receiving side is in test_watcher.cpp; the whole exchange between
// processes in the test machine (test/vm/serve/cmb_shared_between_processes.sh).
#include <criterion/criterion.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "shim/giveback/share.h"

using namespace cmbmap;

namespace {

share::Peer peer(uint64_t pid, uint64_t last_use) {
  share::Peer p{};
  p.pid = pid;
  p.last_use = last_use;
  return p;
}

// A child process with a thread named like cmbmap's watcher; its tids come
// back through a pipe: [0] the named thread, [1] the main thread.
struct Child {
  pid_t pid;
  pid_t tids[2];
};

void* named_thread(void* fd) {
  prctl(PR_SET_NAME, "cmbmap-watch");
  const pid_t tid = (pid_t)syscall(SYS_gettid);
  if (write(*(int*)fd, &tid, sizeof tid) != sizeof tid) _exit(1);
  pause();
  return nullptr;
}

Child start_child() {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  Child c{};
  c.pid = fork();
  if (c.pid == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, named_thread, &p[1]);
    pthread_join(t, nullptr);
    _exit(0);
  }
  cr_assert_eq(read(p[0], &c.tids[0], sizeof(pid_t)), (ssize_t)sizeof(pid_t));
  c.tids[1] = c.pid;
  close(p[0]);
  close(p[1]);
  return c;
}

void stop_child(const Child& c) {
  kill(c.pid, SIGKILL);
  waitpid(c.pid, nullptr, 0);
}

cmbmap_stats block_of(pid_t pid, pid_t tid) {
  cmbmap_stats s{};
  s.magic = CMBMAP_STATS_MAGIC;
  s.pid = (uint64_t)pid;
  s.watcher_tid = (uint64_t)tid;
  s.watcher_signal = (uint64_t)SIGRTMAX - 2;
  strcpy(s.controller[0], "nvme3");
  strcpy(s.controller[1], "nvme9");
  s.held_by_controller[1] = 1 << 20;
  s.last_use_ns[1] = 12345;
  s.reclaim_requests = 4;
  s.reclaimed_bytes = 8192;
  return s;
}

}  // namespace

Test(share, peers_are_asked_least_recently_active_first) {
  share::Peer list[3];
  size_t n = 0;
  share::consider(list, &n, 3, peer(1, 500));
  share::consider(list, &n, 3, peer(2, 100));
  share::consider(list, &n, 3, peer(3, 300));
  cr_assert_eq(n, 3u);
  cr_assert_eq(list[0].pid, 2u);
  cr_assert_eq(list[1].pid, 3u);
  cr_assert_eq(list[2].pid, 1u);
  // Full: an older one pushes out the most recently active; a newer one stays out.
  share::consider(list, &n, 3, peer(4, 50));
  share::consider(list, &n, 3, peer(5, 900));
  cr_assert_eq(n, 3u);
  cr_assert_eq(list[0].pid, 4u);
  cr_assert_eq(list[1].pid, 2u);
  cr_assert_eq(list[2].pid, 3u);
}

Test(share, a_peer_is_another_live_process_holding_cmb_with_a_watcher_to_ask) {
  const Child c = start_child();
  char path[] = "/tmp/cmbmap-share-test.XXXXXX";
  const int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  share::Peer p{};
  const cmbmap_stats ok = block_of(c.pid, c.tids[0]);
  cr_assert(share::candidate(path, ok, "nvme9", getpid(), &p));
  cr_assert_eq(p.pid, (uint64_t)c.pid);
  cr_assert_eq(p.tid, (uint64_t)c.tids[0]);
  cr_assert_eq(p.slot, 1, "its own slot for the controller, not ours");
  cr_assert_eq(p.held, 1u << 20);
  cr_assert_eq(p.last_use, 12345u);
  cr_assert_eq(p.answered, 4u);
  cr_assert_eq(p.given, 8192u);
  cr_assert_str_eq(p.path, path);
  cr_assert_not(share::candidate(path, ok, "nvme3", getpid(), &p), "it holds nothing on nvme3");
  cr_assert_not(share::candidate(path, ok, "nvme4", getpid(), &p), "it has no slot for nvme4");
  cr_assert_not(share::candidate(path, ok, "nvme9", c.pid, &p), "a process never asks itself");
  // A block naming a thread that is not a watcher (a forged block could aim
  // the signal, whose default is to kill, at any task of the same user).
  cr_assert_not(share::candidate(path, block_of(c.pid, c.tids[1]), "nvme9", getpid(), &p));
  cmbmap_stats no_watcher = ok;
  no_watcher.watcher_tid = 0;
  cr_assert_not(share::candidate(path, no_watcher, "nvme9", getpid(), &p));
  cmbmap_stats bad_signal = ok;
  bad_signal.watcher_signal = SIGKILL;
  cr_assert_not(share::candidate(path, bad_signal, "nvme9", getpid(), &p));
  stop_child(c);
  cr_assert_not(share::candidate(path, ok, "nvme9", getpid(), &p), "the process is gone");
  close(fd);
  unlink(path);
}
