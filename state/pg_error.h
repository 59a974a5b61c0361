#pragma once

#include <exception>
#include <string_view>

#include "mapping/sync_error.h"

namespace crmsync::state {

// Classifies a SQLSTATE code (the one switch over SQLSTATEs in crmsync).
mapping::ErrorClass classify_sqlstate(std::string_view sqlstate);

// Turns an exception thrown by libpqxx into a classified error. `what_failed` names the operation
// ("connect to the state database", "apply migration 3") and starts the message.
mapping::SyncError classify_pg_exception(const std::exception& error, std::string_view what_failed);

}  // namespace crmsync::state
