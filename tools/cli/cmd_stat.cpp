// `cmbmap stat [PID] [--json]`: the statistics blocks that running processes
// keep under /run/cmbmap/ (or /tmp/cmbmap-UID/). Blocks of processes that are
// gone are skipped.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "../../shim/core/stats.h"
#include "cli.h"
#include "json.h"

namespace cmbmap::cli {
namespace {

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

void read_dir(const std::string& dir, std::vector<cmbmap_stats>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 7 || name.compare(name.size() - 6, 6, ".stats")) continue;
    int fd = open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    cmbmap_stats s{};
    bool ok = read(fd, &s, sizeof s) == (ssize_t)sizeof s && s.magic == CMBMAP_STATS_MAGIC;
    close(fd);
    if (ok && alive((pid_t)s.pid)) out->push_back(s);
  }
  closedir(d);
}

std::vector<cmbmap_stats> collect() {
  std::vector<cmbmap_stats> all;
  read_dir(stats::run_dir(), &all);
  DIR* tmp = opendir("/tmp");
  if (tmp) {
    while (dirent* e = readdir(tmp))
      if (!strncmp(e->d_name, "cmbmap-", 7)) read_dir(std::string("/tmp/") + e->d_name, &all);
    closedir(tmp);
  }
  return all;
}

}  // namespace

int cmd_stat(int argc, char** argv) {
  bool json = false;
  long want = -1;
  for (int i = 0; i < argc; ++i) {
    if (is_help(argv[i])) {
      printf("usage: cmbmap stat [PID] [--json]\n"
             "  Live statistics of processes running under cmbmap (all, or PID).\n");
      return kExitOk;
    }
    char* end;
    if (!strcmp(argv[i], "--json")) json = true;
    else if ((want = strtol(argv[i], &end, 10)) <= 0 || *end) return fail(kExitUsage, argv[i], "not a PID");
  }
  std::vector<cmbmap_stats> all = collect();
  std::vector<cmbmap_stats> shown;
  for (const cmbmap_stats& s : all)
    if (want < 0 || (long)s.pid == want) shown.push_back(s);
  if (want > 0 && shown.empty())
    return fail(kExitFail, std::to_string(want),
                "no statistics (not running under cmbmap, or it has mapped no file yet)");
  if (json) {
    Json j;
    j.begin_object().begin_array("processes");
    for (const cmbmap_stats& s : shown) {
      j.begin_object().num("pid", s.pid).num("mmap_calls", s.mmap_calls).num("mmap_bytes", s.mmap_bytes)
          .num("planned_segments", s.planned_segments).num("eligible_bytes", s.eligible_bytes)
          .num("served_bytes", s.served_bytes).num("served_total", s.served_total)
          .num("fallback_bytes", s.fallback_bytes).num("zeroed_bytes", s.zeroed_bytes)
          .num("freed_bytes", s.freed_bytes).num("revoked_bytes", s.revoked_bytes);
      j.begin_object("fills");
      static const char* const kEngine[] = {"pread", "uring", "passthru"};
      for (int e = 0; e < 3; ++e)
        j.begin_object(kEngine[e]).num("count", s.fills[e]).num("bytes", s.fill_bytes[e]).num("ns", s.fill_ns[e]).end_object();
      j.end_object().begin_object("fallback_by_reason");
      for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
        if (s.fallback_by_reason[r]) j.num(cmbmap_reason_name(r), s.fallback_by_reason[r]);
      j.end_object().end_object();
    }
    j.end_array().end_object();
    printf("%s\n", j.text().c_str());
    return kExitOk;
  }
  if (shown.empty()) { printf("no processes running under cmbmap have mapped a file\n"); return kExitOk; }
  printf("%-8s %-8s %-12s %-12s %-12s %-12s %s\n", "pid", "mmaps", "mapped", "eligible", "cmb now", "ordinary",
         "reasons");
  for (const cmbmap_stats& s : shown) {
    std::string reasons;
    for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
      if (s.fallback_by_reason[r])
        reasons += std::string(reasons.empty() ? "" : ", ") + cmbmap_reason_name(r) + " " +
                   human_size(s.fallback_by_reason[r]);
    printf("%-8llu %-8llu %-12s %-12s %-12s %-12s %s\n", (unsigned long long)s.pid,
           (unsigned long long)s.mmap_calls, human_size(s.mmap_bytes).c_str(),
           human_size(s.eligible_bytes).c_str(), human_size(s.served_bytes).c_str(),
           human_size(s.fallback_bytes).c_str(), reasons.c_str());
  }
  return kExitOk;
}

}  // namespace cmbmap::cli
