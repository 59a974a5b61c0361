#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace crmsync::mapping {

// The systems crmsync keeps in sync. The spelling of each value is the one used in canonical
// events ("source": "prm|salesforce|dynamics") and in Kafka topic names.
enum class Side { prm, salesforce, dynamics };

// The synced object kinds ("object": "account|deal").
enum class ObjectKind { account, deal };

std::string_view to_string(Side side);
std::string_view to_string(ObjectKind kind);
std::optional<Side> parse_side(std::string_view text);
std::optional<ObjectKind> parse_object_kind(std::string_view text);

// A record id as one side knows it. The tag makes a SalesforceId a different type from a
// DataverseId and a PrmId, so that ids of different systems can never be mixed up silently.
template <typename Tag>
class RecordId {
 public:
  explicit RecordId(std::string value) : value_(std::move(value)) {}
  const std::string& value() const { return value_; }
  friend auto operator<=>(const RecordId&, const RecordId&) = default;

 private:
  std::string value_;
};

struct PrmIdTag {};
struct SalesforceIdTag {};
struct DataverseIdTag {};

using PrmId = RecordId<PrmIdTag>;
using SalesforceId = RecordId<SalesforceIdTag>;
using DataverseId = RecordId<DataverseIdTag>;

}  // namespace crmsync::mapping
