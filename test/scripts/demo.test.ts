// Runs the embedded demo as `npm run demo` does and in-process, on loopback addresses of its own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { DEFAULT_TOPOLOGY_PATH, loadDemoTopology, runDemo, runFullDemo } from '../../scripts/demo.ts';

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

  // The two-node test bed's fixed 127.0.0.10-12 addresses: runs alone, like the end-to-end tests.
  it('--full: the ADVICE for node-a moves sensor-stats to node-b under load, none lost, and writes the plot', async function () {
    this.timeout(150_000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-demo-'));
    try {
      const lines: string[] = [];
      const plotPath = path.join(dir, 'plot.svg');
      const result = await runFullDemo({ durationMs: 6000, plotPath, write: (line) => lines.push(line) });
      const text = lines.join('\n');
      assert.ok(result.advices >= 1, `at least one ADVICE for node-a:\n${text}`);
      assert.match(text, /advice: node-a overloaded \(95\.0%\) → offload sensor-stats to node-b/);
      assert.match(
        text,
        /claim: node-b claims sensor-stats at epoch 2 → accepted/,
        'the agent of node-b claimed it',
      );
      assert.deepEqual(
        result.migrations.map((move) => [move.service, move.sourceNodeId, move.targetNodeId, move.outcome]),
        [['sensor-stats', 'node-a', 'node-b', 'committed']],
        'one committed move, started by the agent on ADVICE',
      );
      assert.deepEqual([result.lost, result.duplicates, result.wrongState], [0, 0, 0], 'hitless');
      assert.match(await readFile(plotPath, 'utf8'), /^<svg /, 'an SVG plot');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
