// Start-up scan of /sys/class/nvme (see machine.h).
#include "shim/core/machine.h"

#include "resolver/device.h"
#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap::machine {
namespace {

bool g_any_usable;

struct Verdict { dev_t dev; int reason; };
constexpr int kVerdicts = 16;
Verdict g_verdicts[kVerdicts];
int g_verdict_count;  // grows to kVerdicts, then entries are replaced round robin
prim::SpinLock g_verdict_lock;  // guards g_verdicts

struct Scan { const Options* opts; bool usable; };

bool visit_controller(const char* name, void* ctx) {
  auto* scan = static_cast<Scan*>(ctx);
  char dir[kPathMax];
  if (!text::join(dir, sizeof dir, "/sys/class/nvme", name)) return true;
  NvmeTarget t{};
  resolve_controller(dir, &t);
  if (t.reason == CMBMAP_ELIGIBLE && device_allowed(*scan->opts, t.controller, t.pci)) {
    scan->usable = true;
    return false;
  }
  return true;
}

}  // namespace

void init(const Options& opts) {
  Scan scan{&opts, false};
  prim::list_dir("/sys/class/nvme", visit_controller, &scan);
  g_any_usable = scan.usable;
}

bool any_usable() { return g_any_usable; }
const char* sysfs_root() { return "/sys"; }

void apply(const Options& opts, FileFacts* f) {
  if (f->file_reason == CMBMAP_ELIGIBLE && f->target.reason == CMBMAP_ELIGIBLE &&
      !device_allowed(opts, f->target.controller, f->target.pci))
    f->target.reason = CMBMAP_DEVICE_NOT_ALLOWED;
}

bool known_unusable(dev_t dev, int* reason) {
  bool found = false;
  prim::SpinHold hold(g_verdict_lock);
  for (int i = 0; i < g_verdict_count && i < kVerdicts && !found; ++i)
    if (g_verdicts[i].dev == dev) {
      *reason = g_verdicts[i].reason;
      found = true;
    }
  return found;
}

void remember_unusable(dev_t dev, int reason) {
  int ignored;
  if (reason == CMBMAP_ELIGIBLE || known_unusable(dev, &ignored)) return;
  prim::SpinHold hold(g_verdict_lock);
  g_verdicts[g_verdict_count++ % kVerdicts] = Verdict{dev, reason};
}

void after_fork_child() { g_verdict_lock.reset(); }

}  // namespace cmbmap::machine
