// Sending a watcher message (see watcher_message.h).
#include "common/watcher_message.h"

#include <csignal>

#include "prim/prim.h"

namespace cmbmap::watcher_message {

int send(pid_t pid, pid_t tid, int sig, uint64_t value) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = prim::pid();
  si.si_uid = prim::uid();
  si.si_value.sival_ptr = (void*)(uintptr_t)value;
  return prim::queue_signal(pid, tid, sig, &si);
}

}  // namespace cmbmap::watcher_message
