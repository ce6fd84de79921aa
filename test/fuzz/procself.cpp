// /proc/self/maps and smaps lines (prim/procself.cpp). Three parts:
//  - a line as the kernel prints it (show_map_vma's format) from the input's
//    fields must parse back to exactly those fields;
//  - any text at all must parse or be refused without reading past its end;
//  - the "VmFlags:" value must give lo/dd/dc exactly when those two-letter
//    words are in it, and Coverage must count the union of mappings given in
//    address order (merged ones listed again from their start) once.
#include <cstring>
#include <fuzzer/FuzzedDataProvider.h>
#include <string>
#include <sys/sysmacros.h>
#include <vector>

#include "prim/procself.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap::procself;

namespace {

void check_kernel_line(FuzzedDataProvider& in) {
  const uintptr_t start = in.ConsumeIntegral<uintptr_t>(), end = in.ConsumeIntegral<uintptr_t>();
  const uint64_t offset = in.ConsumeIntegral<uint64_t>(), ino = in.ConsumeIntegral<uint64_t>();
  const unsigned major = in.ConsumeIntegralInRange<unsigned>(0, 4095), minor = in.ConsumeIntegralInRange<unsigned>(0, 1048575);
  const bool r = in.ConsumeBool(), w = in.ConsumeBool(), x = in.ConsumeBool(), shared = in.ConsumeBool();
  const std::string path = in.ConsumeRandomLengthString(200);
  char line[512];
  int n = snprintf(line, sizeof line, "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %llu ", (unsigned long)start,
                   (unsigned long)end, r ? 'r' : '-', w ? 'w' : '-', x ? 'x' : '-', shared ? 's' : 'p',
                   (unsigned long long)offset, major, minor, (unsigned long long)ino);
  snprintf(line + n, sizeof line - (size_t)n, "%*s%s", n < 73 ? 73 - n : 0, "", path.c_str());
  Mapping m;
  FUZZ_CHECK(parse_maps_line(line, &m), "refused '%s'", line);
  FUZZ_CHECK(m.start == start && m.end == end && m.write == w && m.shared == shared &&
                 m.dev == makedev(major, minor) && (uint64_t)m.ino == ino,
             "'%s' parsed as %lx-%lx w%d s%d dev %u:%u ino %llu", line, (unsigned long)m.start,
             (unsigned long)m.end, m.write, m.shared, major(m.dev), minor(m.dev), (unsigned long long)m.ino);
}

void check_vm_flags(std::string value) {
  value = value.substr(0, value.find('\0'));
  unsigned want = 0;
  // Words are separated by single spaces after "VmFlags:"; each is two letters.
  for (size_t i = 0; i + 3 <= value.size(); ++i) {
    if (value[i] != ' ' || (i + 3 < value.size() && value[i + 3] != ' ' && value[i + 3] != '\n')) continue;
    const std::string w = value.substr(i + 1, 2);
    want |= w == "lo" ? kLocked : w == "dd" ? kDontDump : w == "dc" ? kDontFork : 0;
  }
  const unsigned got = parse_vm_flags(value.c_str());
  FUZZ_CHECK(got == want, "VmFlags:'%s' gave %u, expected %u", value.c_str(), got, want);
}

void check_coverage(FuzzedDataProvider& in) {
  const unsigned lo = in.ConsumeIntegralInRange<unsigned>(0, 200), hi = lo + in.ConsumeIntegralInRange<unsigned>(1, 200);
  Coverage c(lo, hi);
  std::vector<bool> covered(hi, false);
  unsigned at = 0;
  for (int k = in.ConsumeIntegralInRange<int>(0, 12); k > 0; --k) {
    at += in.ConsumeIntegralInRange<unsigned>(0, 40);  // starts never go down
    const unsigned end = at + in.ConsumeIntegralInRange<unsigned>(1, 80);
    c.add(at, end);
    for (unsigned b = at; b < end && b < hi; ++b) covered[b] = true;
  }
  bool whole = true;
  for (unsigned b = lo; b < hi; ++b) whole = whole && covered[b];
  FUZZ_CHECK(c.whole() == whole, "Coverage of [%u, %u) says whole=%d", lo, hi, c.whole());
}

}  // namespace

// The input's last byte picks the part (FuzzedDataProvider takes numbers from
// the end), so a seed is a line of text followed by 1 (maps) or 2 (VmFlags).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: check_kernel_line(in); break;
    case 1: {
      // Any text, in a buffer of exactly its size.
      std::string s = in.ConsumeRemainingBytesAsString();
      std::vector<char> line(s.begin(), s.end());
      line.push_back('\0');
      Mapping m;
      parse_maps_line(line.data(), &m);
      break;
    }
    case 2: check_vm_flags(in.ConsumeRandomLengthString(120)); break;
    default: check_coverage(in); break;
  }
  return 0;
}
