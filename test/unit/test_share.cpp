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
#include <string>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "common/live_block.h"
#include "shim/giveback/share.h"

using namespace cmbmap;

namespace {

share::Peer peer(uint64_t pid, uint64_t last_use) {
  share::Peer p{};
  p.pid = pid;
  p.last_use = last_use;
  return p;
}

// A thread of this process named like cmbmap's watcher (the test asks as if
// it were another process: candidate()'s self is then some other pid). A
// thread, not a forked child: ThreadSanitizer refuses threads after fork.
struct Named {
  pthread_t thread;
  pid_t tid;
};

void* named_thread(void* arg) {
  prctl(PR_SET_NAME, "cmbmap-watch");
  __atomic_store_n(&static_cast<Named*>(arg)->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
  while (true) pause();
  return nullptr;
}

void start_named(Named* n) {
  n->tid = 0;
  cr_assert_eq(pthread_create(&n->thread, nullptr, named_thread, n), 0);
  while (!__atomic_load_n(&n->tid, __ATOMIC_ACQUIRE)) sched_yield();
}

// A pid that no process has now (a child that has exited and been reaped).
pid_t gone_pid() {
  const pid_t c = fork();
  if (c == 0) _exit(0);
  waitpid(c, nullptr, 0);
  return c;
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
  s.share_answers = 4;
  s.share_given_bytes = 8192;
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
  Named named;
  start_named(&named);
  const pid_t me = getpid(), someone_else = 1;
  char path[] = "/tmp/cmbmap-share-test.XXXXXX";
  const int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  share::Peer p{};
  const cmbmap_stats ok = block_of(me, named.tid);
  const uid_t owner = getuid();
  cr_assert(share::candidate(path, owner, ok, "nvme9", someone_else, &p));
  cr_assert_eq(p.pid, (uint64_t)me);
  cr_assert_eq(p.tid, (uint64_t)named.tid);
  cr_assert_eq(p.slot, 1, "its own slot for the controller, not ours");
  cr_assert_eq(p.last_use, 12345u);
  cr_assert_eq(p.answered, 4u);
  cr_assert_eq(p.given, 8192u);
  cr_assert_str_eq(p.path, path);
  cr_assert_eq(p.owner, owner);
  cr_assert_not(share::candidate(path, owner, ok, "nvme3", someone_else, &p), "it holds nothing on nvme3");
  cr_assert_not(share::candidate(path, owner, ok, "nvme4", someone_else, &p), "it has no slot for nvme4");
  cr_assert_not(share::candidate(path, owner, ok, "nvme9", me, &p), "a process never asks itself");
  // The task must be the block owner's: a block another user made cannot
  // aim this process's signal at someone else's task.
  cr_assert_not(share::candidate(path, owner + 4242, ok, "nvme9", someone_else, &p));
  // A block naming a thread that is not a watcher, or the main thread (a
  // forged block could aim the signal, whose default is to kill, at any task).
  cr_assert_not(share::candidate(path, owner, block_of(me, me), "nvme9", someone_else, &p));
  cmbmap_stats no_watcher = ok;
  no_watcher.watcher_tid = 0;
  cr_assert_not(share::candidate(path, owner, no_watcher, "nvme9", someone_else, &p));
  cmbmap_stats bad_signal = ok;
  bad_signal.watcher_signal = SIGKILL;
  cr_assert_not(share::candidate(path, owner, bad_signal, "nvme9", someone_else, &p));
  const pid_t gone = gone_pid();
  cr_assert_not(share::candidate(path, owner, block_of(gone, gone + 1), "nvme9", someone_else, &p),
                "the process is gone");
  close(fd);
  unlink(path);
}

// Anyone may create entries in /run/cmbmap: a FIFO named like a block made
// the reader's open block for good (inside the program's mmap, under the
// served-ranges lock), and a symlink swapped in after the read lent the
// block another file's owner (found in review).
Test(share, a_fifo_or_a_symlink_is_not_a_block) {
  char dir[] = "/tmp/cmbmap-share-dir.XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  const std::string fifo = std::string(dir) + "/1.stats", link = std::string(dir) + "/2.stats",
                    real = std::string(dir) + "/3.stats";
  cr_assert_eq(mkfifo(fifo.c_str(), 0666), 0);
  cmbmap_stats s{};
  uid_t owner = 12345;
  alarm(10);  // a hang fails the test instead of stopping the suite
  cr_assert_not(live_block::read(fifo.c_str(), &s, &owner), "a FIFO was read as a block");
  alarm(0);
  cmbmap_stats good = block_of(getpid(), getpid());
  FILE* f = fopen(real.c_str(), "w");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(&good, sizeof good, 1, f), 1u);
  fclose(f);
  cr_assert(live_block::read(real.c_str(), &s, &owner));
  cr_assert_eq(owner, getuid());
  cr_assert_eq(symlink(real.c_str(), link.c_str()), 0);
  cr_assert_not(live_block::read(link.c_str(), &s, &owner), "a symlink was followed");
  unlink(fifo.c_str());
  unlink(link.c_str());
  unlink(real.c_str());
  rmdir(dir);
}
