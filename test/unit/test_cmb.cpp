// CMB register decoding and the device verdict; sysfs reading from fixtures.
#include <criterion/criterion.h>

#include "resolver/cmb.h"

using namespace cmbmap;

// Values the emulated controller reports (QEMU 7.2, cmb_size_mb=64).
Test(cmb, decodes_qemu_64mib_cmb) {
  CmbInfo c = decode_cmb(0x62, 0x0004021d);
  cr_assert(c.present);
  cr_assert_eq(c.size, 64ull << 20);
  cr_assert_eq(c.bar, 2u);
  cr_assert_eq(c.offset, 0u);
  cr_assert(c.sqs && c.lists && c.rds && c.wds);
  cr_assert_not(c.cqs);
}

Test(cmb, decodes_units_and_offset) {
  // SZU=1 (64 KiB units), SZ=3, OFST=2 units into BAR 4, only SQS.
  CmbInfo c = decode_cmb((2u << 12) | 4, (3u << 12) | (1u << 8) | 1);
  cr_assert_eq(c.size, 3ull * 64 * 1024);
  cr_assert_eq(c.offset, 2ull * 64 * 1024);
  cr_assert_eq(c.bar, 4u);
  cr_assert(c.sqs);
  cr_assert_not(c.rds);
}

Test(cmb, zero_or_reserved_size_means_none) {
  cr_assert_not(decode_cmb(0x62, 0).present);
  cr_assert_not(decode_cmb(0x62, (1u << 12) | (7u << 8)).present);
}

Test(cmb, reason_precedence) {
  P2pmemInfo pub{true, 64 << 20, 60 << 20, true};
  P2pmemInfo none{};
  P2pmemInfo unpublished{true, 64 << 20, 64 << 20, false};
  cr_assert_eq(cmb_reason(CmbInfo{}, pub), CMBMAP_NO_CMB);
  cr_assert_eq(cmb_reason(decode_cmb(0x62, 0x00040205), pub), CMBMAP_CMB_NO_READ_DATA);  // SQS|LISTS only
  cr_assert_eq(cmb_reason(decode_cmb(0x62, 0x0004021d), none), CMBMAP_NO_P2PDMA);
  cr_assert_eq(cmb_reason(decode_cmb(0x62, 0x0004021d), unpublished), CMBMAP_NO_P2PDMA);
  cr_assert_eq(cmb_reason(decode_cmb(0x62, 0x0004021d), pub), CMBMAP_ELIGIBLE);
}
