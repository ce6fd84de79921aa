// The model behind `cmbmap check`: facts read from the machine in, report
// lines out. Pure functions (no I/O), so every case is a unit test.
// Each line states one fact and what to do about it; the command exits 1
// when any line is a failure.
#pragma once

#include <string>
#include <vector>

#include "resolver/types.h"

namespace cmbmap::cli::check {

enum class Status { Ok, Warn, Fail, Unknown };
const char* status_name(Status s);  // "ok", "warn", "FAIL", "unknown"

struct Line {
  std::string area;     // kernel, nvme0, leases, vm, peer 0000:65:00.0
  Status status;
  std::string fact;     // what was found
  std::string action;   // what to do (also on ok lines: "nothing to do")
};

enum class Known { Yes, No, Unknown };

struct KernelFacts {
  std::string release;        // /proc/sys/kernel/osrelease; empty: unreadable
  Known p2pdma = Known::Unknown;
  std::string config_source;  // the config file the answer came from
};

struct ControllerFacts {
  std::string name;           // nvme0
  std::string pci;            // 0000:00:05.0
  CmbInfo cmb;
  P2pmemInfo p2pmem;
  Known can_allocate = Known::Unknown;  // opening p2pmem/allocate read-write
  int allocate_errno = 0;
};

struct SysctlFacts {
  long long leases_enable = -1;     // -1: unreadable
  long long lease_break_time = -1;
  long long max_map_count = -1;
};

// The kernel release as major.minor; false if it does not start that way.
bool parse_release(const std::string& release, int* major, int* minor);

std::vector<Line> kernel_lines(const KernelFacts& k, const std::vector<ControllerFacts>& cs);
std::vector<Line> controller_lines(const std::vector<ControllerFacts>& cs, uid_t uid);
std::vector<Line> sysctl_lines(const SysctlFacts& s);

// A controller that can serve: CMB with RDS+WDS, published, allocatable.
bool controller_ready(const ControllerFacts& c);

// 0 when no line failed, else 1.
int exit_status(const std::vector<Line>& lines);

// The udev rule shipped as an example (installed under the doc examples).
constexpr const char* kUdevRuleHint =
    "install the example udev rule (/usr/share/doc/cmbmap/examples/60-cmbmap.rules, "
    "tools/udev/60-cmbmap.rules in the source) into /etc/udev/rules.d/, create the group "
    "(groupadd -r cmbmap), add the user (usermod -aG cmbmap USER), then "
    "udevadm trigger -s pci -c add";

}  // namespace cmbmap::cli::check
