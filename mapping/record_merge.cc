#include "mapping/record_merge.h"

#include <algorithm>
#include <charconv>

namespace crmsync::mapping {

namespace {

bool is_crm(Side side) {
  return side != Side::prm;
}

// When a party changed the record: the source's event time, or the target's as read.
long long changed_at(const MergeInput& input, Side party) {
  std::string_view text =
      party == input.source ? input.incoming_at : input.held.at(party).modified_at;
  return rfc3339_micros(text).value_or(0);
}

// The latest of `parties` (the source first on a tie).
Side latest_of(const MergeInput& input, const std::vector<Side>& parties) {
  Side best = parties.front();
  long long best_at = changed_at(input, best);
  for (Side party : parties) {
    long long at = changed_at(input, party);
    if (at > best_at || (at == best_at && party == input.source && best != input.source)) {
      best = party;
      best_at = at;
    }
  }
  return best;
}

Side decide(const MergeInput& input, ConflictPolicy policy, const std::vector<Side>& parties) {
  switch (policy) {
    case ConflictPolicy::prm_wins:
      if (std::find(parties.begin(), parties.end(), Side::prm) != parties.end()) return Side::prm;
      break;
    case ConflictPolicy::crm_wins: {
      std::vector<Side> crms;
      for (Side party : parties) {
        if (is_crm(party)) crms.push_back(party);
      }
      if (!crms.empty()) return latest_of(input, crms);
      break;
    }
    case ConflictPolicy::latest_wins:
    case ConflictPolicy::manual:
      break;
  }
  return latest_of(input, parties);
}

const FieldValue* value_on(const CanonicalFields& values, const std::string& field) {
  auto found = values.find(field);
  return found == values.end() ? nullptr : &found->second;
}

}  // namespace

MergeResult merge_record(const MergeInput& input) {
  MergeResult result;
  for (const FieldMapping& field : input.mapping->fields) {
    const FieldValue* incoming = value_on(input.incoming, field.name);
    if (incoming == nullptr) continue;
    if (input.operator_decided.count(field.name) != 0) {
      result.agreed[field.name] = *incoming;
      const FieldValue* base = value_on(input.base, field.name);
      if (base == nullptr || *base != *incoming) result.changed.push_back(field.name);
      for (const auto& [side, copy] : input.held) {
        if (!field.on(side)) continue;
        const FieldValue* theirs = value_on(copy.values, field.name);
        if (theirs == nullptr || *theirs != *incoming) result.writes[side][field.name] = *incoming;
      }
      continue;
    }
    if (input.open_conflicts.count(field.name) != 0) {
      result.held_open.push_back(field.name);
      continue;
    }
    const FieldValue* base = value_on(input.base, field.name);
    // A field never agreed (no base entry: no side had a value when crmsync created the record, e.g.
    // a CRM-only field of a PRM-born record) was empty everywhere: an empty value is no change to
    // it. Otherwise the echo of crmsync's own create, empty, would count as an edit and could win
    // against a value a person set meanwhile on another side (a lost update).
    static const FieldValue kNeverAgreed = FieldValue::null_value();
    const FieldValue& unchanged = base != nullptr ? *base : kNeverAgreed;
    if (*incoming == unchanged) continue;  // the source did not change it

    // Targets that changed the field too, to something else, since the base.
    std::vector<Side> parties{input.source};
    for (const auto& [side, copy] : input.held) {
      if (!field.on(side)) continue;
      const FieldValue* theirs = value_on(copy.values, field.name);
      if (theirs == nullptr || *theirs == *incoming) continue;
      if (*theirs == unchanged) continue;
      parties.push_back(side);
    }

    FieldValue decided = *incoming;
    if (parties.size() > 1) {
      FieldConflict conflict;
      conflict.field = field.name;
      conflict.policy = field.policy;
      if (base != nullptr) conflict.base = *base;
      conflict.values[input.source] = *incoming;
      for (std::size_t i = 1; i < parties.size(); ++i) {
        conflict.values[parties[i]] = input.held.at(parties[i]).values.at(field.name);
      }
      if (field.policy == ConflictPolicy::manual) {
        result.conflicts.push_back(std::move(conflict));
        continue;  // as it is on every side until an operator decides
      }
      Side winner = decide(input, field.policy, parties);
      conflict.winner = winner;
      decided = conflict.values.at(winner);
      result.conflicts.push_back(std::move(conflict));
    }

    result.agreed[field.name] = decided;
    if (base == nullptr || !(*base == decided)) result.changed.push_back(field.name);
    if (decided != *incoming && field.on(input.source))
      result.writes[input.source][field.name] = decided;
    for (const auto& [side, copy] : input.held) {
      if (!field.on(side)) continue;
      const FieldValue* theirs = value_on(copy.values, field.name);
      if (theirs == nullptr || *theirs != decided) result.writes[side][field.name] = decided;
    }
  }

  // Targets that do not hold the record: a create with every agreed value bound on them.
  for (Side target : input.targets) {
    if (target == input.source || input.held.count(target) != 0) continue;
    CanonicalFields& create = result.writes[target];
    for (const FieldMapping& field : input.mapping->fields) {
      if (!field.on(target)) continue;
      if (auto agreed = result.agreed.find(field.name); agreed != result.agreed.end()) {
        create[field.name] = agreed->second;
      } else if (const FieldValue* base = value_on(input.base, field.name)) {
        create[field.name] = *base;
      } else if (const FieldValue* incoming = value_on(input.incoming, field.name);
                 incoming != nullptr && input.open_conflicts.count(field.name) == 0) {
        create[field.name] = *incoming;
      }
    }
  }
  return result;
}

std::optional<long long> rfc3339_micros(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM|±HHMM)
  auto number = [&](std::size_t at, std::size_t length) -> std::optional<int> {
    if (at + length > text.size()) return std::nullopt;
    for (std::size_t i = at; i < at + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;  // no signs, no spaces
    }
    int value = 0;
    auto [end, error] = std::from_chars(text.data() + at, text.data() + at + length, value);
    if (error != std::errc() || end != text.data() + at + length) return std::nullopt;
    return value;
  };
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text.size() < 20)
    return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*month < 1 || *month > 12 || *day < 1 || *day > kDaysIn[*month - 1] || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  long long micros = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    int digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 6; ++digits) micros *= 10;
  }
  long long offset_seconds = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int sign = text[at] == '-' ? -1 : 1;
    auto hours = number(at + 1, 2);
    std::size_t minute_at = at + 3 < text.size() && text[at + 3] == ':' ? at + 4 : at + 3;
    auto minutes = number(minute_at, 2);
    if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
    offset_seconds = sign * (*hours * 3600LL + *minutes * 60LL);
    at = minute_at + 2;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm).
  int y = *year - (*month <= 2 ? 1 : 0);
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (*month + (*month > 2 ? -3 : 9)) + 2) / 5 + *day - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  long long days = era * 146097 + doe - 719468;
  long long seconds = days * 86400 + *hour * 3600LL + *minute * 60LL + *second - offset_seconds;
  return seconds * 1000000 + micros;
}

}  // namespace crmsync::mapping
