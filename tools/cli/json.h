// A small JSON writer for the CLI's --json output: keys in the order written,
// strings escaped, integers exact. Not used by the library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbmap::cli {

class Json {
 public:
  Json& begin_object(const char* key = nullptr);
  Json& end_object();
  Json& begin_array(const char* key = nullptr);
  Json& end_array();
  Json& str(const char* key, const std::string& v);
  Json& num(const char* key, uint64_t v);
  Json& boolean(const char* key, bool v);
  Json& null(const char* key);
  Json& str_item(const std::string& v);
  const std::string& text() const { return out_; }

 private:
  void prefix(const char* key);
  std::string out_;
  std::vector<bool> first_;  // per open container: no comma needed yet
};

std::string json_escape(const std::string& s);

}  // namespace cmbmap::cli
