#include "connectors/dynamics/dataverse_applier.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_shared_access.h"

namespace crmsync::connectors::dynamics {

namespace {

using mapping::CrmRecordWrite;
using mapping::CrmShareWrite;
using mapping::CrmWriteResult;
using mapping::ErrorClass;
using mapping::SyncError;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t kMaxBatch = 1000;
constexpr int kMaxRounds =
    5;  // per record, for answers of its own that can be retried (429/5xx in a part)

void write_string(JsonWriter& out, std::string_view text) {
  out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// Field values are written by mapping::to_json_value (exact numbers, non-finite as strings).
void write_value(JsonWriter& out, const mapping::FieldValue& value) {
  std::string json = mapping::to_json_value(value);
  out.RawValue(json.data(), json.size(), rapidjson::kStringType);
}

std::string record_body(const CrmRecordWrite& write, bool include_key) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  for (const auto& field : write.fields) {
    write_string(out, field.name);
    write_value(out, field.value);
  }
  if (include_key) {
    write_string(out, kPrmIdKey);
    write_string(out, write.prm_id);
  }
  if (write.owner_id) {
    PrincipalRef owner = parse_principal(*write.owner_id);
    write_string(out, "ownerid@odata.bind");
    write_string(out, fmt::format("/{}s({})", owner.logical_name, owner.id));
  }
  out.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string record_path(const EntitySet& set, const CrmRecordWrite& write) {
  if (write.crm_id) return fmt::format("{}({})", set.set_name, *write.crm_id);
  return fmt::format("{}({})", set.set_name, alternate_key(write.prm_id));
}

std::string describe(const CrmRecordWrite& write) {
  const EntitySet& set = entity_set_for(write.object);
  return fmt::format("{} {} prm_id={}{}",
                     write.op == mapping::CanonicalEvent::Operation::remove ? "delete" : "upsert",
                     set.set_name, write.prm_id, write.crm_id ? " id=" + *write.crm_id : "");
}

BatchOperation record_operation(const std::string& api_base, const CrmRecordWrite& write) {
  const EntitySet& set = entity_set_for(write.object);
  BatchOperation op;
  if (write.op == mapping::CanonicalEvent::Operation::remove) {
    op.method = "DELETE";
    op.url = api_base + record_path(set, write);
  } else {
    op.method = "PATCH";
    op.url = api_base + record_path(set, write) + "?$select=" + set.primary_key;
    op.headers.emplace_back("Prefer", "return=representation");
    op.body = record_body(write, write.crm_id.has_value());
  }
  if (write.etag) op.headers.emplace_back("If-Match", *write.etag);
  return op;
}

// What one answered record operation means for the engine.
CrmWriteResult record_result(const CrmRecordWrite& write, const BatchPartResponse& part) {
  const EntitySet& set = entity_set_for(write.object);
  CrmWriteResult result;
  result.crm_id = write.crm_id;
  result.created = part.status == 201;
  rapidjson::Document doc;
  if (!part.body.empty()) doc.Parse(part.body.c_str());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember(set.primary_key.c_str()) &&
      doc[set.primary_key.c_str()].IsString()) {
    result.crm_id = doc[set.primary_key.c_str()].GetString();
  } else if (auto entity = part.header("odata-entityid")) {
    if (auto guid = trailing_guid(*entity)) result.crm_id = *guid;
  }
  return result;
}

std::string share_target(const CrmShareWrite& share) {
  const EntitySet& set = entity_set_for(share.object);
  return fmt::format(R"({{"{}":"{}","@odata.type":"Microsoft.Dynamics.CRM.{}"}})", set.primary_key,
                     json_escape(share.crm_record_id), set.logical_name);
}

std::string share_principal(const PrincipalRef& principal) {
  return fmt::format(R"({{"{}id":"{}","@odata.type":"Microsoft.Dynamics.CRM.{}"}})",
                     principal.logical_name, json_escape(principal.id), principal.logical_name);
}

}  // namespace

const EntitySet& entity_set_for(mapping::ObjectKind object) {
  static const EntitySet kAccounts{"account", "accounts", "accountid"};
  static const EntitySet kOpportunities{"opportunity", "opportunities", "opportunityid"};
  return object == mapping::ObjectKind::deal ? kOpportunities : kAccounts;
}

PrincipalRef parse_principal(const std::string& principal) {
  if (principal.starts_with("systemuser:")) return {"systemuser", principal.substr(11)};
  if (principal.starts_with("team:")) return {"team", principal.substr(5)};
  return {"team", principal};
}

DataverseApplier::DataverseApplier(DataverseClient& client, DataverseApplySettings settings,
                                   std::shared_ptr<spdlog::logger> logger)
    : client_(client), settings_(settings), logger_(std::move(logger)) {
  if (settings_.batch_size == 0 || settings_.batch_size > kMaxBatch) {
    throw std::invalid_argument(fmt::format("dynamics.batch_size: expected 1..{}, got {}",
                                            kMaxBatch, settings_.batch_size));
  }
}

mapping::Result<std::vector<DataverseApplier::ChangeSetOutcome>> DataverseApplier::send_batch(
    const std::vector<ChangeSet>& sets, const std::string& what, http::Deadline deadline) {
  std::string boundary = random_batch_boundary();
  DataverseRequest request =
      batch_request(boundary, build_batch_body(sets, boundary),
                    fmt::format("POST $batch ({}, {} change sets)", what, sets.size()));
  ++batches_sent_;
  auto answer = client_.send(request, deadline);
  if (!answer) return answer.error();
  auto parts =
      parse_batch_response(answer.value().header("content-type").value_or(""), answer.value().body);
  if (!parts) return parts.error();
  std::vector<ChangeSetOutcome> outcomes(sets.size());
  std::vector<bool> answered(sets.size(), false);
  for (auto& part : parts.value()) {
    auto index = change_set_of(part.content_id);
    if (!index || *index >= sets.size()) {
      // Only a failed request without Content-ID could come back so; nothing to map it to.
      logger_->error(
          "dataverse $batch answer part without a known Content-ID status={} what=\"{}\"",
          part.status, what);
      continue;
    }
    answered[*index] = true;
    if (auto error = batch_part_error(part, what)) {
      outcomes[*index].error = std::move(error);
      outcomes[*index].status = part.status;
    } else {
      outcomes[*index].parts.push_back(std::move(part));
    }
  }
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (!answered[i]) {
      outcomes[i].error = SyncError{
          ErrorClass::transient, "dataverse: the $batch answer holds nothing for this change set"};
    }
  }
  return outcomes;
}

mapping::Result<std::vector<CrmWriteResult>> DataverseApplier::apply(
    const std::vector<CrmRecordWrite>& writes, http::Deadline deadline) {
  std::vector<CrmWriteResult> results(writes.size());
  std::vector<int> rounds(writes.size(), 0);
  std::vector<std::size_t> pending(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) pending[i] = i;
  while (!pending.empty()) {
    std::vector<std::size_t> next;
    for (std::size_t start = 0; start < pending.size(); start += settings_.batch_size) {
      std::size_t end = std::min(pending.size(), start + settings_.batch_size);
      std::vector<ChangeSet> sets;
      for (std::size_t k = start; k < end; ++k)
        sets.push_back({record_operation(client_.api_base(), writes[pending[k]])});
      auto outcomes = send_batch(sets, fmt::format("{} record(s)", end - start), deadline);
      if (!outcomes) return outcomes.error();
      std::size_t failed = 0;
      for (std::size_t k = start; k < end; ++k) {
        std::size_t index = pending[k];
        const CrmRecordWrite& write = writes[index];
        ChangeSetOutcome& outcome = outcomes.value()[k - start];
        ++rounds[index];
        if (!outcome.error && !outcome.parts.empty()) {
          results[index] = record_result(write, outcome.parts.front());
          continue;
        }
        SyncError error =
            outcome.error.value_or(SyncError{ErrorClass::transient, "dataverse: empty answer"});
        bool gone = write.op == mapping::CanonicalEvent::Operation::remove && outcome.status == 404;
        if (gone) {  // deleting what is not there (any more) is done
          results[index] = CrmWriteResult{write.crm_id, false, std::nullopt};
          continue;
        }
        if (write.op == mapping::CanonicalEvent::Operation::upsert && write.etag && outcome.status == 404) {
          // An update of a row deleted since it was read (If-Match never creates): the delete's
          // change event is on its way.
          error.message = fmt::format("{} ({})", error.message, describe(write));
          results[index] = CrmWriteResult{write.crm_id, false, std::move(error), true};
          continue;
        }
        if (mapping::is_retryable(error.error_class) && rounds[index] < kMaxRounds &&
            std::chrono::steady_clock::now() < deadline) {
          next.push_back(index);
          continue;
        }
        ++failed;
        error.message = fmt::format("{} ({})", error.message, describe(write));
        results[index] = CrmWriteResult{write.crm_id, false, std::move(error)};
      }
      logger_->info("dataverse batch applied records={} failed={} retry_later={}", end - start,
                    failed, next.size());
    }
    pending = std::move(next);
  }
  return results;
}

mapping::Result<std::vector<mapping::Status>> DataverseApplier::apply_shares(
    const std::vector<CrmShareWrite>& shares, http::Deadline deadline) {
  std::vector<mapping::Status> statuses(shares.size(), mapping::ok_status());
  const std::size_t per_batch =
      std::max<std::size_t>(1, std::min(settings_.batch_size, kMaxBatch / 2));
  for (std::size_t start = 0; start < shares.size(); start += per_batch) {
    std::size_t end = std::min(shares.size(), start + per_batch);
    std::vector<ChangeSet> sets;
    for (std::size_t k = start; k < end; ++k) {
      const CrmShareWrite& share = shares[k];
      PrincipalRef principal = parse_principal(share.principal_id);
      std::string target = share_target(share);
      ChangeSet set;
      if (share.grant) {
        std::string mask = share.access == mapping::ShareGrant::Access::edit
                               ? "ReadAccess,WriteAccess"
                               : "ReadAccess";
        std::string body =
            fmt::format(R"({{"Target":{},"PrincipalAccess":{{"Principal":{},"AccessMask":"{}"}}}})",
                        target, share_principal(principal), mask);
        set.push_back({"POST", client_.api_base() + "GrantAccess", {}, body});
        set.push_back(
            {"POST", client_.api_base() + "ModifyAccess", {}, body});  // exactly this mask
      } else {
        std::string body =
            fmt::format(R"({{"Target":{},"Revokee":{}}})", target, share_principal(principal));
        set.push_back({"POST", client_.api_base() + "RevokeAccess", {}, body});
      }
      sets.push_back(std::move(set));
    }
    auto outcomes = send_batch(sets, fmt::format("{} share(s)", end - start), deadline);
    if (!outcomes) return outcomes.error();
    for (std::size_t k = start; k < end; ++k) {
      auto& outcome = outcomes.value()[k - start];
      if (outcome.error) {
        SyncError error = *outcome.error;
        error.message = fmt::format("{} ({} {} record={} principal={})", error.message,
                                    shares[k].grant ? "grant" : "revoke",
                                    entity_set_for(shares[k].object).set_name,
                                    shares[k].crm_record_id, shares[k].principal_id);
        statuses[k] = std::move(error);
      }
    }
  }
  return statuses;
}

mapping::Result<std::vector<SharedPrincipal>> DataverseApplier::shared_principals(
    mapping::ObjectKind object, const std::string& crm_record_id, http::Deadline deadline) {
  return retrieve_shared_principals(client_, object, crm_record_id, deadline);
}

mapping::Result<std::vector<SharedPrincipal>> retrieve_shared_principals(
    DataverseClient& client, mapping::ObjectKind object, const std::string& crm_record_id,
    http::Deadline deadline) {
  DataverseRequest request;
  request.target = shared_principals_target(object, crm_record_id);
  request.description = fmt::format("GET RetrieveSharedPrincipalsAndAccess {} id={}",
                                    entity_set_for(object).set_name, crm_record_id);
  auto answer = client.send(request, deadline);
  if (!answer) return answer.error();
  return parse_shared_principals(answer.value().body, request.description);
}

}  // namespace crmsync::connectors::dynamics
