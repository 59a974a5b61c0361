#pragma once

// The sync mapping (DESIGN §1 "mapping configuration", docs/mapping.md): which canonical fields an
// object has, how each side (PRM column, Salesforce field, Dataverse attribute) holds them, their
// field class and conflict policy, and the value translation between side-native fields and
// canonical values. Pure data: the caller reads the TOML file and hands its text in.
//
// A MappingDefinition is immutable after parsing; share it by const reference between threads.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/record_ids.h"

namespace crmsync::mapping {

// The TOML spelling of each value is what to_string returns ("enum" for enumeration).
enum class FieldType { string, decimal, integer, boolean, date, enumeration, reference };
enum class FieldClass { partner_editable, partner_visible, internal };
enum class ConflictPolicy { prm_wins, crm_wins, latest_wins, manual };

std::string_view to_string(FieldType type);
std::string_view to_string(FieldClass field_class);
std::string_view to_string(ConflictPolicy policy);

// How one side holds a canonical field.
struct SideBinding {
  // PRM column / Salesforce field API name / Dataverse attribute logical name (for a Dataverse
  // lookup: the navigation/lookup name, e.g. "parentaccountid").
  std::string name;
  // canonical value -> this side's value (enumeration only; every canonical value is present).
  std::map<std::string, std::string> enum_values;
  // The side's enum values are whole numbers (a Dataverse option set): written as JSON numbers.
  bool numeric_enum_values = false;
};

struct FieldMapping {
  std::string name;  // canonical name
  FieldType type = FieldType::string;
  int scale = 2;  // decimal places (decimal only)
  FieldClass field_class = FieldClass::partner_visible;
  ConflictPolicy policy = ConflictPolicy::latest_wins;
  bool match_key = false;                // used to match existing records on first sync
  // partner_editable only: the partner tiers whose users may edit the field (DESIGN §3 tier-aware
  // rules); empty means every tier.
  std::vector<std::string> editable_tiers;
  std::optional<ObjectKind> references;  // reference type: the object referred to
  std::optional<SideBinding> prm, salesforce, dynamics;
  int line = 0;  // where the field is declared in the mapping file (0 when unknown)

  const std::optional<SideBinding>& on(Side side) const;
  std::optional<SideBinding>& on(Side side);
  // Whether a partner user of an org of `tier` may change the field (its class and tiers).
  bool partner_may_edit(std::string_view tier) const;
};

// The partner tiers of the reference PRM schema (prm.partner_orgs.tier), lowest first.
inline constexpr std::string_view kPartnerTiers[] = {"registered", "silver", "gold", "platinum"};

struct ObjectMapping {
  ObjectKind object = ObjectKind::account;
  std::vector<FieldMapping> fields;  // in file order

  const FieldMapping* field(std::string_view canonical_name) const;
  // The canonical field a side-native name maps to (for Dataverse lookups also accepts
  // "_<name>_value"; Salesforce names compare case-insensitively, as Salesforce does); nullptr
  // when unmapped.
  const FieldMapping* field_for_native(Side side, std::string_view native_name) const;
  // Native names of all fields bound on `side`, in file order (for Dataverse lookups
  // "_<name>_value", the name captures/reads return).
  std::vector<std::string> native_read_names(Side side) const;
};

struct MappingDefinition {
  ObjectMapping account{ObjectKind::account, {}};
  ObjectMapping deal{ObjectKind::deal, {}};

  const ObjectMapping& of(ObjectKind object) const;
};

// One thing wrong in a mapping file. `key` is the dotted TOML path ("deal.fields.amount.policy";
// empty for a TOML syntax error), `line` is 1-based (0 when unknown), `message` says what is wrong
// and what to write instead.
struct MappingProblem {
  std::string key;
  int line = 0;
  std::string message;
  std::string source;  // the source_name given to parse_mapping
};

// "mapping: deal.fields.amount.policy: <message> (mapping.toml:12)": one line for an operator.
std::string to_string(const MappingProblem& problem);

// Either a mapping or every problem found (not just the first), sorted by line.
struct MappingLoad {
  std::optional<MappingDefinition> mapping;
  std::vector<MappingProblem> problems;
};

// Parses and validates a mapping file (format: docs/mapping.md). `source_name` names the file in
// problems.
MappingLoad parse_mapping(std::string_view toml_text, std::string_view source_name);

// The shipped default mapping: the text of deploy/examples/mapping.toml, embedded at build time
// (mapping/CMakeLists.txt), so the two can never differ.
std::string_view default_mapping_toml();
// Parse of the above; throws std::logic_error if the shipped file is invalid.
MappingDefinition default_mapping();

// ---- Value translation (mapping/field_translation.cc) ----------------------------------------

// Canonical values: canonical field name -> normalised FieldValue.
//   decimal     number, plain notation, exactly `scale` places ("120000.00"); integer: number
//   boolean     boolean;  date: string "YYYY-MM-DD";  string: string
//   enumeration string, the canonical value;  reference: string, the side's raw id (the engine
//   resolves ids)
// Null stays null.
using CanonicalFields = std::map<std::string, FieldValue>;

// Side-native fields (as the captures put them in events) -> canonical. Unmapped native names are
// ignored (listed in `ignored`). A value that cannot be read as its field's type is left out of
// `fields` and reported in `problems`, naming the field and the kind of value, never the value
// (partner data must not be in messages).
struct CanonicalTranslation {
  CanonicalFields fields;
  std::vector<std::string> ignored;
  std::vector<std::string> problems;
};
CanonicalTranslation to_canonical(const ObjectMapping& mapping, Side side,
                                  const std::vector<Field>& native_fields);

// Canonical -> side-native writes for the fields bound on `side` (only those present in `values`),
// in mapping order. Enumeration -> the side's value. Reference: `values` holds the side's id,
// already resolved by the engine; for Dataverse it becomes {"<name>@odata.bind",
// "/<entity set>(<id>)"} (account -> accounts, deal -> opportunities), null ->
// {"<name>@odata.bind", null}; Salesforce and PRM references are written as the plain id.
struct SideTranslation {
  std::vector<Field> fields;
  std::vector<std::string> problems;  // values that cannot be written (field named, value not)
};
SideTranslation to_side_checked(const ObjectMapping& mapping, Side side,
                                const CanonicalFields& values);
// As to_side_checked, for values that came from to_canonical (so are valid by construction);
// throws std::invalid_argument naming the first problem otherwise (a programming error).
std::vector<Field> to_side(const ObjectMapping& mapping, Side side, const CanonicalFields& values);

}  // namespace crmsync::mapping
