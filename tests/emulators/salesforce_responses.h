#pragma once

#include <string>
#include <vector>

#include "tests/emulators/http_message.h"
#include "tests/emulators/salesforce_api.h"

namespace crmsync::emulators {

// Salesforce REST answer shapes: application/json;charset=UTF-8 bodies, error arrays
// [{"message","errorCode","fields"}], per-record results
// {"id","success","errors":[{"statusCode",...}]}.
HttpResponse salesforce_json(int status, std::string body);
HttpResponse salesforce_error(int status, const std::string& code, const std::string& message,
                              const std::vector<std::string>& fields = {});
HttpResponse salesforce_errors(int status, const std::vector<SalesforceError>& errors);
// {"id":...,"success":...,"errors":[...]} (+ "created" when with_created).
std::string salesforce_save_result(const std::string& id,
                                   const std::vector<SalesforceError>& errors, bool with_created,
                                   bool created);
std::string salesforce_version_path(double version);  // "/services/data/v59.0"

}  // namespace crmsync::emulators
