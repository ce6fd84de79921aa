// CMBMAP_* parsing: defaults from the table, bad values warn once and keep
// the default, never crash.
#include <criterion/criterion.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/options.h"

using namespace cmbmap;

namespace {
std::map<std::string, std::string> g_env;
std::vector<std::string> g_warnings;
const char* lookup(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}
void warn(const char* msg) { g_warnings.push_back(msg); }
Options parse(std::map<std::string, std::string> env) {
  g_env = std::move(env);
  g_warnings.clear();
  Options o;
  parse_options(lookup, warn, &o);
  return o;
}
}  // namespace

Test(options, defaults_match_the_table) {
  Options o = parse({});
  cr_assert_not(o.disable);
  cr_assert_eq(o.log_level, LogLevel::Warn);
  cr_assert_str_eq(o.log_file, "");
  cr_assert_not(o.stats);
  cr_assert_eq(o.min_size, 256u << 10);
  cr_assert_not(o.writable);
  cr_assert_str_eq(o.devices, "");
  cr_assert_eq(o.budget, 0u);
  cr_assert_eq(o.writeback_ms, 5000u);
  cr_assert(g_warnings.empty());
}

Test(options, writeback_interval) {
  cr_assert_eq(parse({{"CMBMAP_WRITEBACK_MS", "250"}}).writeback_ms, 250u);
  cr_assert_eq(parse({{"CMBMAP_WRITEBACK_MS", "0"}}).writeback_ms, 0u);
  Options o = parse({{"CMBMAP_WRITEBACK_MS", "soon"}});
  cr_assert_eq(o.writeback_ms, 5000u);
  cr_assert_eq(g_warnings.size(), 1u);
}

Test(options, dirty_tracking_choice) {
  cr_assert_not(parse({}).dirty_all, "pages is the default");
  cr_assert(parse({{"CMBMAP_DIRTY", "all"}}).dirty_all);
  cr_assert_not(parse({{"CMBMAP_DIRTY", "pages"}}).dirty_all);
  cr_assert_eq(parse({{"CMBMAP_FILL", "uring"}, {"CMBMAP_DIRTY", "all"}}).fill, 1, "one choice set the other");
  Options o = parse({{"CMBMAP_DIRTY", "uring"}});
  cr_assert_not(o.dirty_all);
  cr_assert_eq(o.fill, -1, "a bad CMBMAP_DIRTY changed CMBMAP_FILL");
  cr_assert_eq(g_warnings.size(), 1u);
  cr_assert(strstr(g_warnings[0].c_str(), "pages or all"), "%s", g_warnings[0].c_str());
}

Test(options, good_values) {
  Options o = parse({{"CMBMAP_DISABLE", "1"}, {"CMBMAP_LOG", "trace:/tmp/x.log"}, {"CMBMAP_STATS", "yes"},
                     {"CMBMAP_MIN_SIZE", "0"}, {"CMBMAP_WRITABLE", "true"},
                     {"CMBMAP_DEVICES", "nvme1,0000:02:00.0"}, {"CMBMAP_BUDGET", "32M"}});
  cr_assert(o.disable);
  cr_assert_eq(o.log_level, LogLevel::Trace);
  cr_assert_str_eq(o.log_file, "/tmp/x.log");
  cr_assert(o.stats);
  cr_assert_eq(o.min_size, 0u);
  cr_assert(o.writable);
  cr_assert_eq(o.budget, 32u << 20);
  cr_assert(device_allowed(o, "nvme1", "0000:09:00.0"));
  cr_assert(device_allowed(o, "nvme7", "0000:02:00.0"));
  cr_assert_not(device_allowed(o, "nvme0", "0000:01:00.0"));
  cr_assert(g_warnings.empty());
}

Test(options, malformed_values_warn_once_each_and_keep_defaults) {
  Options o = parse({{"CMBMAP_DISABLE", "maybe"}, {"CMBMAP_LOG", "loud"}, {"CMBMAP_MIN_SIZE", "12Q"},
                     {"CMBMAP_BUDGET", "-5"}});
  cr_assert_not(o.disable);
  cr_assert_eq(o.log_level, LogLevel::Warn);
  cr_assert_eq(o.min_size, 256u << 10);
  cr_assert_eq(o.budget, 0u);
  cr_assert_eq(g_warnings.size(), 4u);
  cr_assert(strstr(g_warnings[2].c_str(), "CMBMAP_MIN_SIZE") && strstr(g_warnings[2].c_str(), "12Q"),
            "warning names the variable and the value: %s", g_warnings[2].c_str());
}

Test(options, all_means_every_device) {
  Options o = parse({{"CMBMAP_DEVICES", "all"}});
  cr_assert(device_allowed(o, "nvme3", "x"));
}

Test(options, every_table_entry_has_help_and_a_parsable_default) {
  size_t n;
  const OptionDef* t = option_table(&n);
  cr_assert_geq(n, 7u);
  for (size_t i = 0; i < n; ++i) {
    cr_assert(strncmp(t[i].name, "CMBMAP_", 7) == 0);
    cr_assert_gt(strlen(t[i].help), 10u);
    // Setting each variable to its documented default must not warn.
    parse({{t[i].name, t[i].default_text}});
    cr_assert(g_warnings.empty(), "%s default '%s' does not parse", t[i].name, t[i].default_text);
  }
}

Test(options, signal_names_and_numbers) {
  cr_assert_eq(parse({}).signal, SIGRTMAX - 2);
  cr_assert_eq(parse({{"CMBMAP_SIGNAL", "RTMIN+3"}}).signal, SIGRTMIN + 3);
  cr_assert_eq(parse({{"CMBMAP_SIGNAL", "RTMAX"}}).signal, SIGRTMAX);
  cr_assert_eq(parse({{"CMBMAP_SIGNAL", "RTMAX-5"}}).signal, SIGRTMAX - 5);
  char num[sizeof "-2147483648"];  // room for any int
  snprintf(num, sizeof num, "%d", SIGRTMIN + 1);
  cr_assert_eq(parse({{"CMBMAP_SIGNAL", num}}).signal, SIGRTMIN + 1);
  cr_assert(g_warnings.empty());
  // Not real-time, glibc's own, past the range, or garbage: warned, default kept.
  for (const char* bad : {"10", "SIGUSR1", "RTMIN-1", "RTMAX+1", "RTMIN+", "RTMINX", "99", "32"}) {
    cr_assert_eq(parse({{"CMBMAP_SIGNAL", bad}}).signal, SIGRTMAX - 2, "%s", bad);
    cr_assert_eq(g_warnings.size(), 1u, "%s", bad);
  }
}

// An item too long for device_allowed's buffer was cut and then matched a
// name equal to its first 63 characters (found by test/fuzz/options).
Test(options, a_long_item_does_not_match_its_prefix) {
  const std::string prefix(63, 'n');
  Options o = parse({{"CMBMAP_DEVICES", prefix + "xyz,nvme9"}});
  cr_assert_not(device_allowed(o, prefix.c_str(), "0000:01:00.0"));
  cr_assert(device_allowed(o, "nvme9", "0000:01:00.0"));
}
