// `cmbmap run [--] CMD [ARGS...]`: exec CMD with libcmbmap.so appended to
// LD_PRELOAD. Like env(1): CMD replaces us, so its exit status and signals
// are the caller's to see; 126/127 when it cannot be run.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "tools/cli/cli.h"

namespace cmbmap::cli {

// The library next to the CLI (build tree), in ../lib (make install) or in
// ../lib/<multiarch triplet> (the Debian package's libdir).
static std::string find_library() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  std::string dir(self);
  dir.resize(dir.rfind('/'));
  for (const char* rel : {"/libcmbmap.so", "/../lib/libcmbmap.so", "/../lib/" CMBMAP_MULTIARCH "/libcmbmap.so"}) {
    std::string p = dir + rel;
    char real[PATH_MAX];
    if (access(p.c_str(), R_OK) == 0 && realpath(p.c_str(), real)) return real;
  }
  return "";
}

int cmd_run(int argc, char** argv) {
  int i = 0;
  if (i < argc && is_help(argv[i])) {
    printf("usage: cmbmap run [--] CMD [ARGS...]\n"
           "  Runs CMD with libcmbmap.so added to LD_PRELOAD; exits with CMD's status.\n");
    return kExitOk;
  }
  if (i < argc && !strcmp(argv[i], "--")) ++i;
  if (i >= argc) return fail(kExitUsage, "run", "missing command (usage: cmbmap run [--] CMD [ARGS...])");
  std::string lib = find_library();
  if (lib.empty()) return fail(kExitFail, "run", "cannot find libcmbmap.so next to the cmbmap binary");
  const char* old = getenv("LD_PRELOAD");
  std::string preload = old && *old ? std::string(old) + ":" + lib : lib;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  execvp(argv[i], argv + i);
  int err = errno;
  fail(err == ENOENT ? 127 : 126, argv[i], strerror(err));
  return err == ENOENT ? 127 : 126;
}

}  // namespace cmbmap::cli
