#pragma once

// Internal to state/: the libpqxx connection behind a StateDatabase. Only state/*.cc include this.

#include <pqxx/pqxx>

#include "state/state_database.h"

namespace crmsync::state {

struct StateDatabase::Session {
  explicit Session(const std::string& uri) : connection(uri) {}
  pqxx::connection connection;
};

}  // namespace crmsync::state
