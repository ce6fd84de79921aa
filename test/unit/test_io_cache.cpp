// The tier's cached rings and device fds (shim/tier/io_cache.cpp): they live
// above the program's fds, never reach an exec'd program, and a forked
// child gives them up at once (a device fd is raw access to a whole
// namespace; a child that drops privileges must not keep it).
#include <criterion/criterion.h>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <pthread.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/tier/io_cache.h"

using namespace cmbmap;

namespace {

// Open fds at or above cmbmap's floor in this process.
int own_fds() {
  int n = 0;
  for (int fd = prim::own_fd_floor(); fd < prim::own_fd_floor() + 64; ++fd) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

char g_dev[64];

void setup() {
  // A stand-in for /dev/ngXnY: any file the cache can open read-write.
  snprintf(g_dev, sizeof g_dev, "/var/tmp/cmbmap-dev-XXXXXX");
  int fd = mkstemp(g_dev);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_geq(io_cache::device(g_dev), prim::own_fd_floor(), "the device fd is not above the floor");
  if (!io_cache::ring(io_cache::RingKind::Plain)) cr_skip_test("io_uring is not available here");
}
void teardown() { unlink(g_dev); }

}  // namespace

TestSuite(io_cache, .init = setup, .fini = teardown);

Test(io_cache, all_close_on_exec) {
  cr_assert_geq(own_fds(), 2);
  for (int fd = prim::own_fd_floor(); fd < prim::own_fd_floor() + 64; ++fd)
    if (fcntl(fd, F_GETFD) >= 0) cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d is inherited by exec", fd);
  // An exec'd program sees none of them.
  pid_t pid = fork();
  if (pid == 0) {
    char script[160];
    snprintf(script, sizeof script, "for f in /proc/self/fd/*; do n=${f##*/}; [ \"$n\" -ge %d ] && exit 1; done; exit 0",
             prim::own_fd_floor());
    execl("/bin/sh", "sh", "-c", script, (char*)nullptr);
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

// A writeback's NVMe writes hold the rings (Use) for as long as the drive
// takes; every close the program makes asks whether the fd is one of these.
// That question must not wait for them. (Found in review: close() waited
// behind the writes, holding the served-ranges lock.)
namespace {
int g_held, g_let_go;
void* hold_the_rings(void*) {
  io_cache::Use use;
  __atomic_store_n(&g_held, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&g_let_go, __ATOMIC_ACQUIRE)) usleep(1000);
  return nullptr;
}
int g_closed;
void* close_a_program_fd(void* arg) {
  const int fd = *static_cast<int*>(arg);
  core::fd_replaced(fd);  // the close hook, before the real close
  close(fd);
  __atomic_store_n(&g_closed, 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(io_cache, a_program_close_does_not_wait_for_the_rings) {
  // The hooks act for the process that started cmbmap (not a vfork child):
  // start it, inactive, so it knows which one that is.
  setenv("CMBMAP_DISABLE", "1", 1);
  core::init();
  int fd = open("/dev/null", O_RDONLY);
  cr_assert_geq(fd, 0);
  pthread_t holder, closer;
  pthread_create(&holder, nullptr, hold_the_rings, nullptr);
  while (!__atomic_load_n(&g_held, __ATOMIC_ACQUIRE)) sched_yield();
  pthread_create(&closer, nullptr, close_a_program_fd, &fd);
  // Not a timing: the rings stay held until the close is done or 10 s pass.
  for (int i = 0; i < 10000 && !__atomic_load_n(&g_closed, __ATOMIC_ACQUIRE); ++i) usleep(1000);
  const bool closed_while_held = __atomic_load_n(&g_closed, __ATOMIC_ACQUIRE);
  __atomic_store_n(&g_let_go, 1, __ATOMIC_RELEASE);
  pthread_join(closer, nullptr);
  pthread_join(holder, nullptr);
  cr_assert(closed_while_held, "close() of the program's fd waited for the rings held by an NVMe write");
  // Its own fds are still recognised, without Use too.
  int ours = -1;
  for (int f = prim::own_fd_floor(); f < prim::own_fd_floor() + 64 && ours < 0; ++f)
    if (fcntl(f, F_GETFD) >= 0) ours = f;
  cr_assert(io_cache::uses_fd(ours), "fd %d, the cache's own, is not recognised", ours);
  cr_assert(!io_cache::uses_fd(1));
}

// Between the close hook and the program's close_range itself, a fill or a
// writeback in another thread may reopen a ring or a device fd: none may
// land in the range being closed (it would be closed under cmbmap's feet and
// the number reused by the program's next open).
Test(io_cache, no_new_fd_in_a_range_the_program_is_closing) {
  setenv("CMBMAP_DISABLE", "1", 1);
  core::init();
  const int others = own_fds() - 2;  // the test runner's; setup made a ring and a device fd
  cr_assert(core::fds_closing((unsigned)prim::own_fd_floor(), ~0u));
  cr_assert(!io_cache::uses_fd(-1));
  // The hook gave up what was there; another thread asks again.
  cr_assert_null(io_cache::ring(io_cache::RingKind::Plain), "a ring was made in the range being closed");
  cr_assert_lt(io_cache::device(g_dev), 0, "a device fd was opened in the range being closed");
  cr_assert_eq(own_fds(), others, "the ring and device fd were not given up, or new ones were made");
  core::fds_closed();
  cr_assert_not_null(io_cache::ring(io_cache::RingKind::Plain));
  cr_assert_geq(io_cache::device(g_dev), prim::own_fd_floor());
  cr_assert_eq(own_fds(), others + 2);
}
