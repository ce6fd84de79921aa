// Kernels without CONFIG_PCI_P2PDMA never register a CMB and hide the
// controller's cmbloc/cmbsz attributes. The CLI still tells the user the
// drive has one, and why it cannot serve (NO_P2PDMA rather than NO_CMB).
#pragma once

#include <string>

#include "resolver/types.h"

namespace cmbmap::cli {

struct HiddenCmb {
  std::string source = "sysfs";  // sysfs, registers or kernel-log
  std::string note;
};

// For a target without a visible CMB: read the registers where the kernel
// lets us, else trust the kernel's own "failed to register the CMB" warning.
// Updates target->cmb and target->reason when a CMB is found.
HiddenCmb find_hidden_cmb(NvmeTarget* target);

}  // namespace cmbmap::cli
