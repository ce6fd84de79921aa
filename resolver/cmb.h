// Decoding of a controller's CMB registers and of the p2pmem attributes.
// Pure functions over register values and sysfs text, tested from fixtures.
#pragma once

#include "resolver/types.h"

namespace cmbmap {

// CMBLOC/CMBSZ register values → geometry and capability bits (NVMe 1.4 §3.1).
CmbInfo decode_cmb(uint32_t cmbloc, uint32_t cmbsz);

// Reads cmbloc/cmbsz of the controller whose sysfs dir is ctrl_dir.
// Absent attributes (the kernel hides them when CMBSZ is 0) → present=false.
CmbInfo read_cmb(const char* ctrl_dir);

// Reads <pci_dir>/p2pmem/{size,available,published}; absent dir → present=false.
P2pmemInfo read_p2pmem(const char* pci_dir);

// Reads CMBLOC/CMBSZ straight from the controller's registers (BAR 0 via
// <pci_dir>/resource0). Kernels without P2PDMA hide the sysfs attributes, so
// this is how `cmbmap devices` still sees the CMB there. Needs root, and the
// kernel must allow mapping a claimed BAR (iomem=relaxed where the kernel is
// built with IO_STRICT_DEVMEM). False if the registers cannot be read.
bool read_cmb_registers(const char* pci_dir, uint32_t* cmbloc, uint32_t* cmbsz);

// True if the running kernel was built with CONFIG_PCI_P2PDMA (its symbols
// are listed in /proc/kallsyms, even where addresses are hidden).
bool kernel_has_p2pdma();

// Device-level verdict from what was read: ELIGIBLE, NO_CMB, CMB_NO_READ_DATA
// or NO_P2PDMA, in that order of precedence.
int cmb_reason(const CmbInfo& cmb, const P2pmemInfo& p2p);

}  // namespace cmbmap
