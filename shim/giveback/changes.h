// Changes of files by this process itself. Its own writes do not break its
// write lease, so a serve under a write lease counts them: it takes
// epoch() before filling and asks changed_since() after registering. Every
// hook that changes a file (write, truncate, open for writing, a writable
// mapping...) calls starting() before the call and finished() after.
#pragma once

#include <cstdint>

namespace cmbmap::changes {

void starting();
void finished();
// A change that needs no finishing (a mapping made writable): only the count moves.
void happened();
uint64_t epoch();
bool changed_since(uint64_t epoch);
void after_fork_child();

}  // namespace cmbmap::changes
