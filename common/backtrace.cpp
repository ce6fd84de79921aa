// CMBMAP_LOG=trace: the program's call stack behind a decision, via
// libunwind's local unwinder (no malloc on this path), symbolised with the
// symbol tables libunwind can read, plus the object name from dladdr.
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>

#include "common/log.h"
#include "prim/prim.h"

namespace cmbmap::log {

void backtrace() {
  if (!enabled(LogLevel::Trace)) return;
  prim::KeepErrno keep;  // the unwinder and dladdr may set it
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&backtrace), &self);  // our own object, to skip its frames
  unw_context_t ctx;
  unw_cursor_t cur;
  if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) return;
  int shown = 0;
  while (shown < 16 && unw_step(&cur) > 0) {
    unw_word_t ip = 0, off = 0;
    unw_get_reg(&cur, UNW_REG_IP, &ip);
    Dl_info where{};
    bool known = dladdr(reinterpret_cast<void*>(ip), &where) != 0;
    if (known && where.dli_fbase == self.dli_fbase) continue;  // inside libcmbmap
    char name[256];
    Line l(LogLevel::Trace);
    l.s("  #").u((uint64_t)shown++).s(" ").x(ip).s(" ");
    l.s(known && where.dli_fname && where.dli_fname[0] ? where.dli_fname : "?");
    if (unw_get_proc_name(&cur, name, sizeof name, &off) == 0) l.s(" (").s(name).s("+").x(off).s(")");
    l.emit();
  }
}

}  // namespace cmbmap::log
