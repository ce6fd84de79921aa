// The one spelling of "exported from libcmbmap.so": the interposers and the
// public C API (include/cmbmap/cmbmap.h). Everything else is hidden
// (-fvisibility=hidden) and shim/libcmbmap.map lists exactly these names.
#pragma once

#define CMBMAP_EXPORT extern "C" __attribute__((visibility("default")))
// An older glibc version of an interposed call, exported as NAME@VERSION
// (the version script defines VERSION; the function's own name stays local).
#define CMBMAP_COMPAT(versioned) extern "C" __attribute__((visibility("default"), symver(versioned)))
