// CMBMAP_* environment options: one table (name, type, default, help) feeds
// parsing, the one-time warnings on bad values, `cmbmap --help` and the
// README. Read once at start-up; never allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cmbmap {

enum class LogLevel : int { Off, Error, Warn, Info, Debug, Trace };

struct Options {
  bool disable;
  LogLevel log_level;
  char log_file[256];    // empty: stderr
  bool stats;
  uint64_t min_size;
  bool writable;
  char devices[256];     // empty: all controllers
  uint64_t budget;       // 0: no limit
  int fill;              // fill engine: -1 auto, else fill::Engine
  int signal;            // lease breaks and reclaim requests (a real-time signal)
  uint64_t writeback_ms; // periodic writeback of writable mappings; 0: none
  bool scrub;            // zero CMB memory before it goes back to the pool
  bool dirty_all;        // CMBMAP_DIRTY=all: every writable served page counts as dirty
  bool share;            // ask other processes for room in a full CMB, and give them ours
  uint64_t share_grace_ms;  // ranges used within this are not given to other processes
};

enum class OptionType { Bool, Size, Log, List, Choice, Signal, Millis };

struct OptionDef {
  const char* name;        // "CMBMAP_MIN_SIZE"
  OptionType type;
  const char* default_text;
  const char* help;
};

// The table, in documentation order.
const OptionDef* option_table(size_t* count);

// Parses the environment into opts. lookup(name) returns the value or null
// (getenv in the library; a fake in tests). Each malformed value calls
// warn(message) once and keeps the default.
void parse_options(const char* (*lookup)(const char* name), void (*warn)(const char* msg),
                   Options* opts);

// True if name is listed in CMBMAP_DEVICES (or the list is empty / "all").
// Entries match a controller ("nvme0") or a PCI address ("0000:01:00.0").
bool device_allowed(const Options& opts, const char* controller, const char* pci);

const char* log_level_name(LogLevel level);

// CMBMAP_FILL's choices, in fill::Engine order after "auto".
constexpr const char* kFillChoices[] = {"auto", "pread", "uring", "passthru"};
// CMBMAP_DIRTY's choices: pages (tracked by write faults), all (no tracking).
constexpr const char* kDirtyChoices[] = {"pages", "all"};

}  // namespace cmbmap
