// The value comparison `crmsync reconcile` uses: numbers by value, everything else exactly.

#include <gtest/gtest.h>

#include "daemon/drift_scan.h"

namespace crmsync::daemon {
namespace {

using mapping::FieldValue;

TEST(SameCanonicalValue, NumbersCompareByValue) {
  EXPECT_TRUE(same_canonical_value(FieldValue::number_value("120000"), FieldValue::number_value("120000.00")));
  EXPECT_TRUE(same_canonical_value(FieldValue::number_value("0120.500"), FieldValue::number_value("120.5")));
  EXPECT_TRUE(same_canonical_value(FieldValue::number_value("-0.0"), FieldValue::number_value("0")));
  EXPECT_TRUE(same_canonical_value(FieldValue::number_value(".5"), FieldValue::number_value("0.50")));
  EXPECT_FALSE(same_canonical_value(FieldValue::number_value("120000"), FieldValue::number_value("120000.01")));
  EXPECT_FALSE(same_canonical_value(FieldValue::number_value("-5"), FieldValue::number_value("5")));
  EXPECT_FALSE(same_canonical_value(FieldValue::number_value("10"), FieldValue::number_value("1")));
}

TEST(SameCanonicalValue, NonDecimalNumbersAndOtherKindsCompareExactly) {
  EXPECT_FALSE(same_canonical_value(FieldValue::number_value("1e3"), FieldValue::number_value("1000")));
  EXPECT_TRUE(same_canonical_value(FieldValue::number_value("NaN"), FieldValue::number_value("NaN")));
  EXPECT_FALSE(same_canonical_value(FieldValue::string_value("100"), FieldValue::number_value("100")));
  EXPECT_FALSE(same_canonical_value(FieldValue::string_value("a"), FieldValue::string_value("A")));
  EXPECT_TRUE(same_canonical_value(FieldValue::null_value(), FieldValue::null_value()));
  EXPECT_FALSE(same_canonical_value(FieldValue::null_value(), FieldValue::string_value("")));
}

}  // namespace
}  // namespace crmsync::daemon
