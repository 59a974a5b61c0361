#pragma once

#include <vector>

#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// The objects every Salesforce emulator knows before a seed adds fields: Account, Opportunity,
// User, Group, GroupMember, AccountShare, OpportunityShare, with the standard fields a sync uses
// and the external id field PRM_Id__c on Account and Opportunity.
std::vector<ObjectDef> salesforce_builtin_objects();

// The describe "type" of a field ("id", "string", "currency", "double", "reference", ...).
const char* salesforce_field_type(const FieldDef& field);

}  // namespace crmsync::emulators
