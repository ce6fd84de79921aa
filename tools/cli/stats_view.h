// How `cmbmap stat` shows one process's statistics block: a JSON object or
// a line of its table. The block comes from a file another process wrote
// (live_stats.h), so every field may hold anything.
#pragma once

#include <string>

#include "cmbmap/cmbmap.h"
#include "tools/cli/json.h"

namespace cmbmap::cli {

void stats_json(const cmbmap_stats& s, Json& j);
std::string stats_header();
std::string stats_row(const cmbmap_stats& s);  // ends in a newline

}  // namespace cmbmap::cli
