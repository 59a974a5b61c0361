#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace crmsync::testing {

// Canaries (DESIGN §5, issue #8): the e2e tests that run `crmsync` load these values as its
// secrets, run it at debug log level, and check with `expect_no_secrets_in` that none of them
// appears in anything crmsync writes or serves (its output, /metrics, the journal), in any of the
// usual encodings. The emulators of those tests accept only `kClientSecret`.
inline constexpr const char* kClientSecret = "canary-e2e+client/secret=4f1d&9 q";
// base64 of 37 bytes: the journal's HMAC key for these tests (a canary too, as text and as bytes).
inline constexpr const char* kJournalKey = "c3luYy1lbmdpbmUtZTJlLWpvdXJuYWwta2V5LTMyYnl0ZXMhIQ==";
inline constexpr const char* kJournalKeyBytes = "sync-engine-e2e-journal-key-32bytes!!";
// The password of the state and PRM databases (`password_file`). The dev databases trust local
// connections, so it is never checked, but crmsync still loads it and sends it.
inline constexpr const char* kDatabasePassword = "canary-e2e+db/password=7c2e&1 p";

enum class Base64Alphabet : bool { standard, url_safe };

// `bytes` in base64 with padding.
std::string base64_of(std::string_view bytes, Base64Alphabet alphabet = Base64Alphabet::standard);

// Every form in which a value could leak: as is, percent- and form-encoded, JSON-escaped, and
// base64 (standard and URL-safe) at each of the three byte alignments it could have inside a
// longer encoded text (only the 4-character groups made of the value's bytes alone are kept).
std::vector<std::string> leak_forms(const std::string& value);

// Fails the current test (a non-fatal failure per leaked form) if `text`, read from `where`,
// holds one of the canaries above, or one of `also` (a test's own secrets, such as a generated
// master key), in any of its leak forms.
void expect_no_secrets_in(const std::string& where, const std::string& text,
                          const std::vector<std::string>& also = {});

}  // namespace crmsync::testing
