#pragma once

#include <cstddef>
#include <string_view>

namespace crmsync::mapping {

// Levenshtein distance: how many single-character edits turn `a` into `b`. Both configuration
// readers (the main config and the mapping file) rank their "did you mean" suggestions with it.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace crmsync::mapping
