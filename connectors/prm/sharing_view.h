#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "mapping/canonical_event.h"

namespace crmsync::connectors::prm {

// The capture's view of who may see each PRM record: owner and grants, kept current from the
// initial load and the replication stream, so that every event carries the record's complete
// sharing as of its commit (a share row alone does not say what else is granted). One thread
// (the capture's).
class SharingView {
 public:
  using RecordKey = std::pair<mapping::ObjectKind, std::string>;

  void set_owner(const RecordKey& record, std::optional<std::string> partner_org,
                 std::optional<std::string> user);
  void grant(const RecordKey& record, const std::string& principal, mapping::ShareGrant::Access access);
  void revoke(const RecordKey& record, const std::string& principal);
  void forget(const RecordKey& record);

  // True once the record itself was seen (snapshot, load or stream), and until it is forgotten.
  // Share rows may name a record not seen yet (written earlier in the same transaction).
  bool knows_record(const RecordKey& record) const;

  // The record's sharing; deny by default: an unknown record has no owner and no grants.
  mapping::Sharing sharing_of(const RecordKey& record) const;
  std::size_t record_count() const { return records_.size(); }

 private:
  struct Entry {
    std::optional<std::string> owner_partner_org;
    std::optional<std::string> owner_user;
    std::map<std::string, mapping::ShareGrant::Access> grants;
    bool record_seen = false;
  };
  std::map<RecordKey, Entry> records_;
};

}  // namespace crmsync::connectors::prm
