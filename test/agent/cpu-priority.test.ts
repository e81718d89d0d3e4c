import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { parseAutogroupNice, readAutogroupNice } from '../../agent/cpu-priority.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/stream-priority.ts', import.meta.url));

interface Reported {
  readonly before?: number;
  readonly during?: number;
  readonly held?: number;
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
  it('in a session of its own, lowers the session weight during the work and while a lowering is held, and restores it after', async () => {
    // A new session gets an autogroup of its own wherever the kernel schedules by autogroup.
    if (!existsSync('/proc/self/autogroup')) {
      assert.deepEqual(await runInOwnSession(7), {});
      return;
    }
    assert.deepEqual(await runInOwnSession(7), { before: 0, during: 7, held: 7, after: 0 });
  });

  it("in a session it shares, leaves the session's weight alone", async () => {
    // Undefined in the root autogroup (a test run from init's session): there is no weight to read.
    const shared = readAutogroupNice();
    const reported = await runInSharedSession(7);
    assert.equal(reported.during, shared);
    assert.equal(reported.held, shared);
    assert.equal(reported.after, shared);
  });

  it('reads no weight in the root autogroup, where the kernel prints an empty line', () => {
    assert.equal(parseAutogroupNice(''), undefined);
    assert.equal(parseAutogroupNice('/autogroup-8585 nice 5\n'), 5);
    assert.equal(parseAutogroupNice('/autogroup-3 nice -2\n'), -2);
  });

  it('changes nothing when asked for 0', async () => {
    const reported = await runInOwnSession(0);
    assert.equal(reported.during, reported.before);
  });
});
