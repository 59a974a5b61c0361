#pragma once

#include <rapidjson/fwd.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/dynamics/dataverse_applier.h"
#include "mapping/canonical_event.h"
#include "mapping/sync_error.h"

// Internal to connectors/dynamics: the wire form of Dataverse shares, shared by the applier
// (retrieve_shared_principals) and the share reader (the same function inside a $batch). It names
// a RapidJSON type, so only .cc files include it (they parse the answers anyway).

namespace crmsync::connectors::dynamics {

// RetrieveSharedPrincipalsAndAccess(Target=@t)?@t={'@odata.id':'accounts(<id>)'}, relative to
// the API base and percent-encoded for a request line.
std::string shared_principals_target(mapping::ObjectKind object, std::string_view crm_record_id);

// The PrincipalAccesses of a RetrieveSharedPrincipalsAndAccess answer. `invalid`, naming `what`,
// when the body is not such a document or an entry lacks its principal's type or id (a share
// that cannot be read is never dropped silently: it would look revoked).
mapping::Result<std::vector<SharedPrincipal>> parse_shared_principals(std::string_view body,
                                                                      std::string_view what);

// The `invalid` error for an answer that is not what `what` asked for: names the request and the
// problem, never the body (it may carry record data).
mapping::SyncError malformed_answer(std::string_view what, std::string_view problem);

// A string member of a JSON object; empty when absent or not a string. `object` must be an object.
std::string string_member(const rapidjson::Value& object, const char* name);

// "team:<guid>" / "systemuser:<guid>": the form parse_principal reads back.
std::string principal_string(const PrincipalRef& principal);

// An access mask ("ReadAccess, WriteAccess") as a share level: WriteAccess makes `edit`,
// ReadAccess alone `read`; nothing when it grants neither (append/assign-only rights are no
// share in crmsync's sense).
std::optional<mapping::ShareGrant::Access> share_access_of(std::string_view access_mask);

}  // namespace crmsync::connectors::dynamics
