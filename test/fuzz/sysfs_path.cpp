// normalize_path (resolver/device.cpp), which turns the sysfs symlinks the
// resolver follows ("../../devices/pci0000:00/...") into directories, against
// a second implementation on components: "." and empty ones go, ".." drops
// the one before (never above the start). The path sits in a buffer of
// exactly its size, so a read or write past its end is an ASan report.
#include <string>
#include <vector>

#include "resolver/device.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

std::string reference(const std::string& in) {
  std::vector<std::string> kept;
  size_t at = in[0] == '/' ? 1 : 0;
  while (at <= in.size()) {
    size_t slash = in.find('/', at);
    if (slash == std::string::npos) slash = in.size();
    const std::string c = in.substr(at, slash - at);
    if (c == "..") { if (!kept.empty()) kept.pop_back(); }
    else if (!c.empty() && c != ".") kept.push_back(c);
    at = slash + 1;
  }
  std::string out = in[0] == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) out += (i ? "/" : "") + kept[i];
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in((const char*)data, size);
  in = in.substr(0, in.find('\0'));
  if (in.empty()) return 0;
  std::vector<char> buf(in.begin(), in.end());
  buf.push_back('\0');
  normalize_path(buf.data());
  const std::string want = reference(in);
  FUZZ_CHECK(buf.data() == want, "normalize_path('%s') = '%s', expected '%s'", in.c_str(), buf.data(), want.c_str());
  return 0;
}
