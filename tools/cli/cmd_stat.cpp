// `cmbmap stat [PID] [--json]`: the statistics blocks that running processes
// keep under /run/cmbmap/ (or /tmp/cmbmap-UID/). Blocks of processes that are
// gone are skipped.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/cli/cli.h"
#include "tools/cli/json.h"
#include "tools/cli/live_stats.h"
#include "tools/cli/stats_view.h"

namespace cmbmap::cli {

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
  std::vector<cmbmap_stats> shown;
  for (const LiveStats& l : live_stats())
    if (want < 0 || (long)l.s.pid == want) shown.push_back(l.s);
  if (want > 0 && shown.empty())
    return fail(kExitFail, std::to_string(want),
                "no statistics (not running under cmbmap, or it has mapped no file yet)");
  if (json) {
    Json j;
    j.begin_object().begin_array("processes");
    for (const cmbmap_stats& s : shown) stats_json(s, j);
    j.end_array().end_object();
    printf("%s\n", j.text().c_str());
    return kExitOk;
  }
  if (shown.empty()) { printf("no processes running under cmbmap have mapped a file\n"); return kExitOk; }
  fputs(stats_header().c_str(), stdout);
  for (const cmbmap_stats& s : shown) fputs(stats_row(s).c_str(), stdout);
  return kExitOk;
}

}  // namespace cmbmap::cli
