// Shared renderings of CMB, p2pmem and extent flags (see target_json.h).
#include "tools/cli/target_json.h"

#include <linux/fiemap.h>

namespace cmbmap::cli {

namespace {
struct FlagName { uint32_t bit; const char* name; };
const FlagName kFiemap[] = {
    {FIEMAP_EXTENT_LAST, "last"},           {FIEMAP_EXTENT_UNKNOWN, "unknown"},
    {FIEMAP_EXTENT_DELALLOC, "delalloc"},   {FIEMAP_EXTENT_ENCODED, "encoded"},
    {FIEMAP_EXTENT_DATA_ENCRYPTED, "encrypted"}, {FIEMAP_EXTENT_NOT_ALIGNED, "not_aligned"},
    {FIEMAP_EXTENT_DATA_INLINE, "inline"},  {FIEMAP_EXTENT_DATA_TAIL, "tail"},
    {FIEMAP_EXTENT_UNWRITTEN, "unwritten"}, {FIEMAP_EXTENT_MERGED, "merged"},
    {FIEMAP_EXTENT_SHARED, "shared"},
};
}  // namespace

void cmb_json(Json& j, const CmbInfo& c) {
  j.begin_object("cmb").boolean("present", c.present);
  if (c.present && c.size == 0) {
    j.null("size");  // known to exist, geometry hidden by the kernel
  } else if (c.present) {
    j.num("size", c.size).num("bar", c.bar).num("offset", c.offset).boolean("sqs", c.sqs)
        .boolean("cqs", c.cqs).boolean("lists", c.lists).boolean("rds", c.rds).boolean("wds", c.wds);
  }
  j.end_object();
}

void p2pmem_json(Json& j, const P2pmemInfo& p) {
  j.begin_object("p2pmem").boolean("present", p.present);
  if (p.present) j.num("size", p.size).num("available", p.available).boolean("published", p.published);
  j.end_object();
}

std::string cmb_flags_text(const CmbInfo& c) {
  std::string s;
  auto add = [&](bool on, const char* n) { if (on) s += s.empty() ? n : std::string(",") + n; };
  add(c.sqs, "SQS"); add(c.cqs, "CQS"); add(c.lists, "LISTS"); add(c.rds, "RDS"); add(c.wds, "WDS");
  return s.empty() ? "-" : s;
}

std::string fiemap_flags_text(uint32_t flags) {
  std::string s;
  for (const FlagName& f : kFiemap)
    if (flags & f.bit) s += s.empty() ? f.name : std::string(",") + f.name;
  return s.empty() ? "-" : s;
}

void fiemap_flags_json(Json& j, uint32_t flags) {
  j.begin_array("flags");
  for (const FlagName& f : kFiemap)
    if (flags & f.bit) j.str_item(f.name);
  j.end_array();
}

}  // namespace cmbmap::cli
