// The log (common/log.cpp) never writes into one of the program's files: it
// takes its own fd at start-up (stderr's open file, or CMBMAP_LOG's file),
// above the floor and close-on-exec, so a daemon that closes stderr and
// opens a data file that gets fd 2 finds no cmbmap line in it; with no
// stderr at start-up there is no log (unless CMBMAP_LOG names a file).
#include <criterion/criterion.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/options.h"
#include "prim/prim.h"

using namespace cmbmap;

namespace {

Options warn_to_stderr() {
  Options o{};
  o.log_level = LogLevel::Warn;
  return o;
}

off_t size_of(int fd) {
  struct stat st;
  fstat(fd, &st);
  return st.st_size;
}

// Runs fn in a child (the log's state is per process); true if it exited 0.
template <typename Fn>
bool in_child(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

Test(log, stderr_replaced_by_a_data_file_gets_no_line) {
  int pipefd[2];
  cr_assert_eq(pipe(pipefd), 0);
  char data[] = "/var/tmp/cmbmap-logdata-XXXXXX";
  close(mkstemp(data));
  const bool ok = in_child([&] {
    dup2(pipefd[1], 2);  // stderr at start-up: the pipe
    log::init(warn_to_stderr());
    if (log::fd() < prim::own_fd_floor() || !(fcntl(log::fd(), F_GETFD) & FD_CLOEXEC)) return false;
    close(2);
    int d = open(data, O_WRONLY);  // the daemon's data file takes fd 2
    if (d != 2) return false;
    log::Line(LogLevel::Warn).s("a warning").emit();
    return size_of(2) == 0;
  });
  cr_assert(ok, "cmbmap's log line went into the program's data file (or its fd was not its own)");
  close(pipefd[1]);
  char buf[256] = {};
  cr_assert_gt(read(pipefd[0], buf, sizeof buf - 1), 0, "the line did not reach stderr's open file");
  cr_assert(strstr(buf, "a warning"));
  unlink(data);
}

Test(log, no_stderr_at_start_up_no_log) {
  const bool ok = in_child([] {
    close(2);
    log::init(warn_to_stderr());
    return !log::enabled(LogLevel::Error);
  });
  cr_assert(ok, "a log without stderr at start-up");
}
