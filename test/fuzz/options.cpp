// CMBMAP_* values from the environment (common/options.cpp). The input is the
// values of the table's options, separated by NUL bytes (a missing one is
// unset). Oracle: the parser returns, warns at most once per option and only
// for a value it did not take, keeps the default for a malformed value, leaves
// every field in its range (log level, fill engine, a real-time signal) and
// its strings terminated; device_allowed matches whole list items only.
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "common/options.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

std::vector<std::string> g_values;  // by table position; "\x01" = unset
std::vector<std::string> g_warnings;
size_t g_count;
const OptionDef* g_table;

const char* lookup(const char* name) {
  for (size_t i = 0; i < g_count && i < g_values.size(); ++i)
    if (!strcmp(g_table[i].name, name)) return g_values[i] == "\x01" ? nullptr : g_values[i].c_str();
  return nullptr;
}
const char* unset(const char*) { return nullptr; }
void record(const char* msg) { g_warnings.push_back(msg); }
void ignore(const char*) {}

// The field of o that option i sets, as text, to compare with the default's.
std::string field(const Options& o, size_t i) {
  const std::string n = g_table[i].name;
  if (n == "CMBMAP_DISABLE") return std::to_string(o.disable);
  if (n == "CMBMAP_LOG") return std::to_string((int)o.log_level) + ":" + o.log_file;
  if (n == "CMBMAP_STATS") return std::to_string(o.stats);
  if (n == "CMBMAP_MIN_SIZE") return std::to_string(o.min_size);
  if (n == "CMBMAP_WRITABLE") return std::to_string(o.writable);
  if (n == "CMBMAP_WRITEBACK_MS") return std::to_string(o.writeback_ms);
  if (n == "CMBMAP_DIRTY") return std::to_string(o.dirty_all);
  if (n == "CMBMAP_SCRUB") return std::to_string(o.scrub);
  if (n == "CMBMAP_DEVICES") return o.devices;
  if (n == "CMBMAP_BUDGET") return std::to_string(o.budget);
  if (n == "CMBMAP_SHARE") return std::to_string(o.share);
  if (n == "CMBMAP_SHARE_GRACE_MS") return std::to_string(o.share_grace_ms);
  if (n == "CMBMAP_FILL") return std::to_string(o.fill);
  if (n == "CMBMAP_SIGNAL") return std::to_string(o.signal);
  FUZZ_CHECK(false, "%s: an option this target does not know (update field())", n.c_str());
  return "";
}

// device_allowed against the list split by hand: items are separated by
// commas, spaces in them ignored; a name matches an item as a whole.
bool ref_allowed(const std::string& list, const std::string& name) {
  if (list.empty()) return true;
  std::string item;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i == list.size() || list[i] == ',') {
      if (!item.empty() && item == name) return true;
      item.clear();
    } else if (list[i] != ' ') {
      item += list[i];
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_table = option_table(&g_count);
  FUZZ_CHECK(g_count == 14, "the table has %zu options; this target names 14 (update field())", g_count);
  g_values.clear();
  g_warnings.clear();
  const std::string all((const char*)data, size);
  size_t at = 0;
  while (at <= all.size() && g_values.size() < g_count) {
    size_t nul = all.find('\0', at);
    if (nul == std::string::npos) nul = all.size();
    g_values.push_back(all.substr(at, nul - at));
    at = nul + 1;
  }
  Options o, defaults;
  parse_options(lookup, record, &o);
  parse_options(unset, ignore, &defaults);

  FUZZ_CHECK(memchr(o.log_file, 0, sizeof o.log_file) && memchr(o.devices, 0, sizeof o.devices),
             "a string option is not terminated");
  FUZZ_CHECK((int)o.log_level >= 0 && (int)o.log_level <= (int)LogLevel::Trace, "log level %d", (int)o.log_level);
  FUZZ_CHECK(o.fill >= -1 && o.fill <= 2, "fill engine %d", o.fill);
  FUZZ_CHECK(o.signal >= SIGRTMIN && o.signal <= SIGRTMAX, "signal %d is not real-time", o.signal);
  FUZZ_CHECK(g_warnings.size() <= g_count, "%zu warnings", g_warnings.size());
  for (size_t i = 0; i < g_count; ++i) {
    const std::string prefix = std::string(g_table[i].name) + ":";
    size_t warned = 0;
    for (const std::string& w : g_warnings) warned += w.compare(0, prefix.size(), prefix) == 0;
    FUZZ_CHECK(warned <= 1, "%s warned %zu times", g_table[i].name, warned);
    const bool set = i < g_values.size() && g_values[i] != "\x01";
    FUZZ_CHECK(set || !warned, "%s warned without a value", g_table[i].name);
    if (warned)
      FUZZ_CHECK(field(o, i) == field(defaults, i), "%s: malformed value taken: %s, default %s", g_table[i].name,
                 field(o, i).c_str(), field(defaults, i).c_str());
  }
  // What follows the table's last value, if anything, is a device name to look up.
  const std::string name = at < all.size() ? all.substr(at) : "nvme0";
  if (strlen(o.devices) + 1 < sizeof o.devices && name.find('\0') == std::string::npos)
    FUZZ_CHECK(device_allowed(o, name.c_str(), "0000:00:00.0") == ref_allowed(o.devices, name) ||
                   ref_allowed(o.devices, "0000:00:00.0"),
               "device_allowed('%s', '%s')", o.devices, name.c_str());
  return 0;
}
