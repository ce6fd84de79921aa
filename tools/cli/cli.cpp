// Helpers every subcommand shares (see cli.h).
#include "tools/cli/cli.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace cmbmap::cli {

int fail(int code, const std::string& what, const std::string& why) {
  fprintf(stderr, "cmbmap: %s: %s\n", what.c_str(), why.c_str());
  return code;
}

std::string human_size(uint64_t b) {
  static const char* const kUnit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  uint64_t v = b;
  while (u < 4 && v >= 1024 && v % 1024 == 0) { v /= 1024; ++u; }
  return std::to_string(v) + " " + kUnit[u];
}

bool is_help(const char* a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

}  // namespace cmbmap::cli
