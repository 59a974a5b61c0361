// libFuzzer target: the mapping loader (mapping/mapping_loader.cc): parse_mapping over arbitrary
// TOML text, and for a mapping that loads, the value translation it defines (to_canonical, then
// to_side_checked and to_side back) over a fixed set of native values.
// Invariants: exactly one of mapping and problems; every problem renders as a line; values that
// came out of to_canonical are writable (to_side documents that it never throws for them).
#include <cstdint>
#include <stdexcept>

#include "mapping/mapping_definition.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace crmsync;
using mapping::FieldValue;

const std::vector<FieldValue> kNativeValues = {
    FieldValue::string_value("Acme GmbH"),     FieldValue::string_value("120000.50"),
    FieldValue::number_value("120000.5"),      FieldValue::number_value("-7"),
    FieldValue::boolean_value(true),           FieldValue::string_value("2026-11-28"),
    FieldValue::string_value("2026-11-28T10:00:00Z"), FieldValue::null_value(),
    FieldValue::number_value("1e400"),         FieldValue::string_value("")};

void translate(const mapping::ObjectMapping& object, mapping::Side side, std::size_t variant) {
  std::vector<mapping::Field> native;
  std::size_t i = variant;
  for (const std::string& name : object.native_read_names(side)) {
    native.push_back({name, kNativeValues[i++ % kNativeValues.size()]});
  }
  auto canonical = mapping::to_canonical(object, side, native);
  for (mapping::Side target : {mapping::Side::prm, mapping::Side::salesforce, mapping::Side::dynamics}) {
    (void)mapping::to_side_checked(object, target, canonical.fields);
    try {
      (void)mapping::to_side(object, target, canonical.fields);
    } catch (const std::invalid_argument& error) {
      fuzz::invariant_failed(std::string("to_side refused what to_canonical produced: ") + error.what());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto load = mapping::parse_mapping(fuzz::as_text(data, size), "fuzz.toml");
  CRMSYNC_FUZZ_CHECK(load.mapping.has_value() == load.problems.empty(), "a mapping and problems, or neither");
  for (const auto& problem : load.problems) {
    CRMSYNC_FUZZ_CHECK(!problem.message.empty(), "a problem without a message");
    CRMSYNC_FUZZ_CHECK(!mapping::to_string(problem).empty(), "a problem that renders empty");
  }
  if (!load.mapping) return 0;
  for (const auto* object : {&load.mapping->account, &load.mapping->deal}) {
    for (mapping::Side side : {mapping::Side::prm, mapping::Side::salesforce, mapping::Side::dynamics}) {
      for (std::size_t variant = 0; variant < 3; ++variant) translate(*object, side, variant);
    }
  }
  return 0;
}
