// Process events: start-up (constructor), exit (destructor), the exec
// family and the spawn family (posix_spawn, posix_spawnp, system, popen:
// glibc makes their children without fork handlers and execs them with its
// internal execve). fork is handled by pthread_atfork handlers the core
// registers; vfork is deliberately not wrapped (its child may only exec or _exit).
#include <cerrno>
#include <cstdarg>
#include <sched.h>
#include <cstdio>
#include <spawn.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "prim/prim.h"
#include "shim/real.h"

using namespace cmbmap;

extern char** environ;

__attribute__((constructor)) static void cmbmap_start() { core::init(); }
__attribute__((destructor)) static void cmbmap_stop() {
  // exit() from a signal handler that interrupted cmbmap: do nothing.
  core::Scope scope;
  if (scope.on()) core::at_exit();
}

// The exits that skip the destructors: stores in CMB memory are written
// back and the ranges become file pages first, as at exit. (glibc's own
// exit and quick_exit reach _exit internally, not through these.)
CMBMAP_EXPORT void _exit(int status) {
  {
    core::Scope scope;
    if (scope.on()) core::at_exit(true);
  }
  prim::exit_process(status);
}
CMBMAP_EXPORT void _Exit(int status) { _exit(status); }
CMBMAP_EXPORT void quick_exit(int status) {
  {
    core::Scope scope;
    if (scope.on()) core::at_exit(true);
  }
  real::quick_exit(status);
}
// Each older version glibc keeps for programs linked before a change is
// interposed too (the version script names them), so such a program gets
// the behaviour it was linked for; cmbmap_compat_* stay local.
CMBMAP_COMPAT("quick_exit@GLIBC_2.10") void cmbmap_compat_quick_exit(int status) {
  {
    core::Scope scope;
    if (scope.on()) core::at_exit(true);
  }
  real::quick_exit_compat(status);
}

namespace {

// Runs one exec attempt between the core's before/after hooks, keeping the
// errno the failed exec set.
template <typename F>
int around_exec(F exec) {
  {
    core::Scope scope;
    if (scope.on()) core::before_exec();
  }
  int r = exec();
  int err = errno;
  {
    core::Scope scope;
    if (scope.on()) core::after_exec_failed();
  }
  errno = err;
  return r;
}

// execl-style varargs → argv on the stack (exec never returns on success).
#define COLLECT_ARGV(first, argv)                                   \
  size_t argc = 1;                                                  \
  {                                                                 \
    va_list ap;                                                     \
    va_start(ap, first);                                            \
    while (va_arg(ap, const char*)) ++argc;                         \
    va_end(ap);                                                     \
  }                                                                 \
  char** argv = static_cast<char**>(__builtin_alloca((argc + 1) * sizeof(char*))); \
  va_list ap;                                                       \
  va_start(ap, first);                                              \
  argv[0] = const_cast<char*>(first);                               \
  for (size_t i = 1; i <= argc; ++i) argv[i] = va_arg(ap, char*);

// A child is about to share the program's open files.
void spawning() {
  core::Scope scope;
  if (scope.on()) core::before_spawn();
}

}  // namespace

// A user namespace needs a single-threaded process: cmbmap's thread goes
// first, so the call behaves as without cmbmap.
CMBMAP_EXPORT int unshare(int flags) {
  if (flags & CLONE_NEWUSER) {
    core::Scope scope;
    if (scope.on()) core::leaving_threads();
  }
  return real::unshare(flags);
}
CMBMAP_EXPORT int setns(int fd, int nstype) {
  if (nstype == 0 || nstype == CLONE_NEWUSER) {
    core::Scope scope;
    if (scope.on()) core::leaving_threads();
  }
  return real::setns(fd, nstype);
}

CMBMAP_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                              const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  spawning();
  return real::posix_spawn(pid, path, fa, attr, argv, envp);
}
CMBMAP_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                               const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  spawning();
  return real::posix_spawnp(pid, file, fa, attr, argv, envp);
}
CMBMAP_EXPORT int system(const char* cmd) {
  spawning();
  return real::system(cmd);
}
CMBMAP_COMPAT("posix_spawn@GLIBC_2.2.5")
int cmbmap_compat_posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                              const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  spawning();
  return real::posix_spawn_compat(pid, path, fa, attr, argv, envp);
}
CMBMAP_COMPAT("posix_spawnp@GLIBC_2.2.5")
int cmbmap_compat_posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                               const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  spawning();
  return real::posix_spawnp_compat(pid, file, fa, attr, argv, envp);
}
CMBMAP_EXPORT FILE* popen(const char* cmd, const char* mode) {
  spawning();
  return real::popen(cmd, mode);
}

CMBMAP_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return around_exec([&] { return real::execve(path, argv, envp); });
}
CMBMAP_EXPORT int execv(const char* path, char* const argv[]) {
  return around_exec([&] { return real::execve(path, argv, environ); });
}
CMBMAP_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return around_exec([&] { return real::execvpe(file, argv, envp); });
}
CMBMAP_EXPORT int execvp(const char* file, char* const argv[]) {
  return around_exec([&] { return real::execvpe(file, argv, environ); });
}
CMBMAP_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  return around_exec([&] { return real::fexecve(fd, argv, envp); });
}
CMBMAP_EXPORT int execl(const char* path, const char* arg, ...) {
  COLLECT_ARGV(arg, argv);
  va_end(ap);
  return execv(path, argv);
}
CMBMAP_EXPORT int execlp(const char* file, const char* arg, ...) {
  COLLECT_ARGV(arg, argv);
  va_end(ap);
  return execvp(file, argv);
}
CMBMAP_EXPORT int execle(const char* path, const char* arg, ...) {
  COLLECT_ARGV(arg, argv);
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return execve(path, argv, envp);
}
