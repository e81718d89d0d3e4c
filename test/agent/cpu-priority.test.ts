import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixtures/stream-priority.ts', import.meta.url));
const HAS_AUTOGROUP = existsSync('/proc/self/autogroup');

interface Reported {
  readonly before?: number;
  readonly during?: number;
  readonly after?: number;
}

function reportOf(child: ChildProcess): Promise<Reported> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Reported) : reject(new Error(`fixture exited ${code}`)),
    );
  });
}

const fixture = (nice: number): string[] => ['--import', 'tsx', FIXTURE, String(nice)];

/** As a local nucleus starts a component: a session of its own (setsid). */
function runInOwnSession(nice: number): Promise<Reported> {
  const options: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'inherit'] };
  return reportOf(spawn(process.execPath, fixture(nice), options));
}

/** Through a shell that does not lead a session: the fixture shares this test's session. */
function runInSharedSession(nice: number): Promise<Reported> {
  const command = [process.execPath, ...fixture(nice)].map((arg) => `'${arg}'`).join(' ');
  return reportOf(spawn('/bin/sh', ['-c', `${command}; true`], { stdio: ['ignore', 'pipe', 'inherit'] }));
}

describe('agent/cpu-priority', () => {
  it('in a session of its own, lowers the session weight during the work and restores it after', async () => {
    if (!HAS_AUTOGROUP) {
      // Nothing to lower without autogroup scheduling: the work runs unchanged.
      assert.deepEqual(await runInOwnSession(7), {});
      return;
    }
    assert.deepEqual(await runInOwnSession(7), { before: 0, during: 7, after: 0 });
  });

  it("in a session it shares, leaves the session's weight alone", async () => {
    const shared = HAS_AUTOGROUP
      ? Number(/nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8'))?.[1])
      : undefined;
    const reported = await runInSharedSession(7);
    assert.equal(reported.during, shared);
    assert.equal(reported.after, shared);
  });

  it('changes nothing when asked for 0', async () => {
    const reported = await runInOwnSession(0);
    assert.equal(reported.during, reported.before);
  });
});
