// Tiny assertion helpers shared by the conformance scripts: each check prints one line, and the
// process exits non-zero when any failed.
let failures = 0;

export async function check(name, fn) {
  try {
    await fn();
    console.log(`  ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`  FAIL ${name}: ${error && error.stack ? error.stack : error}`);
  }
}

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

export function equal(actual, wanted, what) {
  if (actual !== wanted) throw new Error(`${what}: expected ${JSON.stringify(wanted)}, got ${JSON.stringify(actual)}`);
}

// Runs `fn`, which must throw; returns the error.
export async function rejects(fn, what) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: expected an error, got success`);
}

export function finish(label) {
  if (failures > 0) {
    console.log(`${label}: ${failures} check(s) failed`);
    process.exit(1);
  }
  console.log(`${label}: all checks passed`);
}
