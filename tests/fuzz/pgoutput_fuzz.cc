// libFuzzer target: the PRM capture's decoding of the replication stream (connectors/prm): one
// server frame (decode_server_frame), one pgoutput message (decode_pgoutput), and a stream of
// messages through the TransactionAssembler. Input: the bytes of one message, also read as a
// stream of messages each preceded by its length (2 bytes, big-endian). Invariants: malformed
// input is an error with a message, never an exception or a read past the end (ASan).
#include <cstdint>
#include <string_view>

#include "connectors/prm/pgoutput_decoder.h"
#include "connectors/prm/replication_frames.h"
#include "connectors/prm/transaction_assembler.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace crmsync;
using namespace crmsync::connectors::prm;

void decode_one(std::string_view payload) {
  auto message = decode_pgoutput(payload);
  if (!message) {
    fuzz::check_error(message.error(), "decode_pgoutput");
    CRMSYNC_FUZZ_CHECK(message.error().error_class == mapping::ErrorClass::invalid,
                       "decode_pgoutput: malformed input must be `invalid`");
  }
}

void assemble_stream(std::string_view input) {
  TransactionAssembler assembler;
  while (input.size() >= 2) {
    std::size_t length = (static_cast<unsigned char>(input[0]) << 8) | static_cast<unsigned char>(input[1]);
    input.remove_prefix(2);
    std::string_view payload = input.substr(0, length);
    input.remove_prefix(payload.size());
    auto message = decode_pgoutput(payload);
    if (!message) continue;
    auto fed = assembler.feed(std::move(message).value());
    if (!fed) {
      fuzz::check_error(fed.error(), "TransactionAssembler::feed");
      return;  // the capture restarts from its slot after a protocol error
    }
    if (fed.value()) {
      for (const RowChange& change : fed.value()->changes) {
        CRMSYNC_FUZZ_CHECK(change.relation != nullptr, "a committed change without its relation");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::as_text(data, size);
  decode_one(input);
  auto frame = decode_server_frame(input);
  if (frame) {
    if (const auto* wal = std::get_if<XLogData>(&frame.value())) decode_one(wal->payload);
  } else {
    fuzz::check_error(frame.error(), "decode_server_frame");
  }
  assemble_stream(input);
  return 0;
}
