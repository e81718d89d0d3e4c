// Runs the embedded demo as `npm run demo` does and in-process, on loopback addresses of its own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { DEFAULT_TOPOLOGY_PATH, loadDemoTopology, runDemo } from '../../scripts/demo.ts';

const run = promisify(execFile);

/** A second octet no other test of this suite uses, so the data plane's fixed ports are free. */
function freeLoopbackOctet(): number {
  return 100 + Math.floor(Math.random() * 150);
}

describe('demo', function () {
  this.timeout(60_000);

  it('prints both nodes’ loads and an ADVICE for node-a, then exits 0 (npm run demo)', async () => {
    const { stdout } = await run(
      'npm',
      [
        'run',
        '--silent',
        'demo',
        '--',
        '--duration-ms',
        '4000',
        '--loopback-octet',
        String(freeLoopbackOctet()),
      ],
      { cwd: new URL('../../', import.meta.url).pathname, timeout: 50_000 },
    );
    assert.match(
      stdout,
      /loads .*node-a cpu +\d+\.\d% .*node-b cpu +\d+\.\d%/,
      `no load table for both nodes in:\n${stdout}`,
    );
    assert.match(
      stdout,
      /advice: node-a overloaded \(\d+\.\d%\) → offload sensor-stats to node-b/,
      `no ADVICE for node-a in:\n${stdout}`,
    );
    assert.match(
      stdout,
      /claim: node-a claims sensor-stats at epoch 1 → accepted/,
      `node-a's CLAIM missing in:\n${stdout}`,
    );
    assert.match(
      stdout,
      /claim: node-b claims sensor-stats at epoch 2 → accepted/,
      `node-b's follow-up CLAIM missing in:\n${stdout}`,
    );
  });

  it('keeps advising node-a while it stays the owner (--no-follow-advice), as JSON lines', async () => {
    const topology = await loadDemoTopology(DEFAULT_TOPOLOGY_PATH, freeLoopbackOctet());
    const lines: string[] = [];
    const result = await runDemo({
      topology,
      durationMs: 3500,
      summaryIntervalMs: 500,
      json: true,
      followAdvice: false,
      write: (line) => lines.push(line),
    });
    const records = lines.map((line) => JSON.parse(line) as { kind: string; node?: string; target?: string });
    const advices = records.filter((record) => record.kind === 'advice');
    assert.ok(
      result.advices >= 2,
      `node-a stays overloaded and the owner: expected repeated ADVICE, got ${result.advices}`,
    );
    assert.equal(advices.length, result.advices, 'every ADVICE is printed');
    assert.ok(
      advices.every((record) => record.node === 'node-a' && record.target === 'node-b'),
      'ADVICE goes node-a → node-b',
    );
    assert.equal(result.claimsAccepted, 1, 'only node-a’s initial CLAIM');
    assert.ok(
      records.some((record) => record.kind === 'loads'),
      'a loads record',
    );
  });
});
