// Shared by the interposer files: the export attribute and the shape every
// hook has. A hook forwards at once unless the core is active and not
// already running on this thread.
#pragma once

#define CMBMAP_EXPORT extern "C" __attribute__((visibility("default")))
