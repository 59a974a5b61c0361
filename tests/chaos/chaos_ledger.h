#pragma once

// The chaos workload's ledger: every record it created, the one side that edits it, and the final
// state it intends (marker value, sharing with the other partner, deleted or not). Owned by the
// chaos test's one thread.

#include <string>
#include <vector>

#include "mapping/record_ids.h"

namespace crmsync::testing {

struct LedgerRecord {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string name;             // unique within the run and never edited: how every side is matched
  mapping::Side editor = mapping::Side::prm;  // creates, edits, shares and deletes it; nobody else does
  std::string id;               // its id on the editor side (PRM uuid, Salesforce id, Dataverse guid)
  char owner = 0;               // 'a' or 'b' (PRM-created, owned by that partner org), 0 for none
  int account = -1;             // a deal: the ledger index of its account
  std::string marker;           // the last intended marker (account website, deal amount as "N.00")
  bool shared = false;          // shared (read) with the other partner org
  bool deleted = false;
  int live_deals = 0;           // an account with live deals is never deleted

  // The partner org that is not the owner (a record without a partner owner is shared with b).
  char other() const { return owner == 'b' ? 'a' : 'b'; }
};

// The counts the suite prints as key=value lines.
struct LedgerCheck {
  int losses = 0;       // intended records, values, shares or deletes missing on some side
  int duplicates = 0;   // records on a side beyond the one expected
  int leaks = 0;        // rows a partner can read in the PRM that the ledger does not allow
  std::vector<std::string> findings;  // what was wrong, for the failure message (first ones)

  void note(int& counter, std::string what) {
    ++counter;
    if (findings.size() < 40) findings.push_back(std::move(what));
  }
};

}  // namespace crmsync::testing
