// File leases (shim/core/lease.cpp) on a real file of this machine: which
// kind is taken for which fd, what the kernel's break looks like to
// breaking(), and that releasing lets the opener go on.
#include <criterion/criterion.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "prim/prim.h"
#include "shim/giveback/lease.h"
#include "cmbmap/cmbmap.h"

using namespace cmbmap;

namespace {
char g_path[64];
struct stat g_st;
const int kSig = SIGRTMAX - 2;

void setup() {
  snprintf(g_path, sizeof g_path, "/var/tmp/cmbmap-lease-XXXXXX");
  int fd = mkstemp(g_path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "0123456789abcdef", 16), 16);
  fstat(fd, &g_st);
  close(fd);
  // Break signals come to this thread: keep them queued, not fatal.
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, kSig);
  sigprocmask(SIG_BLOCK, &s, nullptr);
}
void teardown() {
  lease::release(g_st.st_dev, g_st.st_ino);
  unlink(g_path);
}
pid_t self() { return (pid_t)syscall(SYS_gettid); }

// Leases need a filesystem and kernel that grant them (fs.leases-enable).
void need_leases() {
  int fd = open(g_path, O_RDONLY);
  bool ok = fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
  if (ok) fcntl(fd, F_SETLEASE, F_UNLCK);
  close(fd);
  if (!ok) cr_skip_test("this machine grants no file leases on /var/tmp");
}
double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// Another process opens the file with flags; returns once the lease is
// seen breaking, releases it, and returns how long the opener waited.
double break_by_open(int flags) {
  pid_t child = fork();
  if (child == 0) {
    int fd = open(g_path, flags);
    _exit(fd >= 0 ? 0 : 1);
  }
  const double t0 = now();
  dev_t devs[4];
  ino_t inos[4];
  size_t n = 0;
  while (now() - t0 < 10 && (n = lease::breaking(devs, inos, 4)) == 0) usleep(1000);
  cr_assert_eq(n, 1u, "the open did not break the lease");
  cr_assert(lease::breaking_now(g_st.st_dev, g_st.st_ino));
  lease::release(g_st.st_dev, g_st.st_ino);
  int status;
  waitpid(child, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return now() - t0;
}
}  // namespace

TestSuite(lease, .init = setup, .fini = teardown);

Test(lease, read_only_fd_gets_a_read_lease_broken_by_a_writer) {
  need_leases();
  int fd = open(g_path, O_RDONLY | O_CLOEXEC);
  lease::Grant g = lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self());
  cr_assert_eq(g.reason, CMBMAP_ELIGIBLE);
  cr_assert_not(g.write);
  cr_assert_geq(g.direct_fd, prim::own_fd_floor(), "the lease's own open lives above the program's fds");
  lease::settle(g_st.st_dev, g_st.st_ino);  // no range registered: released
  cr_assert_eq(lease::held(), 0u);
  g = lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self());
  cr_assert_eq(g.reason, CMBMAP_ELIGIBLE);
  cr_assert_not(lease::breaking_now(g_st.st_dev, g_st.st_ino));
  // Another reader does not break a read lease; a writer does, and waits
  // only until the release (not lease-break-time).
  int other = open(g_path, O_RDONLY);
  cr_assert_not(lease::breaking_now(g_st.st_dev, g_st.st_ino));
  close(other);
  cr_assert_lt(break_by_open(O_WRONLY), 5.0);
  cr_assert_eq(lease::held(), 0u);
  close(fd);
}

Test(lease, read_lease_denied_while_open_for_writing) {
  need_leases();
  int w = open(g_path, O_WRONLY);
  int fd = open(g_path, O_RDONLY | O_CLOEXEC);
  lease::Grant g = lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self());
  cr_assert_eq(g.reason, CMBMAP_LEASE_DENIED);
  cr_assert_eq(lease::held(), 0u);
  close(fd);
  close(w);
}

Test(lease, write_lease_only_on_own_opens_since_fork_or_spawn) {
  need_leases();
  int fd = open(g_path, O_RDWR);  // not through the hook
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED);
  lease::note_open(fd, O_RDWR);  // as the open hook would
  lease::before_fork();          // a fork or spawn: the child shares the open file
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED,
               "an open file shared with a child");
  lease::note_open(fd, O_RDWR);  // inheritable (not close-on-exec) is fine: exec and spawn give it back
  lease::Grant g = lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self());
  cr_assert_eq(g.reason, CMBMAP_ELIGIBLE);
  cr_assert(g.write);
  cr_assert_eq(g.direct_fd, -1, "the fill must not open the file again");
  // Under a write lease even a reader's open breaks it.
  cr_assert_lt(break_by_open(O_RDONLY), 5.0);
  lease::note_closed(fd);
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED);
  close(fd);
}

Test(lease, write_lease_denied_with_a_second_open_and_after_stdio) {
  need_leases();
  int fd = open(g_path, O_RDWR | O_CLOEXEC);
  lease::note_open(fd, O_RDWR);
  int other = open(g_path, O_RDONLY);
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED);
  close(other);
  lease::never_write_lease(g_st.st_dev, g_st.st_ino);
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED);
  lease::note_closed(fd);
  close(fd);
}

Test(lease, none_while_refusing) {
  need_leases();
  int fd = open(g_path, O_RDONLY | O_CLOEXEC);
  lease::refuse_new(true);
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_LEASE_DENIED);
  lease::refuse_new(false);
  cr_assert_eq(lease::acquire(fd, g_st.st_dev, g_st.st_ino, kSig, self()).reason, CMBMAP_ELIGIBLE);
  close(fd);
}

// A program that maps many files holds a lease on each: more than the 256
// the table once had room for, each found again, a break finding its file.
Test(lease, leases_on_six_hundred_files) {
  need_leases();
  constexpr int kFiles = 600;
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_max < 1000 + kFiles + 64) cr_skip_test("RLIMIT_NOFILE's hard limit leaves no room for %d leases", kFiles);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  std::vector<std::string> paths;
  std::vector<struct stat> sts(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    char path[64];
    snprintf(path, sizeof path, "/var/tmp/cmbmap-leases-XXXXXX");
    const int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    paths.push_back(path);
    fstat(fd, &sts[i]);
    close(fd);
    const int ro = open(path, O_RDONLY | O_CLOEXEC);
    const int got = lease::acquire(ro, sts[i].st_dev, sts[i].st_ino, kSig, self()).reason;
    close(ro);
    // Only the file broken below needs its name: the others go now, so that
    // a failing run leaves no files behind (the leases hold the inodes).
    if (i != kFiles / 2) unlink(path);
    if (got != CMBMAP_ELIGIBLE && i >= kFiles / 2) unlink(paths[kFiles / 2].c_str());
    cr_assert_eq(got, CMBMAP_ELIGIBLE, "lease %d denied", i);
  }
  cr_assert_eq(lease::held(), (size_t)kFiles);
  for (int i = 0; i < kFiles; ++i) cr_assert_not(lease::breaking_now(sts[i].st_dev, sts[i].st_ino), "file %d", i);
  // A writer of one file breaks its lease alone.
  char setup_path[sizeof g_path];
  memcpy(setup_path, g_path, sizeof g_path);
  const struct stat setup_st = g_st;
  snprintf(g_path, sizeof g_path, "%s", paths[kFiles / 2].c_str());
  g_st = sts[kFiles / 2];
  const double waited = break_by_open(O_WRONLY);
  unlink(paths[kFiles / 2].c_str());
  memcpy(g_path, setup_path, sizeof g_path);
  g_st = setup_st;
  cr_assert_lt(waited, 5.0);
  cr_assert_eq(lease::held(), (size_t)kFiles - 1);
  for (int i = 0; i < kFiles; ++i) lease::release(sts[i].st_dev, sts[i].st_ino);
  cr_assert_eq(lease::held(), 0u);
}
