// The CMBMAP_* option table and its parser (see options.h).
#include "common/options.h"

#include <csignal>

#include "prim/text.h"

namespace cmbmap {
namespace {

const OptionDef kTable[] = {
    {"CMBMAP_DISABLE", OptionType::Bool, "0",
     "1 turns cmbmap off: every call goes straight to libc."},
    {"CMBMAP_LOG", OptionType::Log, "warn",
     "Log level (off, error, warn, info, debug, trace), optionally ':FILE' to log to FILE "
     "instead of stderr. 'trace' adds the caller's backtrace to each decision."},
    {"CMBMAP_STATS", OptionType::Bool, "0", "1 prints the process's statistics at exit."},
    {"CMBMAP_MIN_SIZE", OptionType::Size, "256K",
     "Mappings shorter than this stay ordinary (K/M/G suffixes; 0 allows all)."},
    {"CMBMAP_WRITABLE", OptionType::Bool, "0",
     "1 allows writable MAP_SHARED mappings to be served (stores not yet written back are "
     "lost if the process is killed)."},
    {"CMBMAP_WRITEBACK_MS", OptionType::Millis, "5000",
     "How often (milliseconds) stores in writable served mappings are written back to the file "
     "without being asked (msync, munmap, exit do it too); this bounds what SIGKILL or a crash can "
     "lose. 0 turns the periodic writeback off."},
    {"CMBMAP_DIRTY", OptionType::Choice, "pages",
     "How cmbmap finds the stores in writable served mappings. pages: each clean page is "
     "write-protected and its first store faults once, so only stored pages are written back; "
     "a system call that stores into a clean page fails with EFAULT unless cmbmap sees it (the "
     "read family, recv, getdents64 and the FIEMAP ioctl are seen; io_uring and AIO reads, other "
     "ioctls and raw system calls are not). all: no write-protection, every page counts as dirty, "
     "so any system call or device can store into the mapping, but every writeback writes the "
     "whole range."},
    {"CMBMAP_SCRUB", OptionType::Bool, "1",
     "0 skips zeroing CMB memory as it goes back to the pool (munmap, give-backs, exit): faster, "
     "but the next allocation, by anyone allowed to open p2pmem/allocate, can read what was "
     "served. Keep 1 where the CMB is shared with other users."},
    {"CMBMAP_DEVICES", OptionType::List, "all",
     "Comma-separated controllers (nvme0) or PCI addresses that may be used."},
    {"CMBMAP_BUDGET", OptionType::Size, "0",
     "Most CMB bytes this process may use (K/M/G suffixes; 0 means no limit)."},
    {"CMBMAP_SHARE", OptionType::Bool, "1",
     "1: a mapping that finds the CMB full asks other processes under cmbmap (the same user's; "
     "root's asks everyone's) to give back their least recently used ranges, least recently "
     "active process first, and this process gives its own when asked. 0: neither "
     "(`cmbmap reclaim` still works)."},
    {"CMBMAP_SHARE_GRACE_MS", OptionType::Millis, "1000",
     "Ranges this process used (served, or touched by a mapping call) within this many "
     "milliseconds are not given to another process's mapping, so busy processes do not take "
     "CMB memory back and forth."},
    {"CMBMAP_FILL", OptionType::Choice, "auto",
     "How the drive fills CMB memory: pread (O_DIRECT pread), uring (io_uring reads), passthru "
     "(NVMe reads through io_uring on the namespace's char device; needs access to /dev/ngXnY); "
     "auto uses pread below 2 MiB and uring above (the fastest measured, see README: "
     "Performance), and passthru under a write lease, which must not open the file again."},
    {"CMBMAP_SIGNAL", OptionType::Signal, "RTMAX-2",
     "Real-time signal cmbmap's watcher thread receives lease breaks and reclaim requests on "
     "(RTMIN+N, RTMAX-N or a number). It is only ever sent to that thread, never to the program's; "
     "change it if the program uses this signal number itself."},
};

using text::equal;

bool parse_bool(const char* v, bool* out) {
  static const char* const kTrue[] = {"1", "yes", "true", "on", "y"};
  static const char* const kFalse[] = {"0", "no", "false", "off", "n", ""};
  for (const char* t : kTrue) if (equal(v, t)) { *out = true; return true; }
  for (const char* f : kFalse) if (equal(v, f)) { *out = false; return true; }
  return false;
}

bool starts(const char* s, const char* prefix) {
  while (*prefix && *s == *prefix) { ++s; ++prefix; }
  return !*prefix;
}

// "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" or a plain number, within the
// real-time range (glibc keeps the first few for itself: SIGRTMIN is above them).
bool parse_signal(const char* v, int* out) {
  const int lo = SIGRTMIN, hi = SIGRTMAX;
  int sig;
  if (starts(v, "RTMIN") || starts(v, "RTMAX")) {
    const int base = v[4] == 'N' ? lo : hi;
    v += 5;
    uint64_t n = 0;
    if (*v && ((*v != '+' && *v != '-') || !text::parse_u64(v + 1, &n) || n > 64)) return false;
    sig = *v == '-' ? base - (int)n : base + (int)n;
  } else {
    uint64_t n;
    if (!text::parse_u64(v, &n) || n > 64) return false;
    sig = (int)n;
  }
  if (sig < lo || sig > hi) return false;
  *out = sig;
  return true;
}

bool parse_log(const char* v, Options* o) {
  static const char* const kLevels[] = {"off", "error", "warn", "info", "debug", "trace"};
  char level[16];
  size_t i = 0;
  for (; v[i] && v[i] != ':' && i + 1 < sizeof level; ++i) level[i] = v[i];
  if (v[i] && v[i] != ':') return false;
  level[i] = '\0';
  for (int l = 0; l < 6; ++l) {
    if (equal(level, kLevels[l])) {
      o->log_level = static_cast<LogLevel>(l);
      text::copy(o->log_file, sizeof o->log_file, v[i] == ':' ? v + i + 1 : "");
      return true;
    }
  }
  return false;
}

// "CMBMAP_X: bad value 'v' (expected ...); using default D"
void warn_bad(void (*warn)(const char*), const OptionDef& d, const char* v, const char* expected) {
  char msg[512];
  size_t n = 0;
  auto put = [&](const char* s) { for (; *s && n + 1 < sizeof msg; ++s) msg[n++] = *s; };
  put(d.name); put(": ignoring malformed value '"); put(v); put("' (expected ");
  put(expected); put("); using the default '"); put(d.default_text); put("'");
  msg[n] = '\0';
  warn(msg);
}

// One of a Choice option's words (CMBMAP_FILL, CMBMAP_DIRTY).
bool parse_choice(const OptionDef& d, const char* text, Options* o, const char** expected) {
  if (equal(d.name, "CMBMAP_DIRTY")) {
    *expected = "pages or all";
    for (int c = 0; c < 2; ++c)
      if (equal(text, kDirtyChoices[c])) { o->dirty_all = c == 1; return true; }
    return false;
  }
  *expected = "auto, pread, uring or passthru";
  for (int c = 0; c < 4; ++c)
    if (equal(text, kFillChoices[c])) { o->fill = c - 1; return true; }
  return false;
}

}  // namespace

const OptionDef* option_table(size_t* count) {
  *count = sizeof kTable / sizeof kTable[0];
  return kTable;
}

const char* log_level_name(LogLevel l) {
  static const char* const kNames[] = {"off", "error", "warn", "info", "debug", "trace"};
  return kNames[static_cast<int>(l)];
}

void parse_options(const char* (*lookup)(const char*), void (*warn)(const char*), Options* o) {
  *o = Options{};
  // Defaults come from the table's text, so the documented value is the real one.
  for (const OptionDef& d : kTable) {
    const char* v = lookup(d.name);
    for (int pass = 0; pass < 2; ++pass) {
      const char* text = pass == 0 ? d.default_text : v;
      if (pass == 1 && !v) break;
      bool ok = true;
      const char* expected = "";
      switch (d.type) {
        case OptionType::Bool: {
          bool b;
          expected = "0 or 1";
          if ((ok = parse_bool(text, &b))) {
            if (equal(d.name, "CMBMAP_DISABLE")) o->disable = b;
            else if (equal(d.name, "CMBMAP_STATS")) o->stats = b;
            else if (equal(d.name, "CMBMAP_WRITABLE")) o->writable = b;
            else if (equal(d.name, "CMBMAP_SCRUB")) o->scrub = b;
            else if (equal(d.name, "CMBMAP_SHARE")) o->share = b;
          }
          break;
        }
        case OptionType::Size: {
          uint64_t s;
          expected = "a byte count with optional K/M/G suffix";
          if ((ok = text::parse_size(text, &s))) {
            if (equal(d.name, "CMBMAP_MIN_SIZE")) o->min_size = s;
            else if (equal(d.name, "CMBMAP_BUDGET")) o->budget = s;
          }
          break;
        }
        case OptionType::Log:
          expected = "off|error|warn|info|debug|trace[:FILE]";
          ok = parse_log(text, o);
          break;
        case OptionType::List:
          text::copy(o->devices, sizeof o->devices, equal(text, "all") ? "" : text);
          break;
        case OptionType::Choice:
          ok = parse_choice(d, text, o, &expected);
          break;
        case OptionType::Millis:
          expected = "a number of milliseconds";
          ok = text::parse_u64(text, equal(d.name, "CMBMAP_SHARE_GRACE_MS") ? &o->share_grace_ms : &o->writeback_ms);
          break;
        case OptionType::Signal:
          expected = "RTMIN+N, RTMAX-N or a real-time signal number";
          ok = parse_signal(text, &o->signal);
          break;
      }
      if (!ok && pass == 1) warn_bad(warn, d, v, expected);
    }
  }
}

bool device_allowed(const Options& o, const char* controller, const char* pci) {
  if (!o.devices[0]) return true;
  const char* p = o.devices;
  while (*p) {
    char item[64];
    size_t n = 0;
    bool cut = false;  // an item too long for item[] names no device (not its prefix)
    for (; *p && *p != ','; ++p) {
      if (*p == ' ') continue;
      if (n + 1 < sizeof item) item[n++] = *p;
      else cut = true;
    }
    item[n] = '\0';
    if (*p == ',') ++p;
    if (n && !cut && (equal(item, controller) || equal(item, pci))) return true;
  }
  return false;
}

}  // namespace cmbmap
