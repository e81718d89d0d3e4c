// Yields to I/O until a condition holds (at most `timeoutMs` of wall time), so a test can act once an
// async step is under way without sleeping for a guessed time.
import assert from 'node:assert/strict';

export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadlineMs; attempt += 1) {
    if (condition()) return;
    // Mostly setImmediate (fast under fake time); a 1 ms timer now and then lets real time pass.
    await new Promise((resolve) => (attempt % 100 === 99 ? setTimeout(resolve, 1) : setImmediate(resolve)));
  }
  if (condition()) return;
  assert.fail(`timed out waiting until ${what}`);
}
