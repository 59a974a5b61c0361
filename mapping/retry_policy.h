#pragma once

#include <chrono>
#include <functional>

namespace crmsync::mapping {

// A source of uniformly distributed numbers in [0, 1), injected so that jittered delays are
// reproducible in tests.
using UniformRandom = std::function<double()>;

// Jittered exponential backoff, as data. The delay before retry `attempt` (0 = the first retry)
// is initial × multiplier^attempt, capped at `max`, then spread by ±jitter so that replicas that
// failed together do not retry together. Callers bound the total by the deadline they were given.
struct RetryPolicy {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{std::chrono::seconds(30)};
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction of the delay, 0 ≤ jitter < 1

  std::chrono::milliseconds delay_for_attempt(int attempt, const UniformRandom& uniform01) const;
};

// The production random source (a per-call-site std::mt19937_64 seeded from std::random_device).
UniformRandom make_uniform_random();

}  // namespace crmsync::mapping
