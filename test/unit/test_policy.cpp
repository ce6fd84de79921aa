// Mapping-level reasons: every one reachable, in the documented precedence.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "shim/core/policy.h"
#include "cmbmap/cmbmap.h"

using namespace cmbmap;

namespace {
Options base() {
  Options o{};
  o.min_size = 1 << 20;
  return o;
}
}  // namespace

Test(policy, reasons_in_order) {
  Options o = base();
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ, MAP_SHARED), CMBMAP_ELIGIBLE);
  cr_assert_eq(policy::mapping_reason(o, false, 4096, PROT_READ, MAP_SHARED), CMBMAP_TOO_SMALL);
  cr_assert_eq(policy::mapping_reason(o, true, 4 << 20, PROT_READ, MAP_SHARED), CMBMAP_SETUID);
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED),
               CMBMAP_WRITABLE_SHARED);
  o.disable = true;
  cr_assert_eq(policy::mapping_reason(o, true, 4096, PROT_READ, MAP_SHARED), CMBMAP_DISABLED);
}

Test(policy, writable_private_and_executable_stay_ordinary) {
  Options o = base();
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE),
               CMBMAP_WRITABLE_PRIVATE);
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ, MAP_PRIVATE), CMBMAP_ELIGIBLE);
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_EXEC, MAP_PRIVATE),
               CMBMAP_EXECUTABLE);
}

Test(policy, opted_in_shared_writable_is_eligible) {
  Options o = base();
  o.writable = true;
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED),
               CMBMAP_ELIGIBLE);
}

Test(policy, shared_validate_is_shared) {
  // MAP_SHARED_VALIDATE is MAP_SHARED with flag checking: its stores reach
  // the file, so it is a writable shared mapping wherever MAP_SHARED is.
  Options o = base();
  cr_assert(policy::shared(MAP_SHARED_VALIDATE));
  cr_assert(policy::shared(MAP_SHARED));
  cr_assert(!policy::shared(MAP_PRIVATE));
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE),
               CMBMAP_WRITABLE_SHARED);
  o.writable = true;
  cr_assert_eq(policy::mapping_reason(o, false, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE),
               CMBMAP_ELIGIBLE);
}

Test(policy, append_only_opens_need_noappend) {
  cr_assert_eq(policy::writable_open_reason(O_RDWR | O_APPEND, false), CMBMAP_WRITE_APPEND);
  cr_assert_eq(policy::writable_open_reason(O_RDWR | O_APPEND, true), CMBMAP_ELIGIBLE);
  cr_assert_eq(policy::writable_open_reason(O_RDWR, false), CMBMAP_ELIGIBLE);
}

Test(policy, min_size_zero_allows_all) {
  Options o = base();
  o.min_size = 0;
  cr_assert_eq(policy::mapping_reason(o, false, 1, PROT_READ, MAP_SHARED), CMBMAP_ELIGIBLE);
}

Test(policy, which_changes_give_a_range_back) {
  cr_assert(policy::protect_needs_revoke(PROT_READ | PROT_WRITE));
  cr_assert(policy::protect_needs_revoke(PROT_READ | PROT_EXEC));
  cr_assert_not(policy::protect_needs_revoke(PROT_READ));
  cr_assert_not(policy::protect_needs_revoke(PROT_NONE));
  cr_assert(policy::advice_needs_revoke(MADV_DONTNEED));
  cr_assert(policy::advice_needs_revoke(MADV_REMOVE));
  cr_assert_not(policy::advice_needs_revoke(MADV_WILLNEED));
  cr_assert_not(policy::advice_needs_revoke(MADV_SEQUENTIAL));
}

Test(reason, names_are_unique_and_stable) {
  cr_assert_str_eq(cmbmap_reason_name(CMBMAP_ELIGIBLE), "ELIGIBLE");
  cr_assert_str_eq(cmbmap_reason_name(CMBMAP_NO_P2PDMA), "NO_P2PDMA");
  cr_assert_str_eq(cmbmap_reason_name(CMBMAP_REASON_COUNT), "INVALID");
  cr_assert_str_eq(cmbmap_reason_name(-1), "INVALID");
  for (int a = 0; a < CMBMAP_REASON_COUNT; ++a)
    for (int b = a + 1; b < CMBMAP_REASON_COUNT; ++b)
      cr_assert_str_neq(cmbmap_reason_name(a), cmbmap_reason_name(b));
}
