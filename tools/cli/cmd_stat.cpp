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

namespace cmbmap::cli {

namespace {

std::string controller_name(const cmbmap_stats& s, size_t c) {
  return std::string(s.controller[c], strnlen(s.controller[c], sizeof s.controller[c]));
}

// One process's block as a JSON object.
void to_json(const cmbmap_stats& s, Json& j) {
  j.begin_object().num("pid", s.pid).num("mmap_calls", s.mmap_calls).num("mmap_bytes", s.mmap_bytes)
      .num("planned_segments", s.planned_segments).num("eligible_bytes", s.eligible_bytes)
      .num("served_bytes", s.served_bytes).num("served_total", s.served_total)
      .num("fallback_bytes", s.fallback_bytes).num("zeroed_bytes", s.zeroed_bytes)
      .num("freed_bytes", s.freed_bytes).num("revoked_bytes", s.revoked_bytes)
      .num("revocations", s.revocations).num("evicted_bytes", s.evicted_bytes)
      .num("leases_taken", s.leases_taken).num("leases_held", s.leases_held)
      .num("lease_breaks", s.lease_breaks).num("lease_break_ns", s.lease_break_ns)
      .num("reclaim_requests", s.reclaim_requests).num("reclaimed_bytes", s.reclaimed_bytes)
      .num("watcher_tid", s.watcher_tid).num("dirty_faults", s.dirty_faults)
      .num("writebacks", s.writebacks).num("writeback_direct_bytes", s.writeback_direct_bytes)
      .num("writeback_file_bytes", s.writeback_file_bytes).num("writeback_ns", s.writeback_ns)
      .num("writeback_errors", s.writeback_errors).num("commit_check_failures", s.commit_check_failures)
      .num("scrubbed_bytes", s.scrubbed_bytes).num("scrub_ns", s.scrub_ns).num("unscrubbed_bytes", s.unscrubbed_bytes);
  j.begin_object("held_by_controller");
  for (size_t c = 0; c < sizeof s.controller / sizeof s.controller[0]; ++c)
    if (s.controller[c][0]) j.num(controller_name(s, c).c_str(), s.held_by_controller[c]);
  j.end_object();
  j.begin_object("fills");
  static const char* const kEngine[] = {"pread", "uring", "passthru"};
  for (int e = 0; e < 3; ++e)
    j.begin_object(kEngine[e]).num("count", s.fills[e]).num("bytes", s.fill_bytes[e]).num("ns", s.fill_ns[e]).end_object();
  j.end_object().begin_object("fallback_by_reason");
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.fallback_by_reason[r]) j.num(cmbmap_reason_name(r), s.fallback_by_reason[r]);
  j.end_object().begin_object("revoked_by_reason");
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.revoked_by_reason[r]) j.num(cmbmap_reason_name(r), s.revoked_by_reason[r]);
  j.end_object().end_object();
}

void append(std::string& list, const std::string& item) { list += (list.empty() ? "" : ", ") + item; }

// One process's line of the table.
void print_row(const cmbmap_stats& s) {
  std::string held, reasons;
  for (size_t c = 0; c < sizeof s.controller / sizeof s.controller[0]; ++c)
    if (s.controller[c][0] && s.held_by_controller[c])
      held += std::string(held.empty() ? "" : ",") + controller_name(s, c) + " " + human_size(s.held_by_controller[c]);
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.fallback_by_reason[r]) append(reasons, std::string(cmbmap_reason_name(r)) + " " + human_size(s.fallback_by_reason[r]));
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.revoked_by_reason[r])
      append(reasons, std::string("revoked ") + cmbmap_reason_name(r) + " " + human_size(s.revoked_by_reason[r]));
  if (s.writebacks || s.dirty_faults)
    append(reasons, "written back " + human_size(s.writeback_direct_bytes + s.writeback_file_bytes) +
                        (s.writeback_errors ? " (" + std::to_string(s.writeback_errors) + " errors)" : ""));
  if (s.unscrubbed_bytes) append(reasons, "unscrubbed " + human_size(s.unscrubbed_bytes));
  printf("%-8llu %-7llu %-11s %-11s %-20s %-7llu %-11s %-11s %s\n", (unsigned long long)s.pid,
         (unsigned long long)s.mmap_calls, human_size(s.mmap_bytes).c_str(), human_size(s.eligible_bytes).c_str(),
         held.empty() ? "0" : held.c_str(), (unsigned long long)s.leases_held, human_size(s.revoked_bytes).c_str(),
         human_size(s.fallback_bytes).c_str(), reasons.c_str());
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
  std::vector<cmbmap_stats> shown;
  for (const LiveStats& l : live_stats())
    if (want < 0 || (long)l.s.pid == want) shown.push_back(l.s);
  if (want > 0 && shown.empty())
    return fail(kExitFail, std::to_string(want),
                "no statistics (not running under cmbmap, or it has mapped no file yet)");
  if (json) {
    Json j;
    j.begin_object().begin_array("processes");
    for (const cmbmap_stats& s : shown) to_json(s, j);
    j.end_array().end_object();
    printf("%s\n", j.text().c_str());
    return kExitOk;
  }
  if (shown.empty()) { printf("no processes running under cmbmap have mapped a file\n"); return kExitOk; }
  printf("%-8s %-7s %-11s %-11s %-20s %-7s %-11s %-11s %s\n", "pid", "mmaps", "mapped", "eligible",
         "cmb now", "leases", "revoked", "ordinary", "reasons");
  for (const cmbmap_stats& s : shown) print_row(s);
  return kExitOk;
}

}  // namespace cmbmap::cli
