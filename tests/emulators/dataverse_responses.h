#pragma once

#include <string>

#include <vector>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/http_message.h"
#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// Dataverse Web API answer shapes: OData-Version 4.0, application/json; odata.metadata=minimal,
// and error bodies {"error":{"code":"0x…","message":"…"}}.
HttpResponse dataverse_json(int status, std::string body);
HttpResponse dataverse_error(int status, const std::string& code, const std::string& message);
HttpResponse dataverse_empty(int status);

// The Prefer header's preferences, trimmed; whether one starts with `what`.
std::vector<std::string> prefer_list(const DataverseCall& call);
bool prefers(const DataverseCall& call, std::string_view what);
// W/"<versionnumber>"
std::string etag_of(const Record& record);

// 8-4-4-4-12 hexadecimal.
bool is_dataverse_guid(std::string_view text);
// 400 0x80048d19 "Error identified in Payload provided by the user for Entity :'account' …".
HttpResponse dataverse_payload_error(const ObjectDef& def, const std::string& detail);
// 412 0x80060892: an alternate-key value that another row holds.
HttpResponse dataverse_duplicate_key();
// "account With Id = <id> Does Not Exist"
std::string dataverse_not_found_message(const ObjectDef& def, const std::string& id);

// The mask names of AccessRights, comma-joined with `separator`.
std::string access_mask_names(int mask, const std::string& separator);
// Parses "ReadAccess, WriteAccess"; -1 on an unknown name.
int parse_access_mask(const std::string& text);

}  // namespace crmsync::emulators
