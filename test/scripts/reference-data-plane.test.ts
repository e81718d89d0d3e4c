import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'mocha';
import { stringify } from 'yaml';

// The process entry, run as a user would: a topology file in, JSON log lines out, admin over HTTP.
const TOPOLOGY = {
  name: 'entry-test',
  dataPlane: { ipv4: '127.0.65.10', mac: '02:00:00:00:41:0a' },
  nodes: [{ name: 'node-a', id: 1, ipv4: '127.0.65.11', mac: '02:00:00:00:41:0b', switchPort: 1 }],
  services: [{ name: 'stats', id: 1, kind: 'stateful', vip: '127.0.65.100', udpPort: 19501 }],
  routes: [{ prefix: '127.0.65.0/24', nextHopMac: '02:00:00:00:41:01', switchPort: 3 }],
  policy: {
    loadHighBp: 8000,
    loadLowBp: 5000,
    overloadReports: 3,
    livenessReports: 64,
    livenessTimeoutUs: 0,
  },
};

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

describe('scripts/reference-data-plane', function () {
  // Starting tsx and the process takes seconds on a loaded machine.
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeshift-dp-entry-'));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  function start(args: readonly string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reference-data-plane.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EDGESHIFT_LOG_LEVEL: 'info' },
    });
    const lines: LogLine[] = [];
    const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters.filter((candidate) => candidate.predicate(line))) waiter.resolve(line);
    });
    const waitFor = (predicate: (line: LogLine) => boolean): Promise<LogLine> =>
      new Promise((resolve, reject) => {
        const found = lines.find(predicate);
        if (found !== undefined) resolve(found);
        else waiters.push({ predicate, resolve });
        // stdout closes after its last line was read, so a line written just before exit is not missed.
        child.stdout.once('close', () =>
          reject(new Error(`output ended before the expected log line; log: ${JSON.stringify(lines)}`)),
        );
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, lines, waitFor, exited };
  }

  it('starts from a topology, serves the admin interface with its tables, and exits 0 on SIGTERM', async () => {
    const topologyPath = join(dir, 'topology.yaml');
    await writeFile(topologyPath, stringify(TOPOLOGY));
    const process_ = start(['--topology', topologyPath, '--admin-port', '0']);
    const running = await process_.waitFor((line) => line.message === 'reference data plane running');
    const adminUrl = running.admin as string;
    assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the admin URL is logged');
    const tables = (await (await fetch(`${adminUrl}/tables`)).json()) as {
      tables: { name: string; entries: unknown[] }[];
    };
    const counts = Object.fromEntries(tables.tables.map((table) => [table.name, table.entries.length]));
    assert.deepEqual(
      counts,
      {
        'EdgeShiftIngress.node_table': 1,
        'EdgeShiftIngress.service_table': 1,
        'EdgeShiftIngress.reply_table': 1,
        'EdgeShiftIngress.ipv4_lpm': 1,
        'EdgeShiftIngress.policy_table': 0,
      },
      'the tables hold the entries the switch commands of the topology give',
    );
    process_.child.kill('SIGTERM');
    assert.equal(await process_.exited, 0, 'a clean stop on SIGTERM');
  });

  it('exits 1 with a coded error naming the problem for an invalid topology', async () => {
    const topologyPath = join(dir, 'bad.yaml');
    await writeFile(topologyPath, stringify({ ...TOPOLOGY, nodes: [] }));
    const process_ = start(['--topology', topologyPath]);
    const failure = await process_.waitFor((line) => line.level === 'error');
    assert.equal(failure.message, 'reference data plane failed to start');
    assert.equal(
      (failure.err as { code?: string }).code,
      'ERR_TOPOLOGY_INVALID',
      'the loader says what is wrong',
    );
    assert.equal(await process_.exited, 1);
  });
});
