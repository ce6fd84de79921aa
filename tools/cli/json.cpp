// JSON writer (see json.h).
#include "tools/cli/json.h"

#include <cstdio>

namespace cmbmap::cli {

namespace {

// Length of the well-formed UTF-8 character at s[i] (1 to 4), or 0.
size_t utf8_length(const std::string& s, size_t i) {
  const unsigned char c = (unsigned char)s[i];
  const size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n <= 1 || i + n > s.size()) return n == 1 ? 1 : 0;
  for (size_t k = 1; k < n; ++k)
    if (((unsigned char)s[i + k] & 0xc0) != 0x80) return 0;
  const unsigned char d = (unsigned char)s[i + 1];
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
  if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d > 0x8f))
    return 0;
  return n;
}

}  // namespace

// Text from files and other processes (paths, names in a statistics block) is
// not always UTF-8, which JSON must be: a byte that starts no well-formed
// character becomes U+FFFD.
std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      const size_t n = utf8_length(s, i);
      if (n) { o.append(s, i, n); i += n - 1; }
      else o += "\\ufffd";
      continue;
    }
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += (char)c;
        }
    }
  }
  return o + "\"";
}

void Json::prefix(const char* key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ",";
    first_.back() = false;
  }
  if (key) out_ += json_escape(key) + ":";
}

Json& Json::begin_object(const char* key) { prefix(key); out_ += "{"; first_.push_back(true); return *this; }
Json& Json::end_object() { out_ += "}"; first_.pop_back(); return *this; }
Json& Json::begin_array(const char* key) { prefix(key); out_ += "["; first_.push_back(true); return *this; }
Json& Json::end_array() { out_ += "]"; first_.pop_back(); return *this; }
Json& Json::str(const char* key, const std::string& v) { prefix(key); out_ += json_escape(v); return *this; }
Json& Json::num(const char* key, uint64_t v) { prefix(key); out_ += std::to_string(v); return *this; }
Json& Json::boolean(const char* key, bool v) { prefix(key); out_ += v ? "true" : "false"; return *this; }
Json& Json::null(const char* key) { prefix(key); out_ += "null"; return *this; }
Json& Json::str_item(const std::string& v) { prefix(nullptr); out_ += json_escape(v); return *this; }

}  // namespace cmbmap::cli
