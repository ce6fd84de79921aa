// The tier's cached rings and device fds (shim/tier/io_cache.cpp): they live
// above the program's fds, never reach an exec'd program, and a forked
// child gives them up at once (a device fd is raw access to a whole
// namespace; a child that drops privileges must not keep it).
#include <criterion/criterion.h>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prim/prim.h"
#include "shim/tier/io_cache.h"

using namespace cmbmap;

namespace {

// Open fds at or above cmbmap's floor in this process.
int own_fds() {
  int n = 0;
  for (int fd = prim::kOwnFdFloor; fd < prim::kOwnFdFloor + 64; ++fd) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

char g_dev[64];

void setup() {
  // A stand-in for /dev/ngXnY: any file the cache can open read-write.
  snprintf(g_dev, sizeof g_dev, "/var/tmp/cmbmap-dev-XXXXXX");
  int fd = mkstemp(g_dev);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_geq(io_cache::device(g_dev), prim::kOwnFdFloor, "the device fd is not above the floor");
  if (!io_cache::ring(io_cache::RingKind::Plain)) cr_skip_test("io_uring is not available here");
}
void teardown() { unlink(g_dev); }

}  // namespace

TestSuite(io_cache, .init = setup, .fini = teardown);

Test(io_cache, all_close_on_exec) {
  cr_assert_geq(own_fds(), 2);
  for (int fd = prim::kOwnFdFloor; fd < prim::kOwnFdFloor + 64; ++fd)
    if (fcntl(fd, F_GETFD) >= 0) cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d is inherited by exec", fd);
  // An exec'd program sees none of them.
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", "for f in /proc/self/fd/*; do n=${f##*/}; [ \"$n\" -ge 1000 ] && exit 1; done; exit 0",
          (char*)nullptr);
    _exit(2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "an exec'd program holds one of cmbmap's fds");
}

Test(io_cache, no_fd_above_the_floor_means_none_at_all) {
  // With RLIMIT_NOFILE below the floor, a low fd the program may close
  // and reuse must not be kept: no device, no ring (the fill reads through
  // the file instead).
  io_cache::release_fds_in(0, ~0u);
  rlimit low{64, 64};
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
  int before = 0;
  for (int fd = 0; fd < 64; ++fd) before += fcntl(fd, F_GETFD) >= 0;
  cr_assert_lt(io_cache::device(g_dev), 0, "a device fd below the floor was kept");
  cr_assert_null(io_cache::ring(io_cache::RingKind::NvmeCommands), "a ring below the floor was kept");
  int after = 0;
  for (int fd = 0; fd < 64; ++fd) after += fcntl(fd, F_GETFD) >= 0;
  cr_assert_eq(after, before, "low fds leaked");
  cr_assert(!io_cache::holds_fds());
}

Test(io_cache, forked_child_gives_them_up) {
  pid_t pid = fork();
  if (pid == 0) {
    io_cache::after_fork_child();
    _exit(own_fds() == 0 && !io_cache::holds_fds() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child kept the parent's ring or device fd");
  cr_assert_geq(own_fds(), 2, "the parent lost its fds");
}
