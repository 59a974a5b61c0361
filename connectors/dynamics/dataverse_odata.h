#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crmsync::connectors::dynamics {

// The alternate key that holds the PRM id on accounts and opportunities.
inline constexpr std::string_view kPrmIdKey = "crmsync_prmid";

// `crmsync_prmid='…'` with quotes doubled and the value percent-encoded for a URL path.
std::string alternate_key(std::string_view prm_id);

// Percent-encoding of everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);

// True for a GUID in Dataverse's key form: 8-4-4-4-12 hex digits, no braces.
bool is_guid(std::string_view text);
// The lower-case form Dataverse answers with (GUIDs compare case-insensitively).
std::string canonical_guid(std::string_view guid);

// The GUID at the end of an OData-EntityId ("…/accounts(<guid>)"); nothing for an alternate-key
// form.
std::optional<std::string> trailing_guid(std::string_view entity_id);

// Escapes text for a JSON string literal (without the quotes).
std::string json_escape(std::string_view text);

}  // namespace crmsync::connectors::dynamics
