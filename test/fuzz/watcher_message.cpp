// Watcher messages (common/watcher_message.h): the value a `cmbmap reclaim`
// request (or any process allowed to signal the watcher) queues, and what the
// library makes of it. Oracle:
//  - a request for bytes on a controller slot, from `cmbmap reclaim` or from
//    another process's mapping (the peer mark), decodes to that slot, that
//    mark and at least those bytes (less than a page more), or to everything;
//    it is never one of the library's own values (writeback, wake, stop);
//  - any value at all decodes to a slot from -1 (any) to 126 and to at least
//    the pages it carries, in bytes: a product that does not fit is everything.
#include <fuzzer/FuzzedDataProvider.h>

#include "common/watcher_message.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const uint64_t kPages[] = {4096, 16384, 65536};
  const uint64_t page = in.PickValueInArray(kPages);

  const int slot = in.ConsumeIntegralInRange<int>(-1, watcher_message::kMaxSlot);
  const uint64_t bytes = in.ConsumeIntegral<uint64_t>();
  const bool peer = in.ConsumeBool();
  const uint64_t m = peer ? watcher_message::peer_request(slot, bytes, page) : watcher_message::request(slot, bytes, page);
  FUZZ_CHECK(watcher_message::from_peer(m) == peer, "the peer mark of a request (%d) came back as %d", peer,
             !peer);
  FUZZ_CHECK(m != watcher_message::kWriteback && m != watcher_message::kWake && m != watcher_message::kStop,
             "a request for %llu bytes on slot %d reads as the library's own message", (unsigned long long)bytes,
             slot);
  FUZZ_CHECK(watcher_message::slot(m) == slot, "slot %d came back as %d", slot, watcher_message::slot(m));
  const uint64_t want = watcher_message::bytes_wanted(m, page);
  FUZZ_CHECK(want == UINT64_MAX || (want >= bytes && want - bytes < page),
             "a request for %llu bytes (page %llu) asks for %llu", (unsigned long long)bytes,
             (unsigned long long)page, (unsigned long long)want);

  const uint64_t v = in.ConsumeIntegral<uint64_t>();
  const int s = watcher_message::slot(v);
  FUZZ_CHECK(s >= -1 && s <= 126, "value %llx names slot %d", (unsigned long long)v, s);
  const unsigned __int128 exact = (unsigned __int128)watcher_message::pages(v) * page;
  const uint64_t got = watcher_message::bytes_wanted(v, page);
  FUZZ_CHECK(got == UINT64_MAX || got == exact, "value %llx (page %llu) asks for %llu bytes",
             (unsigned long long)v, (unsigned long long)page, (unsigned long long)got);
  return 0;
}
