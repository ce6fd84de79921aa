// An array in its own anonymous mapping that grows by doubling with mremap:
// storage that needs no heap (cmbmap may be running inside malloc's own
// mmap) and has no fixed limit. Growth may move it, so its owner guards it
// with one lock that readers hold too; nothing keeps a pointer into it past
// that lock. Elements are trivially copyable; new ones start zeroed.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "prim/prim.h"

namespace cmbmap::prim {

template <typename T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  size_t capacity() const { return bytes_ / sizeof(T); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

  // Room for at least n elements; false (unchanged) if the kernel refuses.
  bool reserve(size_t n) {
    if (n <= capacity()) return true;
    size_t want = page_round_up(n * sizeof(T));
    if (want < 2 * bytes_) want = 2 * bytes_;
    void* p = data_ ? remap(data_, bytes_, want, MREMAP_MAYMOVE)
                    : map(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<T*>(p);
    bytes_ = want;
    return true;
  }

  // Shifts [i, count) up one place and puts v at i; needs count < capacity().
  // A memmove of what follows: O(count) bytes moved, microseconds for tens
  // of thousands of small elements, and only when the set changes.
  void insert(size_t i, size_t count, const T& v) {
    memmove(data_ + i + 1, data_ + i, (count - i) * sizeof(T));
    data_[i] = v;
  }
  // Shifts [i+1, count) down one place over i.
  void erase(size_t i, size_t count) { memmove(data_ + i, data_ + i + 1, (count - i - 1) * sizeof(T)); }

 private:
  T* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace cmbmap::prim
