// Logging for the library: fixed-size lines built on the stack and written
// with one raw write(2), so a log call is async-signal-safe and never
// allocates. Destination and level come from CMBMAP_LOG.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/options.h"

namespace cmbmap::log {

void init(const Options& opts);  // opens CMBMAP_LOG's file, if any
bool enabled(LogLevel level);
int fd();                        // the log fd, -1 if none
void forget_fd();                // the program closed or replaced our fd

class Line {
 public:
  explicit Line(LogLevel level);
  Line(LogLevel level, const char* tag);  // shown at level, labelled tag
  Line& s(const char* str);
  Line& u(uint64_t v);
  Line& i(int64_t v);
  Line& x(uint64_t v);           // 0x-prefixed hex
  Line& size(uint64_t bytes);    // "16 MiB" style, exact when possible
  void emit();                   // newline + one write

 private:
  char buf_[1024];
  size_t n_;
  bool on_;
};

// Writes the program's call stack (frames outside libcmbmap) at trace level.
void backtrace();

// Direct one-shot message to stderr (option warnings before init).
void to_stderr(const char* msg);

}  // namespace cmbmap::log
