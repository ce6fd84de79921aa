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

// The block's counters, in the order the JSON object lists them.
const struct {
  const char* name;
  uint64_t cmbmap_stats::*field;
} kCounters[] = {
    {"pid", &cmbmap_stats::pid}, {"mmap_calls", &cmbmap_stats::mmap_calls},
    {"mmap_bytes", &cmbmap_stats::mmap_bytes}, {"planned_segments", &cmbmap_stats::planned_segments},
    {"eligible_bytes", &cmbmap_stats::eligible_bytes}, {"served_bytes", &cmbmap_stats::served_bytes},
    {"served_total", &cmbmap_stats::served_total}, {"fallback_bytes", &cmbmap_stats::fallback_bytes},
    {"zeroed_bytes", &cmbmap_stats::zeroed_bytes}, {"freed_bytes", &cmbmap_stats::freed_bytes},
    {"revoked_bytes", &cmbmap_stats::revoked_bytes}, {"revocations", &cmbmap_stats::revocations},
    {"evicted_bytes", &cmbmap_stats::evicted_bytes}, {"leases_taken", &cmbmap_stats::leases_taken},
    {"leases_held", &cmbmap_stats::leases_held}, {"lease_breaks", &cmbmap_stats::lease_breaks},
    {"lease_break_ns", &cmbmap_stats::lease_break_ns}, {"reclaim_requests", &cmbmap_stats::reclaim_requests},
    {"reclaimed_bytes", &cmbmap_stats::reclaimed_bytes}, {"watcher_tid", &cmbmap_stats::watcher_tid},
    {"dirty_faults", &cmbmap_stats::dirty_faults}, {"writebacks", &cmbmap_stats::writebacks},
    {"writeback_direct_bytes", &cmbmap_stats::writeback_direct_bytes},
    {"writeback_file_bytes", &cmbmap_stats::writeback_file_bytes},
    {"writeback_ns", &cmbmap_stats::writeback_ns}, {"writeback_errors", &cmbmap_stats::writeback_errors},
    {"commit_check_failures", &cmbmap_stats::commit_check_failures},
    {"scrubbed_bytes", &cmbmap_stats::scrubbed_bytes}, {"scrub_ns", &cmbmap_stats::scrub_ns},
    {"unscrubbed_bytes", &cmbmap_stats::unscrubbed_bytes},
    {"share_requests", &cmbmap_stats::share_requests}, {"share_got_bytes", &cmbmap_stats::share_got_bytes},
    {"share_given_bytes", &cmbmap_stats::share_given_bytes},
    {"share_given_to_pid", &cmbmap_stats::share_given_to_pid}
};

}  // namespace

void stats_json(const cmbmap_stats& s, Json& j) {
  j.begin_object();
  for (const auto& c : kCounters) j.num(c.name, s.*c.field);
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
  // Sharing the CMB: what other processes' mappings took from this one (and
  // the last of them), and what this one's took from others.
  if (s.share_given_bytes)
    append(reasons, "gave " + human_size(s.share_given_bytes) + " to other processes (last: pid " +
                        std::to_string(s.share_given_to_pid) + ")");
  if (s.share_got_bytes) append(reasons, "got " + human_size(s.share_got_bytes) + " from other processes");
  return format("%-8llu %-7llu %-11s %-11s %-20s %-7llu %-11s %-11s %s\n", (unsigned long long)s.pid,
                (unsigned long long)s.mmap_calls, human_size(s.mmap_bytes).c_str(),
                human_size(s.eligible_bytes).c_str(), held.empty() ? "0" : held.c_str(),
                (unsigned long long)s.leases_held, human_size(s.revoked_bytes).c_str(),
                human_size(s.fallback_bytes).c_str(), reasons.c_str());
}

}  // namespace cmbmap::cli
