#include "connectors/prm/sharing_view.h"

namespace crmsync::connectors::prm {

void SharingView::set_owner(const RecordKey& record, std::optional<std::string> partner_org,
                            std::optional<std::string> user) {
  Entry& entry = records_[record];
  entry.owner_partner_org = std::move(partner_org);
  entry.owner_user = std::move(user);
  entry.record_seen = true;
}

bool SharingView::knows_record(const RecordKey& record) const {
  auto it = records_.find(record);
  return it != records_.end() && it->second.record_seen;
}

void SharingView::grant(const RecordKey& record, const std::string& principal,
                        mapping::ShareGrant::Access access) {
  records_[record].grants[principal] = access;
}

void SharingView::revoke(const RecordKey& record, const std::string& principal) {
  auto it = records_.find(record);
  if (it != records_.end()) it->second.grants.erase(principal);
}

void SharingView::forget(const RecordKey& record) { records_.erase(record); }

mapping::Sharing SharingView::sharing_of(const RecordKey& record) const {
  mapping::Sharing sharing;
  sharing.record_type = std::string(mapping::to_string(record.first));
  auto it = records_.find(record);
  if (it == records_.end()) return sharing;
  sharing.owner_partner_org = it->second.owner_partner_org;
  sharing.owner_user = it->second.owner_user;
  for (const auto& [principal, access] : it->second.grants) {
    sharing.grants.push_back({principal, access});
  }
  return sharing;
}

}  // namespace crmsync::connectors::prm
