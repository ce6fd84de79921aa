// The watcher thread and its messages (shim/giveback/watcher.cpp,
// common/watcher_message.h) on the host with the fake CMB tier: another
// process's open for writing breaks the lease and the watcher gives the
// file's ranges back before the opener goes on; a `cmbmap reclaim` message
// gives back least recently used ranges; an MS_ASYNC message writes stores
// back; messages encode and decode.
#include <criterion/criterion.h>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/stats.h"
#include "common/watcher_message.h"
#include "prim/prim.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/watcher.h"
#include "shim/tier/registry.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;

namespace {

using fixture::page;

// Waits up to 10 s for done(); true if it came.
template <typename Done>
bool wait_for(Done done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    timespec ts{0, 5000000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

pid_t watcher_tid() { return (pid_t)__atomic_load_n(&stats::get()->watcher_tid, __ATOMIC_RELAXED); }

}  // namespace

TestSuite(watcher, .init = fixture::serving_setup);

Test(watcher, messages_round_trip) {
  using namespace watcher_message;
  cr_assert_eq(slot(encode(3, 1000)), 3);
  cr_assert_eq(pages(encode(3, 1000)), 1000u);
  cr_assert_eq(slot(encode(-1, kAllPages)), -1);
  cr_assert_eq(pages(encode(0, ~uint64_t{0} >> 1)), kAllPages, "a huge request saturates to everything");
  cr_assert_neq(encode(7, kAllPages), kWriteback);
  cr_assert_neq(encode(7, kAllPages), kWake);
  cr_assert(!from_peer(request(2, 8192, 4096)));
  cr_assert(from_peer(peer_request(2, 8192, 4096)));
  cr_assert_eq(slot(peer_request(2, 8192, 4096)), 2, "the peer mark leaves the slot alone");
  cr_assert_eq(pages(peer_request(2, 8192, 4096)), 2u);
  cr_assert_neq(peer_request(kMaxSlot, UINT64_MAX, 4096), kWriteback, "no peer request is the library's own");
}

Test(watcher, lease_break_gives_the_file_back) {
  fixture::File f = fixture::make_file(16 * page(), O_RDONLY);
  uint64_t served = 0;
  auto* at = static_cast<uint8_t*>(
      fixture::map_and_serve(f.fd, 16 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served));
  cr_assert_eq(served, 16 * page());
  // Another process opens the file for writing: the kernel breaks the read
  // lease and holds the open until cmbmap releases it.
  pid_t child = fork();
  if (child == 0) {
    int fd = open(f.path, O_WRONLY);
    _exit(fd >= 0 && pwrite(fd, "X", 1, 0) == 1 ? 0 : 1);
  }
  int status = 0;
  cr_assert_eq(waitpid(child, &status, 0), child);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The break is counted after the give-back and the release: wait for the count.
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->lease_breaks, __ATOMIC_RELAXED) == 1; }),
            "the watcher did not answer the break");
  cr_assert(registry::empty(), "the watcher did not give the range back");
  cr_assert(!fake_tier::is_cmb(at));
  cr_assert_eq(at[0], 'X', "the mapping does not show the other process's write");
  cr_assert_eq(__atomic_load_n(&stats::get()->lease_breaks, __ATOMIC_RELAXED), 1u);
  cr_assert_eq(lease::held(), 0u);
  fixture::remove_file(f);
}

Test(watcher, reclaim_message_gives_back_everything) {
  fixture::File a = fixture::make_file(8 * page(), O_RDONLY, 1), b = fixture::make_file(8 * page(), O_RDONLY, 2);
  uint64_t served = 0;
  void* ma = fixture::map_and_serve(a.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  void* mb = fixture::map_and_serve(b.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  cr_assert_eq(fake_tier::held(), 16 * page());
  const Options opts = fixture::default_options();
  cr_assert_gt(watcher_tid(), 0);
  cr_assert_eq(watcher_message::send(prim::pid(), watcher_tid(), opts.signal,
                                     watcher_message::encode(-1, watcher_message::kAllPages)), 0);
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->reclaim_requests, __ATOMIC_RELAXED) == 1; }), "no answer to the reclaim message");
  cr_assert(registry::empty());
  cr_assert_eq(fake_tier::held(), 0u);
  cr_assert_eq(__atomic_load_n(&stats::get()->reclaimed_bytes, __ATOMIC_RELAXED), 16 * page());
  cr_assert(fixture::holds_file(ma, 8 * page(), a.fd));
  cr_assert(fixture::holds_file(mb, 8 * page(), b.fd));
  fixture::remove_file(a);
  fixture::remove_file(b);
}

Test(watcher, reclaim_of_some_pages_takes_the_oldest_first) {
  fixture::File a = fixture::make_file(8 * page(), O_RDONLY, 1), b = fixture::make_file(8 * page(), O_RDONLY, 2);
  uint64_t served = 0;
  void* ma = fixture::map_and_serve(a.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  void* mb = fixture::map_and_serve(b.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  registry::touch((uintptr_t)ma, 8 * page());  // a is now the more recently used
  const Options opts = fixture::default_options();
  cr_assert_eq(watcher_message::send(prim::pid(), watcher_tid(), opts.signal, watcher_message::encode(-1, 1)), 0);
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->reclaim_requests, __ATOMIC_RELAXED) == 1; }));
  cr_assert(fake_tier::is_cmb(ma), "the more recently used range was given back");
  cr_assert(!fake_tier::is_cmb(mb));
  revoke::range(ma, 8 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(a);
  fixture::remove_file(b);
}

// Another process's mapping found the CMB full (share.h): only ranges
// unused for this process's grace time go, least recently used first, and
// are counted as given to that process.
Test(watcher, peer_request_takes_only_ranges_unused_for_the_grace_time) {
  fixture::File a = fixture::make_file(8 * page(), O_RDONLY, 1), b = fixture::make_file(8 * page(), O_RDONLY, 2);
  uint64_t served = 0;
  void* ma = fixture::map_and_serve(a.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  void* mb = fixture::map_and_serve(b.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  const Options opts = fixture::default_options();
  reclaim::set_share(true, 60 * 1000);
  cr_assert_eq(watcher_message::send(prim::pid(), watcher_tid(), opts.signal,
                                     watcher_message::peer_request(-1, 16 * page(), page())), 0);
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->share_answers, __ATOMIC_ACQUIRE) == 1; }));
  cr_assert(fake_tier::is_cmb(ma) && fake_tier::is_cmb(mb), "a range used within the grace time was taken");
  cr_assert_eq(__atomic_load_n(&stats::get()->share_given_bytes, __ATOMIC_ACQUIRE), 0u);
  reclaim::set_share(true, 0);
  cr_assert_eq(watcher_message::send(prim::pid(), watcher_tid(), opts.signal,
                                     watcher_message::peer_request(-1, page(), page())), 0);
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->share_answers, __ATOMIC_ACQUIRE) == 2; }));
  reclaim::set_share(true, 1000);
  cr_assert(!fake_tier::is_cmb(ma), "the least recently used range was not given");
  cr_assert(fake_tier::is_cmb(mb), "more than asked was given");
  cr_assert(fixture::holds_file(ma, 8 * page(), a.fd));
  cr_assert_eq(__atomic_load_n(&stats::get()->share_given_bytes, __ATOMIC_ACQUIRE), 8 * page());
  cr_assert_eq(__atomic_load_n(&stats::get()->revoked_by_reason[CMBMAP_TAKEN_BY_PEER], __ATOMIC_ACQUIRE), 8 * page());
  cr_assert_eq(__atomic_load_n(&stats::get()->share_given_to_pid, __ATOMIC_ACQUIRE), (uint64_t)prim::pid());
  cr_assert_eq(__atomic_load_n(&stats::get()->reclaim_requests, __ATOMIC_ACQUIRE), 0u, "counted as a `cmbmap reclaim` answer, whose asker would take it for its own");
  cr_assert_eq(__atomic_load_n(&stats::get()->reclaimed_bytes, __ATOMIC_ACQUIRE), 0u);
  revoke::range(mb, 8 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(a);
  fixture::remove_file(b);
}

Test(watcher, peer_request_gives_nothing_with_sharing_off) {
  fixture::File a = fixture::make_file(8 * page(), O_RDONLY, 1);
  uint64_t served = 0;
  void* ma = fixture::map_and_serve(a.fd, 8 * page(), PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  reclaim::set_share(false, 0);
  cr_assert_eq(watcher_message::send(prim::pid(), watcher_tid(), fixture::default_options().signal,
                                     watcher_message::peer_request(-1, 8 * page(), page())), 0);
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->share_answers, __ATOMIC_ACQUIRE) == 1; }));
  reclaim::set_share(true, 1000);
  cr_assert(fake_tier::is_cmb(ma), "CMBMAP_SHARE=0 gave a range to another process");
  revoke::range(ma, 8 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(a);
}

Test(watcher, writeback_message_writes_stores_back) {
  fixture::File f = fixture::make_file(8 * page(), O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  auto* at = static_cast<uint8_t*>(fixture::map_and_serve(f.fd, 8 * page(), PROT_READ | PROT_WRITE, MAP_SHARED,
                                                          fixture::default_options(), &served));
  cr_assert_eq(served, 8 * page());
  at[2 * page()] = 0x77;
  cr_assert(watcher::request_writeback());
  cr_assert(wait_for([] { return __atomic_load_n(&stats::get()->writebacks, __ATOMIC_RELAXED) >= 1; }), "the watcher did not write back");
  uint8_t byte = 0;
  cr_assert_eq(pread(f.fd, &byte, 1, (off_t)(2 * page())), 1);
  cr_assert_eq(byte, 0x77);
  revoke::range(at, 8 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

// A message's pages times the page size, and a request's bytes rounded up to
// pages, overflowed: a queued value near 2^56 pages asked for a few bytes, a
// request for nearly 2^64 bytes for none (found by test/fuzz/watcher_message).
Test(watcher_message, sizes_near_the_limits_do_not_wrap) {
  cr_assert_eq(watcher_message::bytes_wanted(0x00ffffffffffff00ull, 4096), UINT64_MAX);
  const uint64_t m = watcher_message::request(0, UINT64_MAX, 4096);
  cr_assert_eq(watcher_message::slot(m), 0);
  cr_assert_geq(watcher_message::bytes_wanted(m, 4096), UINT64_MAX - 4095);
}

// A program built against an earlier cmbmap.h has a smaller struct
// cmbmap_stats: cmbmap_get_stats must not write past the layout those
// programs know (it wrote the whole, grown struct: fillbench, built before
// the sharing fields were added, crashed returning to address 0 after its
// stack copy overflowed). cmbmap_read_stats takes the caller's size.
Test(watcher_message, stats_copies_stay_inside_the_callers_struct) {
  struct {
    cmbmap_stats s;
    unsigned char canary[512];
  } old;
  memset(&old, 0xa5, sizeof old);
  cr_assert_eq(cmbmap_get_stats(&old.s), 0);
  const size_t known = offsetof(cmbmap_stats, share_requests);  // the layout before sharing ("CMBMST05")
  for (size_t i = known; i < sizeof old; ++i)
    cr_assert_eq(((unsigned char*)&old)[i], 0xa5, "cmbmap_get_stats wrote byte %zu, past the %zu it may", i, known);
  cr_assert_eq(old.s.pid, (uint64_t)prim::pid());
  memset(&old, 0xa5, sizeof old);
  cr_assert_eq(cmbmap_read_stats(&old.s, 100), 0);
  for (size_t i = 100; i < sizeof old; ++i) cr_assert_eq(((unsigned char*)&old)[i], 0xa5, "byte %zu written", i);
  // A caller newer than the library: what it does not have reads as zero.
  memset(&old, 0xa5, sizeof old);
  cr_assert_eq(cmbmap_read_stats(&old.s, sizeof old), 0);
  cr_assert_eq(old.s.pid, (uint64_t)prim::pid());
  for (size_t i = sizeof old.s; i < sizeof old; ++i) cr_assert_eq(((unsigned char*)&old)[i], 0, "byte %zu not zeroed", i);
  cr_assert_eq(cmbmap_read_stats(nullptr, 8), -1);
}
