// Reading running processes' statistics blocks (see live_stats.h).
#include "tools/cli/live_stats.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/live_block.h"
#include "common/stats.h"

namespace cmbmap::cli {
namespace {

void read_dir(const std::string& dir, std::vector<LiveStats>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 7 || name.compare(name.size() - 6, 6, ".stats")) continue;
    LiveStats l;
    l.path = dir + "/" + name;
    if (reread(l.path, &l.s, &l.owner) && live_block::alive(l.s.pid)) out->push_back(l);
  }
  closedir(d);
}

}  // namespace

bool reread(const std::string& path, cmbmap_stats* out, uid_t* owner) {
  *out = cmbmap_stats{};
  return live_block::read(path.c_str(), out, owner);
}

std::vector<LiveStats> live_stats() {
  std::vector<LiveStats> all;
  read_dir(stats::run_dir(), &all);
  DIR* tmp = opendir("/tmp");
  if (tmp) {
    while (dirent* e = readdir(tmp))
      if (!strncmp(e->d_name, "cmbmap-", 7)) read_dir(std::string("/tmp/") + e->d_name, &all);
    closedir(tmp);
  }
  return all;
}

uint64_t held_on(const cmbmap_stats& s, const char* controller) { return live_block::held_on(s, controller); }

}  // namespace cmbmap::cli
