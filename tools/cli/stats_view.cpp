// A process's statistics block shown by `cmbmap stat` (see stats_view.h).
#include "tools/cli/stats_view.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/cli/cli.h"

namespace cmbmap::cli {

namespace {

std::string controller_name(const cmbmap_stats& s, size_t c) {
  return std::string(s.controller[c], strnlen(s.controller[c], sizeof s.controller[c]));
}

// The name for the table, which goes to a terminal: a block is written by
// the process it counts, so a byte that is not printable ASCII (a newline, an
// escape sequence) is shown as '?'.
std::string printable_name(const cmbmap_stats& s, size_t c) {
  std::string name = controller_name(s, c);
  for (char& ch : name)
    if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e) ch = '?';
  return name;
}

}  // namespace

void stats_json(const cmbmap_stats& s, Json& j) {
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

namespace {

void append(std::string& list, const std::string& item) { list += (list.empty() ? "" : ", ") + item; }

// printf into a string (the row's columns are printf widths).
__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  const int n = vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(n > 0 ? (size_t)n : 0, '\0');
  vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

}  // namespace

std::string stats_header() {
  return format("%-8s %-7s %-11s %-11s %-20s %-7s %-11s %-11s %s\n", "pid", "mmaps", "mapped", "eligible",
                "cmb now", "leases", "revoked", "ordinary", "reasons");
}

std::string stats_row(const cmbmap_stats& s) {
  std::string held, reasons;
  for (size_t c = 0; c < sizeof s.controller / sizeof s.controller[0]; ++c)
    if (s.controller[c][0] && s.held_by_controller[c])
      held += std::string(held.empty() ? "" : ",") + printable_name(s, c) + " " + human_size(s.held_by_controller[c]);
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.fallback_by_reason[r]) append(reasons, std::string(cmbmap_reason_name(r)) + " " + human_size(s.fallback_by_reason[r]));
  for (int r = 1; r < CMBMAP_REASON_COUNT; ++r)
    if (s.revoked_by_reason[r])
      append(reasons, std::string("revoked ") + cmbmap_reason_name(r) + " " + human_size(s.revoked_by_reason[r]));
  if (s.writebacks || s.dirty_faults)
    append(reasons, "written back " + human_size(s.writeback_direct_bytes + s.writeback_file_bytes) +
                        (s.writeback_errors ? " (" + std::to_string(s.writeback_errors) + " errors)" : ""));
  if (s.unscrubbed_bytes) append(reasons, "unscrubbed " + human_size(s.unscrubbed_bytes));
  return format("%-8llu %-7llu %-11s %-11s %-20s %-7llu %-11s %-11s %s\n", (unsigned long long)s.pid,
                (unsigned long long)s.mmap_calls, human_size(s.mmap_bytes).c_str(),
                human_size(s.eligible_bytes).c_str(), held.empty() ? "0" : held.c_str(),
                (unsigned long long)s.leases_held, human_size(s.revoked_bytes).c_str(),
                human_size(s.fallback_bytes).c_str(), reasons.c_str());
}

}  // namespace cmbmap::cli
