import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import fc from 'fast-check';

import { hasErrorCode } from '../../../components/common/errors.ts';
import {
  checkpointPath,
  readCheckpoint,
  writeCheckpoint,
} from '../../../components/function-host/state-checkpoint.ts';
import { StateStore } from '../../../components/function-host/state-store.ts';

const SERVICE = 'sensor-stats';

function filledStore(keys: number, valueBytes: number): StateStore {
  const store = new StateStore();
  const app = store.namespace('app');
  for (let i = 0; i < keys; i += 1) app.put(`sensor-${i}`, Buffer.alloc(valueBytes, i % 251));
  store.namespace('dedupe').putJson('sensor-0', ['client:1']);
  return store;
}

function isBadCheckpoint(pattern: RegExp): (err: unknown) => boolean {
  return (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_CHECKPOINT') && pattern.test((err as Error).message);
}

describe('function-host/state-checkpoint', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeshift-checkpoint-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes back both namespaces and the epoch, once: the file goes when discarded', async () => {
    const store = filledStore(40, 100);
    await writeCheckpoint(dir, SERVICE, 4, store);
    assert.equal(store.isTracking, false, 'the checkpoint leaves no change tracking behind');
    const restored = await readCheckpoint(dir, SERVICE, 1);
    assert.ok(restored !== undefined);
    assert.equal(restored.epoch, 4);
    assert.equal(restored.store.checksum(), store.checksum());
    assert.deepEqual(restored.store.namespace('dedupe').getJson('sensor-0'), ['client:1']);
    await restored.discard();
    assert.equal(await readCheckpoint(dir, SERVICE, 1), undefined, 'nothing to take back twice');
  });

  it('writes a state of several chunks without leaving a temporary file', async () => {
    const store = filledStore(12, 1024 * 1024); // 12 MiB: three chunks of 4 MiB
    await writeCheckpoint(dir, SERVICE, 2, store);
    assert.deepEqual(await readdir(dir), [`${SERVICE}.checkpoint`]);
    const restored = await readCheckpoint(dir, SERVICE, 1);
    assert.equal(restored?.store.checksum(), store.checksum());
  });

  it('gives back any state as it was written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.uint8Array({ maxLength: 64 })),
        fc.nat({ max: 1000 }),
        async (entries, epoch) => {
          const store = new StateStore();
          for (const [key, value] of Object.entries(entries)) store.namespace('app').put(key, value);
          await writeCheckpoint(dir, SERVICE, epoch, store);
          const restored = await readCheckpoint(dir, SERVICE, 0);
          await restored?.discard();
          assert.equal(restored?.epoch, epoch);
          assert.equal(restored.store.checksum(), store.checksum());
          assert.equal(restored.store.keyCount('app'), Object.keys(entries).length);
        },
      ),
      { numRuns: 40 },
    );
  });

  describe('a file that fails a check is moved aside, whole, and applied in no part', () => {
    async function writtenFile(): Promise<{ file: string; bytes: Buffer }> {
      await writeCheckpoint(dir, SERVICE, 3, filledStore(20, 64));
      const file = checkpointPath(dir, SERVICE);
      return { file, bytes: await readFile(file) };
    }

    async function assertRejected(file: string, bytes: Buffer, pattern: RegExp, minEpoch = 1): Promise<void> {
      await writeFile(file, bytes);
      await assert.rejects(readCheckpoint(dir, SERVICE, minEpoch), isBadCheckpoint(pattern));
      assert.deepEqual(await readdir(dir), [`${SERVICE}.checkpoint.rejected`]);
      assert.ok((await readFile(`${file}.rejected`)).equals(bytes), 'the rejected file is kept as it was');
    }

    it('a flipped byte in a value: the state does not sum to the header', async () => {
      const { file, bytes } = await writtenFile();
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
      await assertRejected(file, bytes, /its state sums to .*, its header says/);
    });

    it('a file cut short', async () => {
      const { file, bytes } = await writtenFile();
      await assertRejected(file, bytes.subarray(0, bytes.length - 10), /cut short in chunk 0/);
    });

    it('bytes after the last chunk', async () => {
      const { file, bytes } = await writtenFile();
      await assertRejected(file, Buffer.concat([bytes, Buffer.from('more')]), /4 bytes after its last chunk/);
    });

    it('another service, an epoch older than the configuration, or not a checkpoint at all', async () => {
      const { file, bytes } = await writtenFile();
      const text = bytes.toString('latin1');
      await assertRejected(
        file,
        Buffer.from(text.replace(SERVICE, 'alert-stats!'), 'latin1'),
        /holds service/,
      );
      await rm(`${file}.rejected`);
      await assertRejected(file, bytes, /holds epoch 3, older than the configured epoch 5/, 5);
      await rm(`${file}.rejected`);
      await assertRejected(file, Buffer.from('{"service":"sensor-stats"}\n'), /checkpoint magic line/);
      await rm(`${file}.rejected`);
      await assertRejected(
        file,
        Buffer.from(text.replace('"epoch":3', '"epoch":-3'), 'latin1'),
        /header is invalid: \/epoch must be >= 0/,
      );
    });
  });
});
