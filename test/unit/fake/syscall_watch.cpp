// Seeing and holding the library's system calls (see syscall_watch.h).
#include "test/unit/fake/syscall_watch.h"

#include <cerrno>
#include <cstdarg>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cmbmap::syscall_watch {
namespace {
long g_count_nr = -1;  // the call counted, or -1
int g_fds[256];
size_t g_counted;
long g_hold_nr = -1;   // the call to hold, or -1
int g_held;            // a thread is being held
int g_released;
long g_fail_nr = -1;   // the call to fail, or -1
int g_fail_err;
int g_fail_skip;       // calls of it to let through first
int g_fail_times;      // calls of it to fail then
}  // namespace

void count(long nr) {
  __atomic_store_n(&g_counted, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&g_count_nr, nr, __ATOMIC_RELEASE);
}

size_t counted() { return __atomic_load_n(&g_counted, __ATOMIC_ACQUIRE); }

int counted_on(size_t from, dev_t dev, ino_t ino) {
  const size_t n = counted();
  int found = 0;
  for (size_t i = from; i < n && i < sizeof g_fds / sizeof g_fds[0]; ++i) {
    struct stat st;
    if (fstat(g_fds[i], &st) == 0 && st.st_dev == dev && st.st_ino == ino) ++found;
  }
  return found;
}

void fail_next(long nr, int err, int skip, int times) {
  __atomic_store_n(&g_fail_err, err, __ATOMIC_RELEASE);
  __atomic_store_n(&g_fail_skip, skip, __ATOMIC_RELEASE);
  __atomic_store_n(&g_fail_times, times, __ATOMIC_RELEASE);
  __atomic_store_n(&g_fail_nr, nr, __ATOMIC_RELEASE);
}

void hold_next(long nr) {
  __atomic_store_n(&g_released, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&g_held, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&g_hold_nr, nr, __ATOMIC_RELEASE);
}

bool held_within_2s() {
  for (int i = 0; i < 2000 && !__atomic_load_n(&g_held, __ATOMIC_ACQUIRE); ++i) usleep(1000);
  return __atomic_load_n(&g_held, __ATOMIC_ACQUIRE);
}

void release() {
  __atomic_store_n(&g_hold_nr, -1L, __ATOMIC_RELEASE);
  __atomic_store_n(&g_released, 1, __ATOMIC_RELEASE);
}

}  // namespace cmbmap::syscall_watch

using namespace cmbmap::syscall_watch;

// Every syscall() of the test binary: counted if asked, failed or made as
// libc makes it, then held if it is the one asked for.
extern "C" long syscall(long nr, ...) {
  using Real = long (*)(long, ...);
  static Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "syscall"));
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (__atomic_load_n(&g_count_nr, __ATOMIC_ACQUIRE) == nr) {
    const size_t i = __atomic_fetch_add(&g_counted, 1, __ATOMIC_ACQ_REL);
    if (i < sizeof g_fds / sizeof g_fds[0]) g_fds[i] = (int)a[0];
  }
  long want = nr;
  if (__atomic_load_n(&g_fail_nr, __ATOMIC_ACQUIRE) == nr && __atomic_sub_fetch(&g_fail_skip, 1, __ATOMIC_ACQ_REL) < 0) {
    const int left = __atomic_sub_fetch(&g_fail_times, 1, __ATOMIC_ACQ_REL);
    if (left == 0) __atomic_compare_exchange_n(&g_fail_nr, &want, -1L, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    if (left >= 0) {
      errno = __atomic_load_n(&g_fail_err, __ATOMIC_ACQUIRE);
      return -1;
    }
  }
  const long r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  want = nr;
  if (__atomic_load_n(&g_hold_nr, __ATOMIC_ACQUIRE) == nr &&
      __atomic_compare_exchange_n(&g_hold_nr, &want, -1L, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    const int saved = errno;
    __atomic_store_n(&g_held, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g_released, __ATOMIC_ACQUIRE)) usleep(1000);
    errno = saved;
  }
  return r;
}
