#include "connectors/prm/replication_frames.h"

#include <fmt/format.h>

#include "connectors/prm/wire_reader.h"

namespace crmsync::connectors::prm {

namespace {

constexpr std::int64_t kPostgresEpochOffsetUs = 946'684'800LL * 1'000'000LL;

void append_u64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

}  // namespace

std::int64_t unix_to_postgres_epoch_us(std::int64_t unix_us) { return unix_us - kPostgresEpochOffsetUs; }
std::int64_t postgres_to_unix_epoch_us(std::int64_t postgres_us) {
  return postgres_us + kPostgresEpochOffsetUs;
}

mapping::Result<ServerFrame> decode_server_frame(std::string_view frame) {
  WireReader in(frame);
  try {
    char tag = static_cast<char>(in.u8());
    if (tag == 'w') {
      XLogData data;
      data.wal_start = Lsn{in.u64()};
      data.wal_end = Lsn{in.u64()};
      data.send_time_us = in.i64();
      data.payload = in.rest();
      return ServerFrame(data);
    }
    if (tag == 'k') {
      PrimaryKeepalive keepalive;
      keepalive.wal_end = Lsn{in.u64()};
      keepalive.send_time_us = in.i64();
      keepalive.reply_requested = in.u8() != 0;
      return ServerFrame(keepalive);
    }
    in.fail(fmt::format("unknown replication frame tag 0x{:02x}", static_cast<unsigned char>(tag)));
  } catch (const WireFormatError& error) {
    return mapping::SyncError{mapping::ErrorClass::invalid,
                              fmt::format("replication frame: {}", error.what())};
  }
}

std::string encode_standby_status(Lsn written, Lsn flushed, Lsn applied, std::int64_t now_us,
                                  bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  append_u64(out, written.value);
  append_u64(out, flushed.value);
  append_u64(out, applied.value);
  append_u64(out, static_cast<std::uint64_t>(now_us));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

}  // namespace crmsync::connectors::prm
