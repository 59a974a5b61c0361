#include "connectors/prm/replication_connection.h"

#include <fmt/format.h>
#include <poll.h>

#include <chrono>

#include "connectors/prm/replication_frames.h"
#include "connectors/prm/libpq_session.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

}  // namespace

bool is_valid_slot_name(const std::string& slot) {
  if (slot.empty() || slot.size() > 63) return false;
  for (char c : slot) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

struct ReplicationConnection::Impl {
  ~Impl() {
    if (connection != nullptr) PQfinish(connection);
  }
  PGconn* connection = nullptr;
};

ReplicationConnection::ReplicationConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplicationConnection::~ReplicationConnection() = default;

mapping::Result<std::unique_ptr<ReplicationConnection>> ReplicationConnection::connect(
    const PrmConnectionSettings& settings) {
  auto opened = open_prm_session(settings, true, "replication");
  if (!opened) return opened.error();
  auto impl = std::make_unique<Impl>();
  impl->connection = opened.value();
  return std::unique_ptr<ReplicationConnection>(new ReplicationConnection(std::move(impl)));
}

mapping::Result<SystemIdentity> ReplicationConnection::identify_system() {
  PgResult result(PQexec(impl_->connection, "IDENTIFY_SYSTEM"));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1 ||
      PQnfields(result.get()) < 4) {
    return libpq_error(impl_->connection, result.get(), "IDENTIFY_SYSTEM");
  }
  SystemIdentity identity;
  identity.system_id = PQgetvalue(result.get(), 0, 0);
  identity.timeline = std::atoi(PQgetvalue(result.get(), 0, 1));
  auto position = Lsn::parse(PQgetvalue(result.get(), 0, 2));
  if (!position) return SyncError{ErrorClass::fatal, "IDENTIFY_SYSTEM: unparsable xlogpos"};
  identity.wal_position = *position;
  identity.database = PQgetisnull(result.get(), 0, 3) ? "" : PQgetvalue(result.get(), 0, 3);
  return identity;
}

mapping::Result<CreatedSlot> ReplicationConnection::create_slot(const std::string& slot,
                                                                bool export_snapshot) {
  if (!is_valid_slot_name(slot)) {
    return SyncError{ErrorClass::invalid, fmt::format("replication slot name \"{}\" must be 1-63 "
                                                      "of a-z 0-9 _", slot)};
  }
  std::string command = fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT '{}')",
                                    slot, export_snapshot ? "export" : "nothing");
  PgResult result(PQexec(impl_->connection, command.c_str()));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return libpq_error(impl_->connection, result.get(),
                        fmt::format("create replication slot {}", slot));
  }
  CreatedSlot created;
  created.name = PQgetvalue(result.get(), 0, 0);
  auto point = Lsn::parse(PQgetvalue(result.get(), 0, 1));
  if (!point) return SyncError{ErrorClass::fatal, "CREATE_REPLICATION_SLOT: unparsable consistent_point"};
  created.consistent_point = *point;
  if (!PQgetisnull(result.get(), 0, 2)) created.snapshot_name = PQgetvalue(result.get(), 0, 2);
  return created;
}

mapping::Result<SlotState> ReplicationConnection::query_slot(const std::string& slot) {
  if (!is_valid_slot_name(slot)) {
    return SyncError{ErrorClass::invalid, fmt::format("replication slot name \"{}\" must be 1-63 "
                                                      "of a-z 0-9 _", slot)};
  }
  std::string sql = fmt::format(
      "SELECT active, plugin, confirmed_flush_lsn, restart_lsn FROM pg_replication_slots "
      "WHERE slot_name = '{}' AND database = current_database()",
      slot);
  PgResult result(PQexec(impl_->connection, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return libpq_error(impl_->connection, result.get(), fmt::format("look up slot {}", slot));
  }
  SlotState state;
  if (PQntuples(result.get()) == 0) return state;
  state.exists = true;
  state.active = std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
  state.plugin = PQgetvalue(result.get(), 0, 1);
  if (!PQgetisnull(result.get(), 0, 2)) state.confirmed_flush = Lsn::parse(PQgetvalue(result.get(), 0, 2));
  if (!PQgetisnull(result.get(), 0, 3)) state.restart_lsn = Lsn::parse(PQgetvalue(result.get(), 0, 3));
  return state;
}

mapping::Status ReplicationConnection::drop_slot(const std::string& slot) {
  if (!is_valid_slot_name(slot)) return SyncError{ErrorClass::invalid, "invalid slot name"};
  std::string command = fmt::format("DROP_REPLICATION_SLOT {} WAIT", slot);
  PgResult result(PQexec(impl_->connection, command.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return libpq_error(impl_->connection, result.get(), fmt::format("drop replication slot {}", slot));
  }
  return mapping::ok_status();
}

mapping::Status ReplicationConnection::start_replication(const std::string& slot, Lsn start,
                                                         const std::string& publication) {
  if (!is_valid_slot_name(slot) || !is_valid_slot_name(publication)) {
    return SyncError{ErrorClass::invalid, "slot and publication names must be 1-63 of a-z 0-9 _"};
  }
  std::string command = fmt::format(
      "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names '{}', "
      "messages 'true')",
      slot, start.to_string(), publication);
  PgResult result(PQexec(impl_->connection, command.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COPY_BOTH) {
    return libpq_error(impl_->connection, result.get(),
                        fmt::format("start replication from slot {}", slot));
  }
  return mapping::ok_status();
}

mapping::Result<std::optional<std::string>> ReplicationConnection::read_frame(
    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    char* buffer = nullptr;
    int length = PQgetCopyData(impl_->connection, &buffer, 1);
    if (length > 0) {
      std::string frame(buffer, static_cast<std::size_t>(length));
      PQfreemem(buffer);
      return std::optional<std::string>(std::move(frame));
    }
    if (length == -1) {  // the server ended the stream
      PgResult result(PQgetResult(impl_->connection));
      return libpq_error(impl_->connection, result.get(), "replication stream ended");
    }
    if (length == -2) {
      return SyncError{ErrorClass::transient,
                       "replication stream: " + one_line(PQerrorMessage(impl_->connection))};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<std::string>();
    pollfd waiting{PQsocket(impl_->connection), POLLIN, 0};
    int ready = ::poll(&waiting, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return SyncError{ErrorClass::transient, "replication stream: poll failed"};
    }
    if (ready > 0 && PQconsumeInput(impl_->connection) == 0) {
      return SyncError{ErrorClass::transient,
                       "replication stream: " + one_line(PQerrorMessage(impl_->connection))};
    }
  }
}

mapping::Status ReplicationConnection::send_status(Lsn written, Lsn flushed, bool reply_requested) {
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string message = encode_standby_status(written, flushed, flushed,
                                              unix_to_postgres_epoch_us(now_us), reply_requested);
  if (PQputCopyData(impl_->connection, message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(impl_->connection) != 0) {
    return SyncError{ErrorClass::transient,
                     "send standby status: " + one_line(PQerrorMessage(impl_->connection))};
  }
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::prm
