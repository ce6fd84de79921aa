// Start-up scan of /sys/class/nvme (see machine.h).
#include "machine.h"

#include "../../resolver/device.h"
#include "../../resolver/prim.h"
#include "../../resolver/text.h"

namespace cmbmap::machine {
namespace {

bool g_any_usable;

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

}  // namespace cmbmap::machine
