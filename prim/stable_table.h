// A table of entries that never move and has no fixed size: chunks of
// kChunk entries, each its own anonymous mapping made when the ones before
// are full (no heap: cmbmap may be running inside malloc's own mmap). An
// entry's address stays valid for as long as the process lives, so a
// thread may keep a pointer to one outside the lock that guards the table
// (a writeback writing without the served-ranges lock), and a signal
// handler may read it. The owner's lock guards every change; an all-zero
// entry is a free one (a new chunk starts zeroed).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <type_traits>

#include "prim/prim.h"

namespace cmbmap::prim {

template <typename T, size_t kChunk, size_t kChunks>
class StableTable {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // Entries in the chunks made so far (free ones included).
  size_t size() const { return __atomic_load_n(&size_, __ATOMIC_ACQUIRE); }
  T& operator[](size_t i) { return chunks_[i / kChunk][i % kChunk]; }

  // The index of entry e (one of this table's).
  size_t index_of(const T* e) const {
    for (size_t c = 0; c < kChunks && chunks_[c]; ++c)
      if (e >= chunks_[c] && e < chunks_[c] + kChunk) return c * kChunk + (size_t)(e - chunks_[c]);
    return size();
  }

  // The first entry match(entry) accepts, or null.
  template <typename Match>
  T* find(Match match) {
    const size_t n = size();
    for (size_t i = 0; i < n; ++i)
      if (match((*this)[i])) return &(*this)[i];
    return nullptr;
  }

  // The first entry is_free(entry) accepts, making a new chunk if none is;
  // null if the kernel refuses the mapping or kChunks are all made.
  template <typename IsFree>
  T* free_entry(IsFree is_free) {
    if (T* e = find(is_free)) return e;
    const size_t n = size();
    if (n / kChunk == kChunks) return nullptr;
    void* chunk = map(nullptr, kChunk * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (chunk == MAP_FAILED) return nullptr;
    chunks_[n / kChunk] = static_cast<T*>(chunk);
    __atomic_store_n(&size_, n + kChunk, __ATOMIC_RELEASE);  // after the chunk's address
    return &(*this)[n];
  }

 private:
  T* chunks_[kChunks] = {};
  size_t size_ = 0;
};

}  // namespace cmbmap::prim
