// JSON and text renderings of resolver results shared by `devices` and
// `inspect`, so both commands name fields the same way.
#pragma once

#include "resolver/types.h"
#include "tools/cli/json.h"

namespace cmbmap::cli {

void cmb_json(Json& j, const CmbInfo& c);
void p2pmem_json(Json& j, const P2pmemInfo& p);
std::string cmb_flags_text(const CmbInfo& c);
std::string fiemap_flags_text(uint32_t flags);
void fiemap_flags_json(Json& j, uint32_t flags);

}  // namespace cmbmap::cli
