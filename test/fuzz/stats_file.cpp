// A statistics file as `cmbmap stat` reads it (tools/cli/stats_view.cpp):
// any process can write its own block under /run/cmbmap/, so every byte of it
// may be crafted. Oracle: the JSON object is valid JSON in valid UTF-8 (a
// strict parser takes it), and the table row is one line of printable text
// (no newline, escape or other control byte but its closing newline).
#include <cstring>
#include <string>

#include "test/fuzz/oracle.h"
#include "tools/cli/stats_view.h"

using namespace cmbmap;
using namespace cmbmap::cli;

namespace {

// A strict JSON checker: the grammar of RFC 8259 over valid UTF-8.
struct Checker {
  const std::string& t;
  size_t i = 0;

  void ws() { while (i < t.size() && strchr(" \t\n\r", t[i]) && t[i]) ++i; }
  bool lit(const char* w) {
    size_t n = strlen(w);
    if (t.compare(i, n, w)) return false;
    i += n;
    return true;
  }
  bool utf8() {  // one character at i, advancing
    const unsigned char c = (unsigned char)t[i];
    int more = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (more < 0 || (c >= 0xc0 && c < 0xc2) || c > 0xf4) return false;
    uint32_t cp = more == 0 ? c : c & (0x3f >> more);
    for (int k = 1; k <= more; ++k) {
      if (i + k >= t.size() || ((unsigned char)t[i + k] >> 6) != 2) return false;
      cp = cp << 6 | ((unsigned char)t[i + k] & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += 1 + more;
    return true;
  }
  bool string() {
    if (!lit("\"")) return false;
    while (i < t.size() && t[i] != '"') {
      if ((unsigned char)t[i] < 0x20) return false;
      if (t[i] == '\\') {
        ++i;
        if (i >= t.size()) return false;
        if (t[i] == 'u') {
          for (int k = 1; k <= 4; ++k) if (i + k >= t.size() || !isxdigit((unsigned char)t[i + k])) return false;
          i += 5;
        } else if (strchr("\"\\/bfnrt", t[i]) && t[i]) {
          ++i;
        } else {
          return false;
        }
      } else if (!utf8()) {
        return false;
      }
    }
    return lit("\"");
  }
  bool number() {
    size_t s = i;
    if (i < t.size() && t[i] == '-') ++i;
    while (i < t.size() && isdigit((unsigned char)t[i])) ++i;
    return i > s && (t[s] != '0' || i == s + 1);
  }
  bool value(int depth) {
    ws();
    if (depth > 32 || i >= t.size()) return false;
    bool ok;
    if (t[i] == '{' || t[i] == '[') {
      const char close = t[i] == '{' ? '}' : ']';
      const bool object = close == '}';
      ++i;
      ws();
      if (i < t.size() && t[i] == close) { ++i; return true; }
      for (;;) {
        ws();
        if (object && !(string() && (ws(), lit(":")))) return false;
        if (!value(depth + 1)) return false;
        ws();
        if (lit(",")) continue;
        return lit(std::string(1, close).c_str());
      }
    }
    if (t[i] == '"') ok = string();
    else if (t[i] == '-' || isdigit((unsigned char)t[i])) ok = number();
    else ok = lit("true") || lit("false") || lit("null");
    return ok;
  }
  bool document() { bool ok = value(0); ws(); return ok && i == t.size(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbmap_stats s{};
  memcpy(&s, data, size < sizeof s ? size : sizeof s);
  s.magic = CMBMAP_STATS_MAGIC;  // what reread() requires of a block

  Json j;
  j.begin_object().begin_array("processes");
  stats_json(s, j);
  j.end_array().end_object();
  const std::string json = j.text();
  Checker c{json};
  FUZZ_CHECK(c.document(), "not valid JSON near byte %zu of %zu: ...%s", c.i, json.size(),
             json.substr(c.i > 40 ? c.i - 40 : 0, 80).c_str());

  const std::string row = stats_row(s);
  FUZZ_CHECK(!row.empty() && row.back() == '\n', "the row does not end its line");
  for (size_t k = 0; k + 1 < row.size(); ++k)
    FUZZ_CHECK((unsigned char)row[k] >= 0x20 && row[k] != 0x7f, "control byte 0x%02x at %zu of the row: %s",
               (unsigned char)row[k], k, row.c_str());
  return 0;
}
