// libFuzzer target: the canonical event codec (mapping/event_json.cc) that the apply path runs on
// every Kafka record: parse_event, and the base snapshot / sharing codecs of the state database
// (parse_fields_json, parse_sharing_json). Invariants: malformed input is an `invalid` error with
// a message; whatever parses is written back by the writers and reads back the same
// (parse → write → parse → write gives the same text / value; a stored sharing has no
// record_type).
#include <cstdint>

#include "mapping/event_json.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crmsync;
  std::string_view input = fuzz::as_text(data, size);

  auto event = mapping::parse_event(input);
  if (event) {
    std::string first = mapping::to_json(event.value());
    auto again = mapping::parse_event(first);
    if (!again) fuzz::invariant_failed("to_json wrote an event parse_event refuses: " + again.error().message);
    CRMSYNC_FUZZ_CHECK(mapping::to_json(again.value()) == first, "event round trip changed the event");
  } else {
    fuzz::check_error(event.error(), "parse_event");
    CRMSYNC_FUZZ_CHECK(event.error().error_class == mapping::ErrorClass::invalid, "parse_event: not `invalid`");
  }

  auto fields = mapping::parse_fields_json(input);
  if (fields) {
    auto again = mapping::parse_fields_json(mapping::fields_to_json(fields.value()));
    if (!again) fuzz::invariant_failed("fields_to_json wrote what parse_fields_json refuses: " + again.error().message);
    CRMSYNC_FUZZ_CHECK(again.value() == fields.value(), "fields round trip changed a value");
  } else {
    fuzz::check_error(fields.error(), "parse_fields_json");
  }

  auto sharing = mapping::parse_sharing_json(input);
  if (sharing) {
    auto again = mapping::parse_sharing_json(mapping::sharing_to_json(sharing.value()));
    if (!again) fuzz::invariant_failed("sharing_to_json wrote what parse_sharing_json refuses: " + again.error().message);
    // The stored form leaves out record_type (the engine compares sharing without it).
    mapping::Sharing expected = sharing.value();
    expected.record_type.clear();
    CRMSYNC_FUZZ_CHECK(again.value() == expected, "sharing round trip changed the sharing");
  } else {
    fuzz::check_error(sharing.error(), "parse_sharing_json");
  }
  return 0;
}
