// Reads what `cmbmap check` judges from the machine: sysfs, /proc and /boot,
// each under a root that tests point at fixture trees.
#pragma once

#include <string>
#include <vector>

#include "tools/cli/check_model.h"
#include "tools/cli/check_peer.h"

namespace cmbmap::cli::check {

struct Roots {
  std::string sysfs = "/sys";
  std::string proc = "/proc";
  std::string boot = "/boot";
};

struct Machine {
  KernelFacts kernel;
  std::vector<ControllerFacts> controllers;
  std::vector<PciPlace> controller_places;  // one per controller, same order
  SysctlFacts sysctl;
  std::vector<PciPlace> peers;
  bool amd_zen = false;  // AMD family 17h or later: the kernel allows host-bridge P2P
  uid_t uid = 0;
};

Machine read_machine(const Roots& roots, const std::vector<std::string>& peer_bdfs);

// Where the PCI function whose sysfs dir is dir sits (dir may be a symlink).
PciPlace read_place(const std::string& dir);

// ACS control of a bridge from its config space bytes (as sysfs `config`
// gives them: 64 bytes to a non-root reader, 256 for conventional PCI).
Acs acs_from_config(const std::string& config);

// CONFIG_PCI_P2PDMA from a kernel config's text.
Known p2pdma_from_config(const std::string& config);

}  // namespace cmbmap::cli::check
