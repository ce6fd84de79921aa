// JSON writer (see json.h).
#include "tools/cli/json.h"

#include <cstdio>

namespace cmbmap::cli {

std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
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
