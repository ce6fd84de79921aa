// Several threads at once on the served path with the fake CMB tier
// (test/unit/fake/): each maps its own file and serves it, reads it,
// mprotects and madvises pieces of it, unmaps it; one thread gives ranges
// back (revocation, reclaim) and one forks, its child checking a served
// mapping it inherited. Every read must see the file's bytes. Built and run
// by `make check-stress`, under ThreadSanitizer and ASan+UBSan by
// `make check-sanitize`; STRESS_SECONDS (default 3) sets how long.
//
// The threads map without the served-ranges lock, as the mmap hook does: a
// give-back or munmap that left the range unmapped for an instant (the CMB
// pages moved out before the file's moved in) handed that hole to another
// thread's mmap, whose mapping was then replaced (scrub.h, prim::move_over).
#include <criterion/criterion.h>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/served_lock.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;
using fixture::page;

namespace {

constexpr unsigned kWorkers = 3;
constexpr size_t kPages = 16;

std::atomic<bool> g_stop;
// A file mapping made and served as the mmap hook makes it: the kernel's
// mapping first, not serialized with the other threads' give-backs.
uint8_t* map_served(const fixture::File& f, const Options& opts) {
  uint64_t served = 0;
  return static_cast<uint8_t*>(fixture::map_and_serve(f.fd, kPages * page(), PROT_READ, MAP_SHARED, opts, &served));
}
std::atomic<unsigned> g_wrong, g_rounds, g_forks, g_given_back;

void check(const void* at, size_t len, int fd, uint64_t off, const char* when) {
  if (!fixture::holds_file(at, len, fd, off)) {
    fprintf(stderr, "stress: wrong bytes at file offset %llu after %s\n", (unsigned long long)off, when);
    g_wrong.fetch_add(1);
  }
}

// Maps, reads, changes and unmaps its own file until told to stop.
void* worker(void* arg) {
  const unsigned seed = (unsigned)(uintptr_t)arg;
  fixture::File f = fixture::make_file(kPages * page(), O_RDONLY, seed);
  const Options opts = fixture::default_options();
  unsigned r = seed;
  while (!g_stop.load()) {
    uint8_t* at = map_served(f, opts);
    check(at, kPages * page(), f.fd, 0, "serve");
    const size_t k = rand_r(&r) % kPages, n = 1 + rand_r(&r) % (kPages - k);
    bool holed = false;
    switch (rand_r(&r) % 3) {
      case 0:  // hidden and shown again: the kernel's protection, the same bytes
        if (core::protect(at + k * page(), n * page(), PROT_NONE) == 0)
          core::protect(at + k * page(), n * page(), PROT_READ);
        check(at, kPages * page(), f.fd, 0, "mprotect");
        break;
      case 1:  // dropped: read again from the file
        core::advise(at + k * page(), n * page(), MADV_DONTNEED);
        check(at, kPages * page(), f.fd, 0, "madvise");
        break;
      default:  // a hole in the middle, the rest still mapped
        core::unmap(at + k * page(), n * page());
        if (k) check(at, k * page(), f.fd, 0, "munmap");
        holed = true;
        break;
    }
    // What is left; never the hole, where another thread may have mapped since.
    if (!holed) {
      core::unmap(at, kPages * page());
    } else {
      if (k) core::unmap(at, k * page());
      if (k + n < kPages) core::unmap(at + (k + n) * page(), (kPages - k - n) * page());
    }
    g_rounds.fetch_add(1);
  }
  fixture::remove_file(f);
  return nullptr;
}

// Gives served ranges back while the workers use them.
void* revoker(void*) {
  unsigned r = 7;
  while (!g_stop.load()) {
    size_t n = rand_r(&r) % 2 ? revoke::all(CMBMAP_RECLAIMED) : reclaim::evict(-1, 4 * page(), 0, 0, CMBMAP_RECLAIMED);
    g_given_back.fetch_add(n ? 1 : 0);
    usleep(200);
  }
  return nullptr;
}

// The forked child's check, without allocating: another thread may have
// held the allocator's lock (the sanitizers' too) at the fork, and the child
// of a threaded process may only make async-signal-safe calls.
int child_holds_file(const uint8_t* at, int fd) {
  static uint8_t want[kPages * 65536];
  const size_t len = kPages * page();
  if (len > sizeof want || pread(fd, want, len, 0) != (ssize_t)len) return 2;
  for (size_t i = 0; i < len; ++i)
    if (at[i] != want[i]) return 1;
  return 0;
}

// Forks while the others serve and give back; the child gives back what it
// inherited (the fork handlers) and must still read the file's bytes.
void* forker(void*) {
  fixture::File f = fixture::make_file(kPages * page(), O_RDONLY, 99);
  const Options opts = fixture::default_options();
  while (!g_stop.load()) {
    uint8_t* at = map_served(f, opts);
    const pid_t pid = fork();
    if (pid == 0) _exit(child_holds_file(at, f.fd));
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "stress: a forked child read wrong bytes (status %d)\n", status);
      g_wrong.fetch_add(1);
    }
    check(at, kPages * page(), f.fd, 0, "fork");
    core::unmap(at, kPages * page());
    g_forks.fetch_add(1);
  }
  fixture::remove_file(f);
  return nullptr;
}

}  // namespace

Test(stress, threads_map_protect_advise_unmap_revoke_and_fork, .init = fixture::serving_setup, .timeout = 120) {
  core::init();  // the fork handlers, as the library's constructor installs them
  const char* env = getenv("STRESS_SECONDS");
  const int seconds = env ? atoi(env) : 3;
  pthread_t t[kWorkers + 2];
  for (unsigned i = 0; i < kWorkers; ++i) pthread_create(&t[i], nullptr, worker, (void*)(uintptr_t)(i + 1));
  pthread_create(&t[kWorkers], nullptr, revoker, nullptr);
  pthread_create(&t[kWorkers + 1], nullptr, forker, nullptr);
  sleep((unsigned)seconds);
  g_stop.store(true);
  for (pthread_t& th : t) pthread_join(th, nullptr);
  fprintf(stderr, "stress: %u rounds, %u forks, %u give-backs in %d s\n", g_rounds.load(), g_forks.load(),
          g_given_back.load(), seconds);
  cr_assert_eq(g_wrong.load(), 0u, "%u reads saw bytes the file does not hold", g_wrong.load());
  cr_assert_gt(g_rounds.load(), 0u);
  cr_assert_gt(g_forks.load(), 0u);
  cr_assert_eq(fake_tier::held(), 0u, "fake CMB still mapped after every mapping was unmapped");
}
