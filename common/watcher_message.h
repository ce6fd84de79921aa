// Messages to a process's watcher thread (shim/giveback/watcher.h): a
// queued real-time signal (CMBMAP_SIGNAL) whose value says what is asked.
// A `cmbmap reclaim` request carries the controller's statistics slot (plus
// one; 0 means any controller) in the low 7 bits of the top byte, the pages
// wanted below it (all ones: everything); the top bit marks a request from
// another process's mapping that found the CMB full (only ranges unused for
// the receiver's grace time go). Three values name the library's own requests.
// Shared by the library and the CLI.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace cmbmap::watcher_message {

constexpr uint64_t kAllPages = (uint64_t{1} << 56) - 1;

constexpr uint64_t kFromPeer = uint64_t{1} << 63;
// Slots a request can name: with the top bit, the top byte stays below 0xff,
// which the library's own values use.
constexpr int kMaxSlot = 125;

constexpr uint64_t encode(int slot, uint64_t pages) {
  return (uint64_t)((slot + 1) & 0x7f) << 56 | (pages < kAllPages ? pages : kAllPages);
}
// A reclaim request for bytes, in whole pages (rounded up without
// overflowing: the last page of nearly 2^64 bytes is still asked for).
constexpr uint64_t request(int slot, uint64_t bytes, uint64_t page_size) {
  return encode(slot, bytes / page_size + (bytes % page_size != 0));
}
// Not a reclaim: the library's own msync(MS_ASYNC) asking for a writeback
// (slot 254 names no controller).
constexpr uint64_t kWriteback = ~uint64_t{0};
// Not a reclaim either: look at the clock again (a periodic writeback became due).
constexpr uint64_t kWake = ~uint64_t{0} - 1;
// Nor this: the thread ends (the program is about to need a single thread).
constexpr uint64_t kStop = ~uint64_t{0} - 2;

// A fair-share request for bytes from a process whose mapping needs room.
constexpr uint64_t peer_request(int slot, uint64_t bytes, uint64_t page_size) {
  return request(slot, bytes, page_size) | kFromPeer;
}
constexpr bool from_peer(uint64_t v) { return (v & kFromPeer) != 0; }

constexpr int slot(uint64_t v) { return (int)((v >> 56) & 0x7f) - 1; }
constexpr uint64_t pages(uint64_t v) { return v & kAllPages; }
// The bytes a reclaim request asks for (UINT64_MAX: everything, also when
// the pages in a value queued by anyone allowed to signal do not fit in bytes).
constexpr uint64_t bytes_wanted(uint64_t v, uint64_t page_size) {
  return pages(v) == kAllPages || pages(v) > UINT64_MAX / page_size ? UINT64_MAX : pages(v) * page_size;
}

// Queues value to thread tid of process pid on signal sig, as sent by this
// process (SI_QUEUE, our pid and uid): 0 or -errno, errno untouched.
int send(pid_t pid, pid_t tid, int sig, uint64_t value);

}  // namespace cmbmap::watcher_message
