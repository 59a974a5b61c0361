#include "mapping/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace crmsync::mapping {

std::chrono::milliseconds RetryPolicy::delay_for_attempt(int attempt,
                                                         const UniformRandom& uniform01) const {
  double base = static_cast<double>(initial.count()) *
                std::pow(multiplier, static_cast<double>(std::max(attempt, 0)));
  base = std::min(base, static_cast<double>(max.count()));
  double spread = 1.0 - jitter + 2.0 * jitter * uniform01();
  double delay = std::clamp(base * spread, 0.0, static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<long long>(std::llround(delay)));
}

UniformRandom make_uniform_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace crmsync::mapping
