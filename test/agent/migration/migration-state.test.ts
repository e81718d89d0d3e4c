import assert from 'node:assert/strict';

import {
  ALLOWED_TRANSITIONS,
  MigrationRun,
  MigrationState as S,
} from '../../../agent/migration/migration-state.ts';
import type { EdgeShiftError } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';

function newRun(lines: string[] = []): MigrationRun {
  const log = createLogger('test', { level: 'info', sink: (line) => lines.push(line) });
  let nowMs = 0;
  return new MigrationRun(
    { migrationId: 'm-1', service: 'svc', role: 'source', epoch: 2, peerNodeId: 'node-b' },
    log,
    () => (nowMs += 5),
  );
}

/** Drives a fresh run along `path` (each step from the state it is in). */
function walk(run: MigrationRun, path: readonly S[]): void {
  for (const next of path) run.transition([run.state], next);
}

const SOURCE_PATH = [
  S.TRANSFERRING_SNAPSHOT,
  S.COPYING_DELTAS,
  S.FROZEN,
  S.CUTTING_OVER,
  S.CUT_OVER,
  S.HANDING_OVER,
  S.COMMITTED,
];

const TARGET_PATH = [
  S.TRANSFERRING_SNAPSHOT,
  S.COPYING_DELTAS,
  S.ACTIVATING,
  S.ACTIVATED,
  S.CUTTING_OVER,
  S.CUT_OVER,
  S.COMMITTED,
];

describe('agent/migration/migration-state', () => {
  describe('transition', () => {
    it('walks the whole source path and logs each step as "A -> B"', () => {
      const lines: string[] = [];
      const run = newRun(lines);
      walk(run, SOURCE_PATH);
      assert.equal(run.state, S.COMMITTED, 'the run ends committed');
      assert.ok(run.isFinal, 'COMMITTED is final');
      const messages = lines.map((line) => (JSON.parse(line) as { message: string }).message);
      assert.deepEqual(messages.slice(0, 2), [
        'PREPARING -> TRANSFERRING_SNAPSHOT',
        'TRANSFERRING_SNAPSHOT -> COPYING_DELTAS',
      ]);
      assert.equal(messages.length, SOURCE_PATH.length, 'one log line per transition');
      assert.deepEqual(
        run.transitions.map((record) => record.atMs),
        [5, 10, 15, 20, 25, 30, 35],
        'each transition is stamped with the injected clock',
      );
    });

    it('walks the whole target path', () => {
      const run = newRun();
      walk(run, TARGET_PATH);
      assert.equal(run.state, S.COMMITTED);
    });

    it('refuses a transition when the run is not in one of the listed states', () => {
      const run = newRun();
      assert.throws(
        () => run.transition([S.COPYING_DELTAS], S.FROZEN),
        (err: EdgeShiftError) =>
          err.code === 'ERR_MIGRATION_ILLEGAL_TRANSITION' && /PREPARING -> FROZEN/.test(err.message),
      );
      assert.equal(run.state, S.PREPARING, 'a refused transition changes nothing');
    });

    // Every pair of states that is not an edge of the table is refused, whatever the caller lists.
    for (const from of Object.values(S)) {
      for (const to of Object.values(S)) {
        if (ALLOWED_TRANSITIONS.get(from)?.includes(to)) continue;
        it(`refuses ${from} -> ${to}`, () => {
          const run = newRun();
          const path = pathTo(from);
          walk(run, path);
          assert.throws(
            () => run.transition([from], to),
            (err: EdgeShiftError) => err.code === 'ERR_MIGRATION_ILLEGAL_TRANSITION',
          );
        });
      }
    }

    it('has no edge from the cutover or later back to an abort (the point of no return)', () => {
      for (const state of [S.CUT_OVER, S.HANDING_OVER, S.COMMITTED]) {
        assert.ok(
          !ALLOWED_TRANSITIONS.get(state)?.includes(S.ABORTING),
          `${state} must not lead to ABORTING`,
        );
      }
    });

    it('allows an abort from every state before the cutover', () => {
      for (const state of [
        S.PREPARING,
        S.TRANSFERRING_SNAPSHOT,
        S.COPYING_DELTAS,
        S.FROZEN,
        S.ACTIVATING,
        S.ACTIVATED,
        S.CUTTING_OVER,
      ]) {
        const run = newRun();
        walk(run, pathTo(state));
        run.transition([state], S.ABORTING);
        run.transition([S.ABORTING], S.ABORTED);
        assert.ok(run.isFinal && !run.isPastCutover, `${state} -> ABORTING -> ABORTED`);
      }
    });
  });
});

/** A legal path from PREPARING to `state`. */
function pathTo(state: S): S[] {
  if (state === S.PREPARING) return [];
  if (state === S.ABORTING) return [S.ABORTING];
  if (state === S.ABORTED) return [S.ABORTING, S.ABORTED];
  const path = SOURCE_PATH.includes(state) ? SOURCE_PATH : TARGET_PATH;
  return path.slice(0, path.indexOf(state) + 1);
}
