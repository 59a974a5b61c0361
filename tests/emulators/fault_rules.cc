#include "tests/emulators/fault_rules.h"

#include "tests/emulators/text.h"

namespace crmsync::emulators {

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

int FaultRules::add(FaultRule rule) {
  std::lock_guard lock(mutex_);
  int id = next_id_++;
  std::mt19937_64 random(rule.seed);
  entries_.push_back(Entry{id, std::move(rule), random});
  return id;
}

void FaultRules::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::size_t FaultRules::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::optional<FaultRule> FaultRules::match(std::string_view method, std::string_view path,
                                           bool in_batch) {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const FaultRule& rule = it->rule;
    if (rule.in_batch != in_batch) continue;
    if (rule.method != "*" && !iequals(rule.method, method)) continue;
    if (!glob_match(rule.path_pattern, path)) continue;
    if (rule.probability < 1.0) {
      std::uniform_real_distribution<double> draw(0.0, 1.0);
      if (draw(it->random) >= rule.probability) continue;
    }
    FaultRule fired = rule;
    if (it->rule.times > 0 && --it->rule.times == 0) entries_.erase(it);
    return fired;
  }
  return std::nullopt;
}

}  // namespace crmsync::emulators
