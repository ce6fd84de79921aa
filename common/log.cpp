// Log sink and line formatting (see log.h).
#include "common/log.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "prim/prim.h"

namespace cmbmap::log {
namespace {

LogLevel g_level = LogLevel::Warn;
int g_fd = 2;  // until init: start-up warnings go to stderr

void raw_write(int fd, const char* p, size_t n) {
  while (n > 0) {
    long w = prim::write_fd(fd, p, n);
    if (w == -EINTR) continue;
    if (w <= 0) break;
    p += w;
    n -= (size_t)w;
  }
}

// The log writes to its own fd, taken at start-up (init): above the floor
// and close-on-exec, so that a program which closes stderr (or "all" low
// fds) and opens a file that gets the number never finds cmbmap's lines in
// it.

}  // namespace

void init(const Options& o) {
  g_level = o.log_level;
  if (g_level == LogLevel::Off) {
    g_fd = -1;
    return;
  }
  if (o.log_file[0]) {
    const int fd = prim::open_at(o.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int high = fd >= 0 ? prim::dup_above_floor(fd) : -1;
    if (fd >= 0) prim::close_fd(fd);
    if (high >= 0) {
      g_fd = high;
      return;
    }
    to_stderr("cmbmap: cannot open the CMBMAP_LOG file; logging to stderr");
  }
  // stderr's open file as it is now; none at start-up, no log.
  g_fd = prim::fcntl_fd(2, F_GETFD, 0) >= 0 ? prim::dup_above_floor(2) : -1;
  if (g_fd < 0) g_fd = -1;
}

bool enabled(LogLevel l) { return g_fd >= 0 && l <= g_level && l != LogLevel::Off; }
int fd() { return g_fd; }
void forget_fd() { g_fd = -1; }

void to_stderr(const char* msg) {
  size_t n = 0;
  while (msg[n]) ++n;
  raw_write(2, msg, n);
  raw_write(2, "\n", 1);
}

Line::Line(LogLevel level) : Line(level, log_level_name(level)) {}

Line::Line(LogLevel level, const char* tag) : n_(0), on_(enabled(level)) {
  if (!on_) return;
  s("cmbmap[").u((uint64_t)prim::pid()).s("] ").s(tag).s(": ");
}

Line& Line::s(const char* str) {
  if (on_) for (; str && *str && n_ + 2 < sizeof buf_; ++str) buf_[n_++] = *str;
  return *this;
}

Line& Line::u(uint64_t v) {
  char tmp[24];
  int k = 0;
  do { tmp[k++] = (char)('0' + v % 10); v /= 10; } while (v);
  char out[24];
  for (int j = 0; j < k; ++j) out[j] = tmp[k - 1 - j];
  out[k] = '\0';
  return s(out);
}

Line& Line::i(int64_t v) {
  if (v < 0) { s("-"); return u((uint64_t)(-(v + 1)) + 1); }
  return u((uint64_t)v);
}

Line& Line::x(uint64_t v) {
  char out[19] = "0x";
  int k = 0;
  char tmp[16];
  do { tmp[k++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  for (int j = 0; j < k; ++j) out[2 + j] = tmp[k - 1 - j];
  out[2 + k] = '\0';
  return s(out);
}

Line& Line::size(uint64_t b) {
  static const char* const kUnit[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  int u_ = 0;
  while (u_ < 4 && b >= 1024 && b % 1024 == 0) { b /= 1024; ++u_; }
  return u(b).s(kUnit[u_]);
}

void Line::emit() {
  if (!on_) return;
  buf_[n_++] = '\n';
  raw_write(g_fd, buf_, n_);
}

}  // namespace cmbmap::log
