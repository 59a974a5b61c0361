#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mapping/mapping_definition.h"
#include "mapping/principal_map.h"
#include "mapping/sharing_rules.h"

namespace crmsync::mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Orgs: gold A (mapped on both CRMs), silver B (mapped on both), C (the PRM knows it, no CRM ids),
// D (mapped, deactivated). Users: a1 (org A, mapped), b1 (org B, mapped), a2 (org A, not mapped).
PrincipalMap test_map() {
  PrincipalFile file;
  file.orgs = {{"A", "00GA", "team-a", "", false},
               {"B", "00GB", "team-b", "", false},
               {"D", "00GD", "team-d", "", false},
               {"Z", "00GZ", "team-z", "", false}};  // not in the PRM: left out
  file.users = {{"a1", "", "005A1", "user-a1", false}, {"b1", "", "005B1", "user-b1", false}};
  file.salesforce_internal_owner = "005INTERNAL";
  file.dynamics_internal_owner = "team:internal";
  std::vector<DirectoryOrg> orgs = {{"A", "gold", true}, {"B", "silver", true}, {"C", "gold", true},
                                    {"D", "platinum", false}};
  std::vector<DirectoryUser> users = {{"a1", "A", true}, {"a2", "A", true}, {"b1", "B", true}};
  return build_principal_map(file, orgs, users);
}

Sharing owned_by_a() {
  Sharing sharing;
  sharing.owner_partner_org = "A";
  sharing.owner_user = "a1";
  sharing.grants = {{"partner_org:B", ShareGrant::Access::read}};
  return sharing;
}

TEST(PrincipalMap, TranslatesMappedActivePrincipalsOnly) {
  PrincipalMap map = test_map();
  EXPECT_EQ(map.to_side(Side::salesforce, "partner_org:A"), "00GA");
  EXPECT_EQ(map.to_side(Side::dynamics, "partner_org:A"), "team:team-a");
  EXPECT_EQ(map.to_side(Side::dynamics, "partner_user:a1"), "systemuser:user-a1");
  EXPECT_EQ(map.to_side(Side::salesforce, "partner_org:C"), std::nullopt) << "no CRM id: never guessed";
  EXPECT_EQ(map.to_side(Side::salesforce, "partner_org:D"), std::nullopt) << "deactivated org";
  EXPECT_EQ(map.to_side(Side::salesforce, "partner_org:Z"), std::nullopt) << "unknown to the PRM";
  EXPECT_EQ(map.to_side(Side::salesforce, "partner_user:a2"), std::nullopt);
  EXPECT_EQ(map.from_side(Side::salesforce, "00GB"), "partner_org:B");
  EXPECT_EQ(map.from_side(Side::dynamics, "team-b"), "partner_org:B") << "a bare GUID names a team";
  EXPECT_EQ(map.from_side(Side::dynamics, "systemuser:user-b1"), "partner_user:b1");
  EXPECT_EQ(map.from_side(Side::salesforce, "00GD"), std::nullopt);
  EXPECT_EQ(map.from_side(Side::salesforce, "005SOMEONE"), std::nullopt);
  EXPECT_EQ(map.org("A")->tier, "gold");
  // Deactivated or unknown to the PRM: granted nothing, still recognised (to take access away).
  EXPECT_TRUE(map.is_partner_principal(Side::salesforce, "00GD"));
  EXPECT_TRUE(map.is_partner_principal(Side::dynamics, "team:team-z"));
  EXPECT_FALSE(map.is_partner_principal(Side::salesforce, "005SOMEONE"));
  EXPECT_EQ(map.internal_owner(Side::salesforce), "005INTERNAL");
}

TEST(PrincipalMap, FileIsParsedAndEveryProblemNamed) {
  auto good = parse_principal_file(R"(
schema = 1
[internal]
salesforce_owner = "005I"
dynamics_owner = "team:0001"
[[partner_org]]
prm = "A"
salesforce_group = "00GA"
dynamics_team = "team-a"
[[partner_user]]
prm = "a1"
salesforce_user = "005A1"
)",
                                   "principals.toml");
  ASSERT_TRUE(good.file) << (good.problems.empty() ? "" : good.problems.front());
  EXPECT_EQ(good.file->orgs.size(), 1u);
  EXPECT_EQ(good.file->users.at(0).salesforce_user, "005A1");
  EXPECT_EQ(good.file->dynamics_internal_owner, "team:0001");

  auto bad = parse_principal_file(R"(
schema = 2
[internal]
dynamics_owner = "0001"
[[partner_org]]
salesforce_group = "00GA"
colour = "red"
[[partner_org]]
prm = "A"
[[partner_org]]
prm = "A"
)",
                                  "p.toml");
  EXPECT_FALSE(bad.file);
  ASSERT_EQ(bad.problems.size(), 5u);
  EXPECT_THAT(bad.problems[0], HasSubstr("schema"));
  EXPECT_THAT(bad.problems[1], HasSubstr("team:<guid>"));
  EXPECT_THAT(bad.problems[2], HasSubstr("partner_org[0].prm: required key is missing"));
  EXPECT_THAT(bad.problems[3], HasSubstr("partner_org[0].colour: unknown key"));
  EXPECT_THAT(bad.problems[4], HasSubstr("listed twice (p.toml:11)"));

  auto broken = parse_principal_file("schema = ", "x.toml");
  ASSERT_EQ(broken.problems.size(), 1u);
  EXPECT_THAT(broken.problems[0], HasSubstr("x.toml:1"));
}

TEST(SharingOnSide, SalesforceOwnerUserAndOrgShareDataverseOwnerTeam) {
  PrincipalMap map = test_map();
  Sharing sharing = owned_by_a();
  sharing.grants.push_back({"partner_org:C", ShareGrant::Access::edit});  // no CRM ids
  SideSharing salesforce = sharing_on_side(sharing, Side::salesforce, map);
  EXPECT_EQ(salesforce.owner, "005A1");
  EXPECT_EQ(salesforce.shares, (std::map<std::string, ShareGrant::Access>{{"00GA", ShareGrant::Access::edit},
                                                                           {"00GB", ShareGrant::Access::read}}));
  EXPECT_THAT(salesforce.unresolved, ElementsAre("partner_org:C"));

  SideSharing dynamics = sharing_on_side(sharing, Side::dynamics, map);
  EXPECT_EQ(dynamics.owner, "team:team-a");
  EXPECT_EQ(dynamics.shares, (std::map<std::string, ShareGrant::Access>{{"team:team-b", ShareGrant::Access::read}}));
}

TEST(SharingOnSide, UnresolvedOwnerIsDeniedNotGuessed) {
  PrincipalMap map = test_map();
  Sharing sharing;
  sharing.owner_partner_org = "D";  // deactivated
  sharing.owner_user = "a2";        // not mapped
  SideSharing salesforce = sharing_on_side(sharing, Side::salesforce, map);
  EXPECT_EQ(salesforce.owner, std::nullopt);
  EXPECT_THAT(salesforce.shares, IsEmpty());
  EXPECT_THAT(salesforce.unresolved, ElementsAre("partner_org:D", "partner_user:a2"));
  SideSharing dynamics = sharing_on_side(sharing, Side::dynamics, map);
  EXPECT_EQ(dynamics.owner, std::nullopt);
}

TEST(ShareWrites, RevocationsComeBeforeGrants) {
  SideSharing before{std::nullopt, {{"g1", ShareGrant::Access::read}, {"g2", ShareGrant::Access::read}}, {}};
  SideSharing after{std::nullopt, {{"g2", ShareGrant::Access::edit}, {"g3", ShareGrant::Access::read}}, {}};
  auto writes = share_writes(ObjectKind::deal, "006X", before, after);
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_FALSE(writes[0].grant);
  EXPECT_EQ(writes[0].principal_id, "g1");
  EXPECT_TRUE(writes[1].grant);
  EXPECT_EQ(writes[1].principal_id, "g2");
  EXPECT_EQ(writes[1].access, ShareGrant::Access::edit);
  EXPECT_EQ(writes[2].principal_id, "g3");
  EXPECT_THAT(share_writes(ObjectKind::deal, "006X", after, after), IsEmpty());
}

SideSharing holding(std::optional<std::string> owner, std::map<std::string, ShareGrant::Access> shares) {
  return SideSharing{std::move(owner), std::move(shares), {}};
}

TEST(ObservedSharingChange, SalesforceAsWrittenIsNoChangeAndInternalSharesAreIgnored) {
  PrincipalMap map = test_map();
  Sharing base = owned_by_a();
  SideSharing written = sharing_on_side(base, Side::salesforce, map);
  SideSharing now = written;
  now.shares["00GINTERNALTEAM"] = ShareGrant::Access::edit;  // no partner's
  EXPECT_TRUE(observed_sharing_change(Side::salesforce, base, written, now, map).empty());
}

TEST(ObservedSharingChange, SalesforceRevocationsAndGrantsAndOwnerChanges) {
  PrincipalMap map = test_map();
  Sharing base = owned_by_a();
  SideSharing written = sharing_on_side(base, Side::salesforce, map);  // OwnerId a1; 00GA edit, 00GB read
  // B's read share revoked, b1 granted edit, OwnerId moved to an internal user.
  SideSharing now = holding("005INTERNAL", {{"00GA", ShareGrant::Access::edit}, {"005B1", ShareGrant::Access::edit}});
  SharingChange change = observed_sharing_change(Side::salesforce, base, written, now, map);
  EXPECT_TRUE(change.owner_user_changed);
  EXPECT_EQ(change.owner_user, std::nullopt);
  EXPECT_FALSE(change.owner_partner_org_changed);
  EXPECT_THAT(change.revoked, ElementsAre("partner_org:B"));
  ASSERT_EQ(change.granted.size(), 1u);
  EXPECT_EQ(change.granted[0].principal, "partner_user:b1");

  // The owner org's share deleted in Salesforce: the org loses the record (deprovisioning).
  SharingChange taken = observed_sharing_change(Side::salesforce, base, written,
                                                holding("005A1", {{"00GB", ShareGrant::Access::read}}), map);
  EXPECT_TRUE(taken.owner_partner_org_changed);
  EXPECT_EQ(taken.owner_partner_org, std::nullopt);
  EXPECT_FALSE(taken.owner_user_changed);
  EXPECT_THAT(taken.revoked, IsEmpty());
}

TEST(ObservedSharingChange, ARecordBornInSalesforceOwnedByAPartnerUserBelongsToTheUsersOrg) {
  PrincipalMap map = test_map();
  Sharing base;  // nothing known yet
  SideSharing now = holding("005A1", {{"00GA", ShareGrant::Access::edit}, {"00GB", ShareGrant::Access::read}});
  SharingChange change = observed_sharing_change(Side::salesforce, base, SideSharing{}, now, map);
  EXPECT_EQ(change.owner_user, "a1");
  EXPECT_TRUE(change.owner_partner_org_changed);
  EXPECT_EQ(change.owner_partner_org, "A");
  ASSERT_EQ(change.granted.size(), 1u) << "A's Edit share is its ownership, not a grant";
  EXPECT_EQ(change.granted[0].principal, "partner_org:B");
}

TEST(ObservedSharingChange, GrantsTheSideNeverHeldAreNotReadAsRevoked) {
  PrincipalMap map = test_map();
  Sharing base;
  base.owner_partner_org = "C";  // no CRM ids
  base.grants = {{"partner_org:C", ShareGrant::Access::read}, {"partner_user:a2", ShareGrant::Access::edit},
                 {"partner_org:B", ShareGrant::Access::read}};
  SideSharing nothing_written;  // e.g. the principal map learnt B after the record was written
  EXPECT_TRUE(observed_sharing_change(Side::salesforce, base, nothing_written, nothing_written, map).empty());
  EXPECT_TRUE(observed_sharing_change(Side::dynamics, base, nothing_written, nothing_written, map).empty());
}

TEST(ObservedSharingChange, DataverseOwnerTeamAndAccessRights) {
  PrincipalMap map = test_map();
  Sharing base = owned_by_a();
  SideSharing written = sharing_on_side(base, Side::dynamics, map);  // owner team-a; team-b read
  // Reassigned to B's team, which keeps its read right.
  SharingChange change = observed_sharing_change(
      Side::dynamics, base, written, holding("team:team-b", {{"team:team-b", ShareGrant::Access::read}}), map);
  EXPECT_TRUE(change.owner_partner_org_changed);
  EXPECT_EQ(change.owner_partner_org, "B");
  EXPECT_TRUE(change.owner_user_changed) << "a1 is not a user of B";
  EXPECT_THAT(change.revoked, IsEmpty());
  EXPECT_THAT(change.granted, IsEmpty());

  // Assigned to an internal team and B's right revoked.
  SharingChange internal =
      observed_sharing_change(Side::dynamics, base, written, holding("team:internal", {}), map);
  EXPECT_TRUE(internal.owner_partner_org_changed);
  EXPECT_EQ(internal.owner_partner_org, std::nullopt);
  EXPECT_THAT(internal.revoked, ElementsAre("partner_org:B"));

  // Edit granted to a1's systemuser.
  SideSharing widened = written;
  widened.shares["systemuser:user-a1"] = ShareGrant::Access::edit;
  SharingChange granted = observed_sharing_change(Side::dynamics, base, written, widened, map);
  ASSERT_EQ(granted.granted.size(), 1u);
  EXPECT_EQ(granted.granted[0].principal, "partner_user:a1");
  EXPECT_FALSE(granted.owner_partner_org_changed);
}

TEST(ApplySharingChange, RoundTripsWithTheDifference) {
  Sharing before = owned_by_a();
  Sharing after = before;
  after.owner_user.reset();
  after.grants = {{"partner_org:C", ShareGrant::Access::edit}, {"partner_user:b1", ShareGrant::Access::read}};
  SharingChange change = sharing_difference(before, after);
  EXPECT_EQ(apply_sharing_change(before, change), after);
  EXPECT_TRUE(sharing_difference(after, after).empty());
}

struct Authorization : ::testing::Test {
  PrincipalMap map = test_map();
  const MappingDefinition& mapping = []() -> const MappingDefinition& {
    static const MappingDefinition shipped = default_mapping();
    return shipped;
  }();
  Actor partner(std::string id) {
    Actor actor;
    actor.kind = Actor::Kind::partner_user;
    actor.id = std::move(id);
    return actor;
  }
  AuthorizationDecision decide(const Actor& actor, const Sharing& before, const Sharing& after,
                               std::vector<std::string> fields, bool new_record = false) {
    PartnerChange change;
    change.actor = &actor;
    change.new_record = new_record;
    change.sharing_before = &before;
    change.sharing_after = &after;
    change.changed_fields = std::move(fields);
    change.sharing_changed = !sharing_difference(before, after).empty();
    return authorize_partner_change(change, mapping.deal, map);
  }
};

TEST_F(Authorization, OwnerOrgMayEditPartnerEditableFields) {
  Actor a2 = partner("a2");  // unmapped on the CRMs: authorization needs only the PRM directory
  EXPECT_TRUE(decide(a2, owned_by_a(), owned_by_a(), {"amount", "close_date", "name"}).allowed());
}

TEST_F(Authorization, AnotherOrgWithReadAccessIsDeniedTheWholeChange) {
  Actor b1 = partner("b1");
  auto decision = decide(b1, owned_by_a(), owned_by_a(), {"amount"});
  EXPECT_TRUE(decision.record_denied);
  EXPECT_THAT(decision.reason, HasSubstr("may not edit this record"));
  Sharing shared_edit = owned_by_a();
  shared_edit.grants = {{"partner_user:b1", ShareGrant::Access::edit}};
  EXPECT_TRUE(decide(b1, shared_edit, shared_edit, {"amount"}).allowed());
}

TEST_F(Authorization, TierGatedAndVisibleFieldsAreDeniedOneByOne) {
  Sharing owned_by_b;
  owned_by_b.owner_partner_org = "B";
  Actor b1 = partner("b1");  // silver
  auto decision = decide(b1, owned_by_b, owned_by_b, {"amount", "discount_percent"});
  EXPECT_FALSE(decision.record_denied);
  EXPECT_THAT(decision.denied_fields, ElementsAre("discount_percent"));
  EXPECT_THAT(decision.reason, HasSubstr("gold/platinum partners only (org B is silver)"));
  EXPECT_TRUE(decide(partner("a1"), owned_by_a(), owned_by_a(), {"discount_percent"}).allowed()) << "A is gold";
}

TEST_F(Authorization, OnlyTheOwnerOrgChangesSharingAndNobodyTheOwnerOrg) {
  Sharing before = owned_by_a();
  before.grants.push_back({"partner_org:B", ShareGrant::Access::edit});
  Sharing widened = before;
  widened.grants.push_back({"partner_org:C", ShareGrant::Access::read});
  EXPECT_TRUE(decide(partner("b1"), before, widened, {}).sharing_denied);
  EXPECT_TRUE(decide(partner("a1"), before, widened, {}).allowed());
  Sharing taken = before;
  taken.owner_partner_org = "B";
  EXPECT_TRUE(decide(partner("a1"), before, taken, {}).sharing_denied);
}

TEST_F(Authorization, NewRecordsMustBeOwnedByTheActorsOrgAndInactiveActorsAreDenied) {
  Sharing none;
  EXPECT_TRUE(decide(partner("a1"), none, owned_by_a(), {"name"}, true).allowed());
  EXPECT_TRUE(decide(partner("b1"), none, owned_by_a(), {"name"}, true).record_denied);
  EXPECT_TRUE(decide(partner("nobody"), owned_by_a(), owned_by_a(), {"name"}).record_denied);
  Actor internal;
  internal.kind = Actor::Kind::internal_user;
  EXPECT_TRUE(decide(internal, none, owned_by_a(), {"discount_percent"}).allowed());
}

}  // namespace
}  // namespace crmsync::mapping
