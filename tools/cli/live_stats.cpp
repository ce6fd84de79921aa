// Reading running processes' statistics blocks (see live_stats.h).
#include "tools/cli/live_stats.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/stats.h"

namespace cmbmap::cli {
namespace {

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

void read_dir(const std::string& dir, std::vector<LiveStats>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 7 || name.compare(name.size() - 6, 6, ".stats")) continue;
    LiveStats l;
    l.path = dir + "/" + name;
    if (reread(l.path, &l.s) && alive((pid_t)l.s.pid)) out->push_back(l);
  }
  closedir(d);
}

}  // namespace

bool reread(const std::string& path, cmbmap_stats* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  *out = cmbmap_stats{};
  bool ok = read(fd, out, sizeof *out) == (ssize_t)sizeof *out && out->magic == CMBMAP_STATS_MAGIC;
  close(fd);
  return ok;
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

uint64_t held_on(const cmbmap_stats& s, const char* controller) {
  uint64_t n = 0;
  for (size_t i = 0; i < sizeof s.controller / sizeof s.controller[0]; ++i)
    if (!controller || !*controller || !strncmp(s.controller[i], controller, sizeof s.controller[i]))
      n += s.held_by_controller[i];
  return n;
}

}  // namespace cmbmap::cli
