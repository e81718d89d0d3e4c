import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixtures/lower-cpu-priority.ts', import.meta.url));
const HAS_AUTOGROUP = existsSync('/proc/self/autogroup');

interface Reported {
  readonly nice: number;
  readonly isAutogroupSet: boolean;
  readonly autogroup?: string;
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

const fixture = (args: readonly string[]): string[] => ['--import', 'tsx', FIXTURE, ...args];

/** As a local nucleus starts a component: a session of its own (setsid). */
function runInOwnSession(args: readonly string[]): Promise<Reported> {
  const options: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'inherit'] };
  return reportOf(spawn(process.execPath, fixture(args), options));
}

/** Through a shell that does not lead a session: the fixture shares this test's session. */
function runInSharedSession(args: readonly string[]): Promise<Reported> {
  const command = [process.execPath, ...fixture(args)].map((arg) => `'${arg}'`).join(' ');
  return reportOf(spawn('/bin/sh', ['-c', `${command}; true`], { stdio: ['ignore', 'pipe', 'inherit'] }));
}

describe('agent/cpu-priority', () => {
  it('in a session of its own, as a local nucleus starts a component, lowers the process and its session', async () => {
    const reported = await runInOwnSession(['7']);
    assert.equal(reported.nice, 7);
    assert.equal(
      reported.isAutogroupSet,
      HAS_AUTOGROUP,
      'the session autogroup is set where the kernel has one',
    );
    if (HAS_AUTOGROUP) assert.match(reported.autogroup ?? '', /nice 7$/);
  });

  it("in a session it shares, lowers the process only and leaves the session's autogroup alone", async () => {
    const before = HAS_AUTOGROUP ? readFileSync('/proc/self/autogroup', 'utf8').trim() : undefined;
    const reported = await runInSharedSession(['7']);
    assert.equal(reported.nice, 7);
    assert.equal(reported.isAutogroupSet, false);
    assert.equal(reported.autogroup, before, 'the shared autogroup is unchanged');
  });

  it('never raises a priority lowered from outside, and 0 changes nothing', async () => {
    assert.equal((await runInSharedSession(['7', '12'])).nice, 12);
    assert.equal((await runInSharedSession(['0', '3'])).nice, 3);
  });
});
