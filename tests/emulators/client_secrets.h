#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "tests/emulators/http_message.h"

namespace crmsync::emulators {

// The client secrets an emulated OAuth client accepts. Both real CRMs let an administrator hold
// more than one at a time, which is how a secret is rotated without downtime: Salesforce keeps the
// old consumer secret valid while a new one is staged, Entra ID accepts every secret of an app
// registration until it is deleted or expires. The start state is the --client-secret flag's
// value alone. Not thread-safe: the owning API's mutex guards it.
class ClientSecrets {
 public:
  void reset(const std::string& initial);
  bool accepts(const std::string& secret) const;

  // `POST /_emulator/oauth/client-secrets` with {"add":"S"} and/or {"remove":"S"}: answers
  // {"client_secrets":N}; 400 when the body is not such an object or would remove the last one.
  // Nothing when `rest` is another route.
  std::optional<HttpResponse> admin(const HttpRequest& request, std::string_view rest);

 private:
  std::set<std::string> secrets_;
};

}  // namespace crmsync::emulators
