// The sysfs and option text helpers (prim/text.cpp) against a plain second
// implementation: parse_u64 and parse_size must accept exactly the texts it
// accepts, with the same value; copy, join and append_u64 must never write
// past the capacity they are given and must hold what snprintf would.
#include <cstring>
#include <fuzzer/FuzzedDataProvider.h>
#include <string>
#include <vector>

#include "prim/text.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// [ws] (0x|0X|x)?digits, greedy; false on no digit or overflow.
bool ref_number(const std::string& s, size_t* i, uint64_t* v) {
  unsigned base = 10;
  if (s.compare(*i, 2, "0x") == 0 || s.compare(*i, 2, "0X") == 0) { base = 16; *i += 2; }
  else if (*i < s.size() && s[*i] == 'x') { base = 16; *i += 1; }
  size_t start = *i;
  unsigned __int128 acc = 0;
  for (; *i < s.size() && (unsigned)digit_value(s[*i]) < base; ++*i) {
    acc = acc * base + (unsigned)digit_value(s[*i]);
    if (acc > UINT64_MAX) return false;
  }
  *v = (uint64_t)acc;
  return *i > start;
}

bool ref_u64(const std::string& s, uint64_t* v) {
  size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  if (!ref_number(s, &i, v)) return false;
  while (i < s.size() && space(s[i])) ++i;
  return i == s.size();
}

bool ref_size(const std::string& s, uint64_t* v) {
  size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  uint64_t n;
  if (!ref_number(s, &i, &n)) return false;
  static const std::string kUnits = "kmgt";
  unsigned shift = 0;
  if (i < s.size() && kUnits.find((char)tolower(s[i])) != std::string::npos) {
    shift = 10 * (unsigned)(kUnits.find((char)tolower(s[i])) + 1);
    ++i;
    if (i < s.size() && s[i] == 'i') ++i;
  }
  if (i < s.size() && (s[i] == 'B' || s[i] == 'b')) ++i;
  while (i < s.size() && space(s[i])) ++i;
  if (i != s.size()) return false;
  if (shift && n > (UINT64_MAX >> shift)) return false;
  *v = n << shift;
  return true;
}

// A buffer of exactly cap bytes on the heap: ASan sees one byte too far.
struct Exact {
  std::vector<char> b;
  explicit Exact(size_t cap) : b(cap ? cap : 1, '#') {}
  char* p() { return b.data(); }
};

void check_parsers(const std::string& s) {
  uint64_t got = 0, want = 0;
  const bool ok = text::parse_u64(s.c_str(), &got), ref = ref_u64(s, &want);
  FUZZ_CHECK(ok == ref && (!ok || got == want), "parse_u64('%s'): %d %llu, expected %d %llu", s.c_str(), ok,
             (unsigned long long)got, ref, (unsigned long long)want);
  const bool sok = text::parse_size(s.c_str(), &got), sref = ref_size(s, &want);
  FUZZ_CHECK(sok == sref && (!sok || got == want), "parse_size('%s'): %d %llu, expected %d %llu", s.c_str(), sok,
             (unsigned long long)got, sref, (unsigned long long)want);
}

void check_buffers(FuzzedDataProvider& in, const std::string& a, const std::string& b) {
  const size_t cap = in.ConsumeIntegralInRange<size_t>(1, 80);
  Exact dst(cap);
  text::copy(dst.p(), cap, a.c_str());
  FUZZ_CHECK(std::string(dst.p()) == a.substr(0, cap - 1), "copy into %zu bytes", cap);

  Exact joined(cap);
  const bool fits = a.size() + 1 + b.size() + 1 <= cap;
  FUZZ_CHECK(text::join(joined.p(), cap, a.c_str(), b.c_str()) == fits, "join into %zu bytes", cap);
  if (fits) FUZZ_CHECK(std::string(joined.p()) == a + "/" + b, "join of '%s' and '%s'", a.c_str(), b.c_str());

  const uint64_t v = in.ConsumeIntegral<uint64_t>();
  Exact num(cap);
  text::copy(num.p(), cap, a.c_str());
  text::append_u64(num.p(), cap, v);
  const std::string whole = a.substr(0, cap - 1) + std::to_string(v);
  FUZZ_CHECK(std::string(num.p()) == whole.substr(0, cap - 1), "append_u64(%llu) into %zu bytes",
             (unsigned long long)v, cap);

  const std::string base = text::basename(a.c_str());
  FUZZ_CHECK(a.size() >= base.size() && a.compare(a.size() - base.size(), base.size(), base) == 0,
             "basename('%s') = '%s' is not its end", a.c_str(), base.c_str());
  FUZZ_CHECK(text::equal(a.c_str(), b.c_str()) == (a == b), "equal('%s', '%s')", a.c_str(), b.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Texts hold no NUL (they come from sysfs files and the environment).
  auto text_of = [&](size_t max) {
    std::string s = in.ConsumeRandomLengthString(max);
    return s.substr(0, s.find('\0'));
  };
  const std::string a = text_of(64), b = text_of(64);
  check_parsers(a);
  check_buffers(in, a, b);
  return 0;
}
