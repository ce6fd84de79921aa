// Finding a CMB the kernel did not register (see hidden_cmb.h).
#include "tools/cli/hidden_cmb.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "resolver/cmb.h"

namespace cmbmap::cli {

// True if the kernel log still holds "<ctrl>: failed to register the CMB",
// which nvme-pci prints when it finds a CMB it cannot hand to P2PDMA.
static bool kernel_log_says_cmb_unregistered(const std::string& ctrl) {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const std::string needle = ctrl + ": failed to register the CMB";
  char rec[8192];
  bool found = false;
  for (;;) {
    ssize_t n = read(fd, rec, sizeof rec - 1);
    if (n < 0 && errno == EPIPE) continue;  // a record was overwritten: go on
    if (n <= 0) break;
    rec[n] = '\0';
    if (strstr(rec, needle.c_str())) { found = true; break; }
  }
  close(fd);
  return found;
}

HiddenCmb find_hidden_cmb(NvmeTarget* target) {
  HiddenCmb h;
  NvmeTarget& t = *target;
  if (t.cmb.present || !t.pci_path[0]) return h;
  uint32_t loc, sz;
  if (read_cmb_registers(t.pci_path, &loc, &sz) && sz != 0) {
    t.cmb = decode_cmb(loc, sz);
    h.source = "registers";
    t.reason = cmb_reason(t.cmb, t.p2pmem);
  } else if (kernel_log_says_cmb_unregistered(t.controller)) {
    t.cmb.present = true;  // size and capabilities unknown: the registers are disabled again
    h.source = "kernel-log";
    t.reason = CMBMAP_NO_P2PDMA;
  }
  if (t.cmb.present && t.reason == CMBMAP_NO_P2PDMA && kernel_has_p2pdma())
    h.note = "the kernel has P2PDMA but did not register this CMB (see its log)";
  return h;
}

}  // namespace cmbmap::cli
