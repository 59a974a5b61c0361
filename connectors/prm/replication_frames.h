#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "connectors/prm/lsn.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// The streaming-replication framing around logical messages (CopyBoth sub-protocol).

// 'w': a piece of WAL, here one pgoutput message.
struct XLogData {
  Lsn wal_start;
  Lsn wal_end;
  std::int64_t send_time_us = 0;
  std::string_view payload;  // points into the frame given to decode_server_frame
};

// 'k': the server's keepalive; when `reply_requested`, a status update is due at once or the
// server ends the connection after wal_sender_timeout.
struct PrimaryKeepalive {
  Lsn wal_end;
  std::int64_t send_time_us = 0;
  bool reply_requested = false;
};

using ServerFrame = std::variant<XLogData, PrimaryKeepalive>;

mapping::Result<ServerFrame> decode_server_frame(std::string_view frame);

// 'r': the standby status update. `flushed` is what the slot may release: everything before it is
// safely handled (for crmsync: acknowledged by Kafka).
std::string encode_standby_status(Lsn written, Lsn flushed, Lsn applied, std::int64_t now_us,
                                  bool reply_requested);

// Microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch) for a Unix time in microseconds.
std::int64_t unix_to_postgres_epoch_us(std::int64_t unix_us);
std::int64_t postgres_to_unix_epoch_us(std::int64_t postgres_us);

}  // namespace crmsync::connectors::prm
