#pragma once

#include <memory>

#include "tests/emulators/call_stats.h"
#include "tests/emulators/emulated_api.h"
#include "tests/emulators/emulator_clock.h"
#include "tests/emulators/fault_rules.h"
#include "tests/emulators/http_message.h"

namespace crmsync::emulators {

// The request handler the server calls: the admin API under /_emulator/, fault rules, call
// statistics, then the emulated API. Owns nothing but references; main owns all parts.
class EmulatorService {
 public:
  EmulatorService(EmulatedApi& api, FaultRules& faults, CallStats& stats, EmulatorClock& clock)
      : api_(api), faults_(faults), stats_(stats), clock_(clock) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse admin(const HttpRequest& request, std::string_view rest);

  EmulatedApi& api_;
  FaultRules& faults_;
  CallStats& stats_;
  EmulatorClock& clock_;
};

}  // namespace crmsync::emulators
