// Yields to I/O until a condition holds (bounded), so a test can act once an async step is under way
// without sleeping for a guessed time.
import assert from 'node:assert/strict';

export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 50_000; attempt += 1) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`timed out waiting until ${what}`);
}
