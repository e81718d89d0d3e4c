import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { hasErrorCode, type ErrorCode } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { parseControlRequest } from '../../../components/function-host/control-handlers.ts';
import type { DirectCutover, UdpAddress } from '../../../components/function-host/function-host-api.ts';
import type { FunctionHostConfig } from '../../../components/function-host/function-host-config.ts';
import { startFunctionHost, type FunctionHost } from '../../../components/function-host/function-host.ts';
import type { FunctionModule } from '../../../components/function-host/function-loader.ts';
import type { RouteEntry } from '../../../components/function-host/request-server.ts';
import { StateStore } from '../../../components/function-host/state-store.ts';
import { newHandOffKey } from '../../../components/function-host/hand-off-seal.ts';
import { FakeDataPlane, type OwnerEntry } from '../../agent/support/fake-data-plane.ts';
import { until } from '../../agent/support/until.ts';
import { counterFunction } from './helpers/test-functions.ts';
import { UdpTestClient } from './helpers/udp-client.ts';

const SERVICE = 'counter';
const HAND_OFF_REF = { service: SERVICE, migrationId: 'm-2' };
const PREFILLED_KEYS = 300;

const builtins: Record<string, FunctionModule> = {
  'test/counter': {
    createFunction: () => ({
      ...counterFunction(SERVICE),
      // Enough state for a snapshot of several chunks.
      initialize: (state) => {
        for (let i = 0; i < PREFILLED_KEYS; i += 1)
          state.putJson(`prefilled-${i}`, { count: 0, seen: [], pad: 'x'.repeat(40) });
      },
    }),
  },
};

function hostConfig(nodeName: string, initialRole: 'owner' | 'standby'): FunctionHostConfig {
  return {
    nodeName,
    advertiseAddress: '127.0.0.1',
    services: [
      {
        name: SERVICE,
        serviceId: 1,
        module: 'builtin:test/counter',
        options: {},
        listenAddress: '127.0.0.1',
        port: 0,
        initialRole,
        initialEpoch: 1,
      },
    ],
    serviceAddresses: {},
    routes: {},
    maxBufferedRequests: 10_000,
    dedupeEntriesPerKey: 16,
    stateCheckpointDir: '',
    drainTimeoutMs: 0,
    handOverHoldMs: 5_000,
    callTimeoutMs: 1000,
    callAttempts: 2,
    maxChunkBytes: 1 << 20,
  };
}

/** Open-loop sender: one request every tick to the current target, over `keys` keys. */
class LoadClient {
  target: UdpAddress;
  readonly sent: { id: string; key: string; body: number }[] = [];
  readonly #client: UdpTestClient;
  #timer: NodeJS.Timeout | undefined;

  constructor(client: UdpTestClient, target: UdpAddress) {
    this.#client = client;
    this.target = target;
  }

  start(keys: number): void {
    this.#timer = setInterval(() => {
      const n = this.sent.length;
      const request = { id: `load:${n}`, key: `sensor-${n % keys}`, body: n };
      this.sent.push(request);
      this.#client.send(this.target, { ...request, service: SERVICE });
    }, 1);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

describe('components/function-host/control-handlers', () => {
  const hosts: FunctionHost[] = [];
  const clients: UdpTestClient[] = [];
  const logger = createLogger('test', { level: 'silent' });
  const start = async (
    nodeName: string,
    role: 'owner' | 'standby',
    onRoutesChanged?: (routes: Readonly<Record<string, RouteEntry>>) => void,
  ): Promise<FunctionHost> => {
    const host = await startFunctionHost(hostConfig(nodeName, role), {
      builtins,
      logger,
      ...(onRoutesChanged ? { onRoutesChanged } : {}),
    });
    hosts.push(host);
    return host;
  };
  const openClient = async (): Promise<UdpTestClient> => {
    const client = await UdpTestClient.open();
    clients.push(client);
    return client;
  };
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const host of hosts.splice(0)) await host.close();
  });

  const rejectsWith = (promise: Promise<unknown>, code: ErrorCode): Promise<void> =>
    assert.rejects(promise, (err) => hasErrorCode(err, code), `expected ${code}`);

  /** What the peer agent does, step by step, with `cutover` between activate and handOver. */
  async function migrate(
    a: FunctionHost,
    b: FunctionHost,
    cutover: () => Promise<void>,
    epoch: number,
  ): Promise<{ activatedChecksum: string; frozenChecksum: string; chunkCount: number }> {
    const ref = { service: SERVICE, migrationId: `m-${epoch}` };
    const exported = await a.control.call({ op: 'beginExport', ...ref, chunkBytes: 2048 }, 5000);
    await b.control.call({ op: 'beginImport', ...ref, epoch }, 5000);
    for (let index = 0; index < exported.chunkCount; index += 1) {
      const chunk = await a.control.call({ op: 'readExportChunk', ...ref, index }, 5000);
      assert.equal(chunk.isLast, index === exported.chunkCount - 1);
      await b.control.call({ op: 'importChunk', ...ref, index, data: chunk.data }, 5000);
      // Let requests flow while the snapshot moves.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let round = 0; round < 3; round += 1) {
      const { delta } = await a.control.call({ op: 'nextDelta', ...ref }, 5000);
      await b.control.call({ op: 'importDelta', ...ref, delta }, 5000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The freeze hands out the last delta, and activation imports it: one call on each side.
    const frozen = await a.control.call({ op: 'freeze', ...ref }, 5000);
    assert.ok(frozen.finalDelta !== undefined, 'a freeze during an export takes the last delta');
    const activated = await b.control.call({ op: 'activate', ...ref, epoch, delta: frozen.finalDelta }, 5000);
    await cutover();
    await a.control.call({ op: 'handOver', ...ref, epoch, newOwner: b.server.serviceAddress(SERVICE) }, 5000);
    await a.control.call({ op: 'dropState', ...ref }, 5000);
    return {
      activatedChecksum: activated.stateChecksum,
      frozenChecksum: frozen.stateChecksum,
      chunkCount: exported.chunkCount,
    };
  }

  /** Replays the requests in per-key order on a host that never migrates: the state a run without migration ends in. */
  async function referenceChecksum(
    sent: readonly { id: string; key: string; body: number }[],
  ): Promise<string> {
    const reference = await start('reference', 'owner');
    const client = await openClient();
    sent.forEach((request) =>
      client.send(reference.server.serviceAddress(SERVICE), { ...request, service: SERVICE }),
    );
    await client.waitForReplies(sent.length, 20_000);
    return reference.server.runtime(SERVICE).summary().appStateChecksum;
  }

  async function runMigrationUnderLoad(option: 'data-plane' | 'reconfiguration'): Promise<void> {
    const a = await start('node-a', 'owner');
    const b = await start('node-b', 'standby');
    const client = await openClient();
    const load = new LoadClient(client, a.server.serviceAddress(SERVICE));
    load.start(20);
    while (load.sent.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    const move = async (from: FunctionHost, to: FunctionHost, epoch: number) => {
      const result = await migrate(
        from,
        to,
        async () => {
          // Data plane: the client's packets now reach the new owner. Reconfiguration: both nodes route
          // to it, the client is unchanged.
          const owner = to.server.serviceAddress(SERVICE);
          if (option === 'data-plane') load.target = owner;
          else
            for (const host of [from, to])
              await host.control.call({ op: 'setRoute', service: SERVICE, owner, epoch }, 5000);
        },
        epoch,
      );
      assert.ok(result.chunkCount > 3, `the snapshot should span several chunks, got ${result.chunkCount}`);
      assert.equal(
        result.activatedChecksum,
        result.frozenChecksum,
        'target state must equal the frozen source state',
      );
      assert.equal(from.server.runtime(SERVICE).summary().stateKeys, 0, 'the source dropped its state');
      const sentAtCutover = load.sent.length;
      while (load.sent.length < sentAtCutover + 50) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await move(a, b, 2);
    await move(b, a, 3);
    load.stop();
    await client.waitForReplies(load.sent.length, 20_000);
    await client.settle(100);

    const ids = client.replies.map((r) => r.reply.id);
    assert.equal(new Set(ids).size, load.sent.length, 'every request answered: zero lost');
    assert.equal(ids.length, load.sent.length, 'one reply per request: zero duplicated');
    assert.ok(
      client.replies.every((r) => r.reply.ok),
      'no error replies',
    );
    const countsByKey = new Map<string, number>();
    const byId = new Map(client.replies.map((r) => [r.reply.id, r.reply]));
    for (const request of load.sent) {
      const expected = (countsByKey.get(request.key) ?? 0) + 1;
      countsByKey.set(request.key, expected);
      const body = byId.get(request.id)?.body as { count: number };
      assert.equal(body.count, expected, `${request.id}: the count must equal this key's requests so far`);
    }
    const nodes = new Set(client.replies.map((r) => r.reply.node));
    assert.deepEqual([...nodes].sort(), ['node-a', 'node-b'], 'both nodes served during the run');
    const finalChecksum = a.server.runtime(SERVICE).summary().appStateChecksum;
    assert.equal(
      finalChecksum,
      await referenceChecksum(load.sent),
      'final state equals a run without migration',
    );
  }

  describe('full migration under load over real UDP', () => {
    it('loses and duplicates nothing over A -> B -> A when the data plane moves the clients (option 2)', async () => {
      await runMigrationUnderLoad('data-plane');
    });

    it('loses and duplicates nothing over A -> B -> A when the nodes are reconfigured to route to the new owner (option 1)', async () => {
      await runMigrationUnderLoad('reconfiguration');
    });
  });

  describe('abort', () => {
    it('resume after a freeze processes every buffered request and keeps the source the owner', async () => {
      const a = await start('node-a', 'owner');
      const client = await openClient();
      const ref = { service: SERVICE, migrationId: 'm-1' };
      await a.control.call({ op: 'beginExport', ...ref, chunkBytes: 4096 }, 5000);
      await a.control.call({ op: 'freeze', ...ref }, 5000);
      for (let i = 0; i < 5; i += 1)
        client.send(a.server.serviceAddress(SERVICE), { id: `c:${i}`, service: SERVICE, key: 'k', body: i });
      while (a.server.runtime(SERVICE).summary().bufferedRequests < 5)
        await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(await a.control.call({ op: 'resume', ...ref }, 5000), {
        processedBufferedRequests: 5,
      });
      const replies = await client.waitForReplies(5);
      assert.deepEqual(
        replies.map((r) => (r.reply.body as { count: number }).count),
        [1, 2, 3, 4, 5],
      );
      assert.equal(a.server.runtime(SERVICE).role, 'owner');
      await rejectsWith(a.control.call({ op: 'nextDelta', ...ref }, 5000), 'ERR_FNHOST_NO_EXPORT');
    });

    it('resume at the epoch the source took back raises its epoch, and never lowers it', async () => {
      const a = await start('node-a', 'owner');
      const ref = { service: SERVICE, migrationId: 'm-1' };
      await a.control.call({ op: 'beginExport', ...ref, chunkBytes: 4096 }, 5000);
      await a.control.call({ op: 'freeze', ...ref }, 5000);
      await a.control.call({ op: 'resume', ...ref, epoch: 2 }, 5000);
      assert.deepEqual([a.server.runtime(SERVICE).role, a.server.runtime(SERVICE).epoch], ['owner', 2]);
      await a.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-2', chunkBytes: 4096 },
        5000,
      );
      await a.control.call({ op: 'resume', service: SERVICE, migrationId: 'm-2', epoch: 1 }, 5000);
      assert.equal(a.server.runtime(SERVICE).epoch, 2, 'a stale epoch changes nothing');
    });

    it('standDown turns a superseded owner into a standby at the epoch in force, with no state', async () => {
      const a = await start('node-a', 'owner');
      await rejectsWith(
        a.control.call({ op: 'standDown', service: SERVICE, epoch: 0 }, 5000),
        'ERR_FNHOST_STALE_EPOCH',
      );
      await a.control.call({ op: 'standDown', service: SERVICE, epoch: 3 }, 5000);
      const runtime = a.server.runtime(SERVICE);
      assert.deepEqual([runtime.role, runtime.epoch, runtime.store.keyCount('app')], ['standby', 3, 0]);
    });

    it('a new migration replaces one abandoned before the freeze', async () => {
      const a = await start('node-a', 'owner');
      await a.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-1', chunkBytes: 4096 },
        5000,
      );
      const again = await a.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-2', chunkBytes: 4096 },
        5000,
      );
      assert.ok(again.chunkCount > 0);
      await rejectsWith(
        a.control.call({ op: 'readExportChunk', service: SERVICE, migrationId: 'm-1', index: 0 }, 5000),
        'ERR_FNHOST_WRONG_MIGRATION',
      );
    });

    it('dropState after activate (abort before cutover) returns the target to standby at its old epoch', async () => {
      const b = await start('node-b', 'standby');
      const client = await openClient();
      const ref = { service: SERVICE, migrationId: 'm-1' };
      await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, 5000);
      await b.control.call({ op: 'activate', ...ref, epoch: 2 }, 5000);
      // A direct arrival is held waiting for the hand-over marker that will never come.
      client.send(b.server.serviceAddress(SERVICE), { id: 'c:1', service: SERVICE, key: 'k', body: 1 });
      while (b.server.runtime(SERVICE).summary().bufferedRequests < 1) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      await b.control.call({ op: 'dropState', ...ref }, 5000);
      const [held] = await client.waitForReplies(1);
      assert.equal(held?.reply.error?.code, 'ERR_FNHOST_NOT_OWNER', 'the held request is answered, not lost');
      const [summary] = await b.control.call({ op: 'listFunctions' }, 5000);
      assert.deepEqual([summary?.role, summary?.epoch, summary?.stateKeys], ['standby', 1, 0]);
      await b.control.call({ op: 'beginImport', service: SERVICE, migrationId: 'm-2', epoch: 2 }, 5000);
    });

    it('dropState on an importing target returns it to standby with no state', async () => {
      const b = await start('node-b', 'standby');
      const ref = { service: SERVICE, migrationId: 'm-1' };
      await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, 5000);
      assert.deepEqual(await b.control.call({ op: 'dropState', ...ref }, 5000), {});
      const [summary] = await b.control.call({ op: 'listFunctions' }, 5000);
      assert.equal(summary?.role, 'standby');
      assert.equal(summary?.stateKeys, 0);
    });
  });

  describe('import', () => {
    /** 20,000 small entries: one chunk of 1 MiB whose import and hashing take several slices. */
    function storeOfManyKeys(): StateStore {
      const store = new StateStore();
      for (let i = 0; i < 20_000; i += 1) store.namespace('app').putJson(`key-${i}`, { count: i });
      return store;
    }

    it('applies a large snapshot chunk in slices, letting pending I/O run between them', async () => {
      const b = await start('node-b', 'standby');
      const ref = { service: SERVICE, migrationId: 'm-1' };
      const source = storeOfManyKeys();
      const snapshot = source.beginSnapshot(1 << 20);
      assert.equal(snapshot.chunkCount, 1, 'one chunk holds the whole state');
      await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, 5000);
      let turns = 0;
      let importing = true;
      const countTurns = (): void => {
        turns += 1;
        if (importing) setImmediate(countTurns);
      };
      setImmediate(countTurns);
      await b.control.call({ op: 'importChunk', ...ref, index: 0, data: snapshot.readChunk(0) }, 5000);
      importing = false;
      assert.ok(turns >= 4, `the event loop turned ${turns} times during the import`);
      const activated = await b.control.call({ op: 'activate', ...ref, epoch: 2 }, 5000);
      assert.equal(activated.stateChecksum, snapshot.stateChecksum, 'every record was applied');
    });

    it('answers a pre-copy delta once everything received is hashed, so the freeze hashes none of it', async () => {
      const b = await start('node-b', 'standby');
      const ref = { service: SERVICE, migrationId: 'm-1' };
      const source = storeOfManyKeys();
      const snapshot = source.beginSnapshot(1 << 20);
      await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, 5000);
      await b.control.call({ op: 'importChunk', ...ref, index: 0, data: snapshot.readChunk(0) }, 5000);
      const { store } = b.server.runtime(SERVICE);
      assert.ok(store.unhashedEntries > 0, 'the snapshot is hashed in the background, after its import');
      await b.control.call({ op: 'importDelta', ...ref, delta: source.takeDelta().delta }, 5000);
      assert.equal(store.unhashedEntries, 0);
    });
  });

  describe('direct hand-off', () => {
    /** node-a exports to node-b (which accepts hand-offs under `importKey`) and takes one request after the snapshot. */
    async function preparedMove(
      importKey: string,
      directCutover?: (a: FunctionHost) => DirectCutover,
      lateKeys = 1,
    ): Promise<{ a: FunctionHost; b: FunctionHost }> {
      const a = await start('node-a', 'owner');
      const b = await start('node-b', 'standby');
      const exported = await a.control.call(
        { op: 'beginExport', ...HAND_OFF_REF, chunkBytes: 1 << 16 },
        5000,
      );
      const direct = directCutover === undefined ? {} : { directCutover: directCutover(a) };
      await b.control.call(
        { op: 'beginImport', ...HAND_OFF_REF, epoch: 2, handOffKey: importKey, ...direct },
        5000,
      );
      for (let index = 0; index < exported.chunkCount; index += 1) {
        const chunk = await a.control.call({ op: 'readExportChunk', ...HAND_OFF_REF, index }, 5000);
        await b.control.call({ op: 'importChunk', ...HAND_OFF_REF, index, data: chunk.data }, 5000);
      }
      const client = await openClient();
      for (let n = 0; n < lateKeys; n += 1) {
        const late = { id: `late-${n}`, key: `late-key-${n}-${'x'.repeat(60)}`, body: n, service: SERVICE };
        client.send(a.server.serviceAddress(SERVICE), late);
        if (n % 200 === 199) await client.waitForReplies(n + 1, 5000);
      }
      await client.waitForReplies(lateKeys, 5000);
      return { a, b };
    }

    const freezeWithHandOff = (
      a: FunctionHost,
      b: FunctionHost,
      handOffKey: string,
      newOwner = b.server.serviceAddress(SERVICE),
    ) =>
      a.control.call(
        {
          op: 'freeze',
          ...HAND_OFF_REF,
          handOverOnNotice: { token: '0f'.repeat(16), epoch: 2, newOwner },
          handOffKey,
        },
        5000,
      );

    it('activates the target on the sealed last delta from the frozen source; activate then answers the same', async () => {
      const key = newHandOffKey();
      const { a, b } = await preparedMove(key);
      const waiting = b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 5000 }, 6000);
      const frozen = await freezeWithHandOff(a, b, key);
      assert.ok((frozen.finalDelta?.byteLength ?? 0) > 2, 'the hand-off carries a delta');
      const { activated } = await waiting;
      assert.deepEqual(activated, { stateChecksum: frozen.stateChecksum, epoch: 2 });
      assert.equal(b.server.runtime(SERVICE).role, 'owner');
      const again = { op: 'activate', ...HAND_OFF_REF, epoch: 2, delta: frozen.finalDelta } as const;
      assert.deepEqual(await b.control.call(again, 5000), activated);
    });

    it('sends a last delta larger than a datagram in parts, which the target puts together', async () => {
      const key = newHandOffKey();
      const { a, b } = await preparedMove(key, undefined, 1500);
      const waiting = b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 5000 }, 6000);
      const frozen = await freezeWithHandOff(a, b, key);
      assert.ok((frozen.finalDelta?.byteLength ?? 0) > 2 * 65_507, `${frozen.finalDelta?.byteLength} bytes`);
      assert.deepEqual((await waiting).activated, { stateChecksum: frozen.stateChecksum, epoch: 2 });
    });

    it('sends a lost mirror again: the new owner answers and applies every one once, in order', async () => {
      const key = newHandOffKey();
      const { a, b } = await preparedMove(key);
      // Between the two service ports: loses the first copy of every even-numbered mirror.
      const source = a.server.serviceAddress(SERVICE);
      const target = b.server.serviceAddress(SERVICE);
      const link = dgram.createSocket('udp4');
      after(() => link.close());
      await new Promise<void>((resolve) => link.bind(0, '127.0.0.1', resolve));
      const lost = new Set<number>();
      link.on('message', (bytes, from) => {
        const to = from.port === target.port ? source : target;
        const { mirror } = JSON.parse(bytes.toString('utf8')) as { mirror?: { seq: number } };
        if (mirror !== undefined && mirror.seq % 2 === 0 && !lost.has(mirror.seq)) {
          lost.add(mirror.seq);
          return;
        }
        link.send(bytes, to.port, to.address);
      });
      const waiting = b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 5000 }, 6000);
      await freezeWithHandOff(a, b, key, { address: '127.0.0.1', port: link.address().port });
      assert.ok((await waiting).activated, 'activated by the hand-off');
      const client = await openClient();
      for (let n = 0; n < 8; n += 1) {
        const request = { id: `lossy-${n}`, key: `lossy-key-${n % 2}`, body: n, service: SERVICE };
        client.send(source, request);
      }
      const replies = await client.waitForReplies(8, 5000);
      assert.equal(new Set(replies.map(({ reply }) => reply.id)).size, 8, 'every request answered');
      assert.ok(lost.size >= 4, `mirrors lost once: ${[...lost].join(', ')}`);
      await until(() => a.server.runtime(SERVICE).heldReplies === 0, 'every mirror acknowledged');
      assert.equal(
        b.server.runtime(SERVICE).summary().appStateChecksum,
        a.server.runtime(SERVICE).summary().appStateChecksum,
        'the new owner applied every mirror',
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(client.replies.length, 8, 'one answer per request');
    });

    it('ignores a hand-off sealed under another key: the import waits for activate', async () => {
      const { a, b } = await preparedMove(newHandOffKey());
      const frozen = await freezeWithHandOff(a, b, newHandOffKey());
      const answer = await b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 200 }, 5000);
      assert.deepEqual(answer, {}, 'not activated');
      assert.equal(b.server.runtime(SERVICE).role, 'importing');
      const activate = { op: 'activate', ...HAND_OFF_REF, epoch: 2, delta: frozen.finalDelta } as const;
      assert.equal((await b.control.call(activate, 5000)).stateChecksum, frozen.stateChecksum);
    });

    describe('with a direct cutover', () => {
      const TOKEN = '0f'.repeat(16);
      let dataPlane: FakeDataPlane | undefined;
      afterEach(async () => {
        await dataPlane?.close();
        dataPlane = undefined;
      });

      /** node-b's direct cutover: CLAIMs at `plane` as node 2, then the notice to node-a (or `noticeTo`). */
      const planAt = (plane: FakeDataPlane, source: FunctionHost, noticeTo?: UdpAddress): DirectCutover => ({
        dataPlane: { address: '127.0.0.1', port: plane.port },
        nodeNumber: 2,
        serviceId: 1,
        notice: { token: TOKEN, to: noticeTo ?? source.server.serviceAddress(SERVICE) },
        claimTimeoutMs: 2000,
        retransmitMs: 50,
      });

      /**
       * node-b claims at the fake data plane as node 2 and notifies node-a's service port (or `noticeTo`);
       * a silent data plane answers no CLAIM until the test makes it speak.
       */
      async function directMove(
        options: { owner?: OwnerEntry; noticeTo?: UdpAddress; isSilent?: boolean } = {},
      ): Promise<{ a: FunctionHost; b: FunctionHost; plane: FakeDataPlane }> {
        const plane = await FakeDataPlane.start();
        dataPlane = plane;
        plane.setOwner(1, options.owner ?? { nodeId: 1, epoch: 1 });
        plane.isSilent = options.isSilent ?? false;
        const key = newHandOffKey();
        const { a, b } = await preparedMove(key, (source) => planAt(plane, source, options.noticeTo));
        await freezeWithHandOff(a, b, key);
        return { a, b, plane };
      }

      /** Sends `count` requests over three keys to the frozen source, which serves through its freeze. */
      async function sendToFrozen(a: FunctionHost, count: number): Promise<UdpTestClient> {
        const client = await openClient();
        for (let n = 0; n < count; n += 1) {
          const request = { id: `frozen-${n}`, key: `frozen-key-${n % 3}`, body: n, service: SERVICE };
          client.send(a.server.serviceAddress(SERVICE), request);
        }
        return client;
      }

      /** A UDP port nobody reads: a notice sent there leaves the source serving through its freeze. */
      async function unheardPort(): Promise<UdpAddress> {
        const unheard = dgram.createSocket('udp4');
        after(() => unheard.close());
        await new Promise<void>((resolve) => unheard.bind(0, '127.0.0.1', resolve));
        return { address: '127.0.0.1', port: unheard.address().port };
      }

      it('opens its CLAIM socket when the import begins, before any freeze', async () => {
        const plane = await FakeDataPlane.start();
        dataPlane = plane;
        const { a, b } = await preparedMove(newHandOffKey(), (source) => planAt(plane, source));
        assert.equal(b.directCutoverClaims.linkCount, 1);
        assert.equal(a.directCutoverClaims.linkCount, 0);
      });

      it('claims the service and ends the source freeze itself; the claimed state is then kept', async () => {
        const { a, b, plane } = await directMove();
        await until(
          () => a.server.runtime(SERVICE).noticeHandOvers === 1,
          'the source handed over on the notice',
        );
        assert.deepEqual(plane.ownerOf(1), { nodeId: 2, epoch: 2 }, 'the data plane gave node 2 epoch 2');
        assert.equal(b.server.runtime(SERVICE).role, 'owner');
        await rejectsWith(b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000), 'ERR_FNHOST_CUT_OVER');
        assert.equal(b.server.runtime(SERVICE).role, 'owner', 'the refused dropState changed nothing');
      });

      it('serves through its freeze: every write reaches the new owner before its reply, and the new owner runs nothing until it has them all', async () => {
        const { a, b, plane } = await directMove({ noticeTo: await unheardPort(), isSilent: true });
        const client = await sendToFrozen(a, 9);
        const replies = await client.waitForReplies(9, 5000);
        assert.equal(a.server.runtime(SERVICE).role, 'frozen', 'answered by the frozen source');
        assert.deepEqual(
          replies.map(({ reply }) => [reply.id, reply.node, reply.ok]),
          Array.from({ length: 9 }, (_, n) => [`frozen-${n}`, 'node-a', true]),
        );
        const ports = new Set(replies.map(({ from }) => from.port));
        assert.deepEqual(ports, new Set([b.server.serviceAddress(SERVICE).port]), 'sent by the new owner');
        const source = a.server.runtime(SERVICE).summary();
        assert.equal(b.server.runtime(SERVICE).role, 'owner', 'activated by the hand-off');
        assert.equal(b.server.runtime(SERVICE).summary().appStateChecksum, source.appStateChecksum);
        // The CLAIM is accepted; node-b holds what comes until the old owner's marker.
        plane.isSilent = false;
        await until(() => plane.ownerOf(1)?.nodeId === 2, 'claimed');
        const next = { id: 'after-0', key: 'frozen-key-0', body: 9, service: SERVICE };
        client.send(b.server.serviceAddress(SERVICE), next);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(client.replies.length, 9, 'held until the marker');
        const newOwner = b.server.serviceAddress(SERVICE);
        const handOver = { op: 'handOver', ...HAND_OFF_REF, epoch: 2, newOwner } as const;
        assert.equal((await a.control.call(handOver, 5000)).forwardedRequests, 0);
        const [after] = (await client.waitForReplies(10, 5000)).slice(9);
        assert.deepEqual([after?.reply.node, (after?.reply.body as { count: number }).count], ['node-b', 4]);
        // A retry of a request the old owner answered gets its recorded reply from the new owner.
        client.send(newOwner, { id: 'frozen-1', key: 'frozen-key-1', body: 1, service: SERVICE });
        const [retry] = (await client.waitForReplies(11, 5000)).slice(10);
        assert.deepEqual([retry?.reply.id, retry?.bytes], ['frozen-1', replies[1]?.bytes]);
      });

      it('holds each reply until the new owner has its writes, and lets them out when the source resumes', async () => {
        const { a, b } = await directMove({ noticeTo: await unheardPort(), isSilent: true });
        await b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000);
        const client = await sendToFrozen(a, 6);
        await until(() => a.server.runtime(SERVICE).heldReplies === 6, 'the source ran them');
        // A duplicate of a held request gets no reply of its own.
        client.send(a.server.serviceAddress(SERVICE), {
          id: 'frozen-0',
          key: 'frozen-key-0',
          body: 0,
          service: SERVICE,
        });
        await until(() => a.server.runtime(SERVICE).summary().duplicateRequests === 1, 'the duplicate came');
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(client.replies.length, 0, 'no receipt, no reply');
        await a.control.call({ op: 'resume', ...HAND_OFF_REF }, 5000);
        const replies = await client.waitForReplies(6, 5000);
        assert.deepEqual(new Set(replies.map(({ reply }) => reply.node)), new Set(['node-a']));
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(client.replies.length, 6, 'one answer per request');
      });

      it('withdraws its CLAIM when the import is dropped while the data plane has not answered', async () => {
        const { b, plane } = await directMove({ isSilent: true });
        await until(() => plane.received.length > 0, 'the CLAIM is being resent');
        await b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000);
        plane.isSilent = false;
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(
          plane.ownerOf(1),
          { nodeId: 1, epoch: 1 },
          'the dropped import never took the service',
        );
        assert.equal(b.server.runtime(SERVICE).role, 'standby');
      });

      it('forwards to the old owner what still reaches it after its import was dropped, as a CLAIM that won late would steer', async () => {
        const { a, b, plane } = await directMove({ isSilent: true });
        await until(() => plane.received.length > 0, 'the CLAIM is out');
        await b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000);
        await a.control.call({ op: 'resume', ...HAND_OFF_REF }, 5000);
        const client = await openClient();
        client.send(b.server.serviceAddress(SERVICE), { id: 'late-1', key: 'k', body: 1, service: SERVICE });
        const [reply] = await client.waitForReplies(1, 5000);
        assert.deepEqual([reply?.reply.node, reply?.reply.ok], ['node-a', true]);
      });

      it('leaves a refused CLAIM to the agent: no notice, and the activation can still be undone', async () => {
        const { a, b, plane } = await directMove({ owner: { nodeId: 3, epoch: 5 } });
        await until(() => plane.received.length > 0, 'the CLAIM reached the data plane');
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(a.server.runtime(SERVICE).role, 'frozen', 'the source still waits');
        assert.equal(a.server.runtime(SERVICE).noticeHandOvers, 0);
        await b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000);
        assert.equal(b.server.runtime(SERVICE).role, 'standby');
      });
    });

    describe('a contest after a TakeOver with no answer', () => {
      const contest = (a: FunctionHost, b: FunctionHost, handOffKey: string, waitMs = 2000) =>
        a.control.call(
          {
            op: 'contestImport',
            ...HAND_OFF_REF,
            epoch: 2,
            newOwner: b.server.serviceAddress(SERVICE),
            handOffKey,
            waitMs,
          },
          waitMs + 1000,
        );

      it('fences an import not yet activated: the target then refuses to activate it', async () => {
        const key = newHandOffKey();
        const { a, b } = await preparedMove(key);
        assert.deepEqual(await contest(a, b, key), { outcome: 'fenced' });
        const activate = { op: 'activate', ...HAND_OFF_REF, epoch: 2 } as const;
        await rejectsWith(b.control.call(activate, 5000), 'ERR_FNHOST_FENCED');
        assert.equal(b.server.runtime(SERVICE).role, 'importing');
      });

      it("finds an activated import the target's: its state is then kept", async () => {
        const key = newHandOffKey();
        const { a, b } = await preparedMove(key);
        const waiting = b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 5000 }, 6000);
        await freezeWithHandOff(a, b, key);
        assert.ok((await waiting).activated, 'activated by the hand-off');
        assert.deepEqual(await contest(a, b, key), { outcome: 'activated' });
        await rejectsWith(b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000), 'ERR_FNHOST_CUT_OVER');
        assert.equal(b.server.runtime(SERVICE).role, 'owner');
      });

      it('gets no answer under another key: unknown, and the target stays free to activate', async () => {
        const { a, b } = await preparedMove(newHandOffKey());
        assert.deepEqual(await contest(a, b, newHandOffKey(), 200), { outcome: 'unknown' });
        const activate = { op: 'activate', ...HAND_OFF_REF, epoch: 2 } as const;
        assert.equal((await b.control.call(activate, 5000)).epoch, 2);
      });
    });

    it('ends a wait for activation when the import is dropped', async () => {
      const { b } = await preparedMove(newHandOffKey());
      const waiting = b.control.call({ op: 'awaitActivation', ...HAND_OFF_REF, waitMs: 5000 }, 6000);
      await b.control.call({ op: 'dropState', ...HAND_OFF_REF }, 5000);
      await rejectsWith(waiting, 'ERR_FNHOST_WRONG_MIGRATION');
    });
  });

  describe('a move after a move', () => {
    it('replaces the finished import quietly, and warns only of one left unfinished', async () => {
      const lines: { level: string; message: string }[] = [];
      const sink = (line: string): void =>
        void lines.push(JSON.parse(line) as { level: string; message: string });
      const a = await start('node-a', 'owner');
      const b = await startFunctionHost(hostConfig('node-b', 'standby'), {
        builtins,
        logger: createLogger('test', { level: 'debug', sink }),
      });
      hosts.push(b);
      await migrate(a, b, () => Promise.resolve(), 2);
      await b.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-3', chunkBytes: 4096 },
        5000,
      );
      const replaced = () => lines.filter((line) => line.message === 'migration replaced');
      assert.deepEqual(
        replaced().map((line) => line.level),
        ['debug'],
        'the finished import of m-2',
      );
      await b.control.call({ op: 'resume', service: SERVICE, migrationId: 'm-3' }, 5000);
      await b.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-4', chunkBytes: 4096 },
        5000,
      );
      await b.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-5', chunkBytes: 4096 },
        5000,
      );
      assert.deepEqual(
        replaced().map((line) => line.level),
        ['debug', 'warn'],
        'the abandoned export m-4',
      );
    });
  });

  describe('misuse', () => {
    it('refuses an unknown service, a wrong migration id and an op in the wrong role', async () => {
      const a = await start('node-a', 'owner');
      const b = await start('node-b', 'standby');
      await rejectsWith(
        a.control.call({ op: 'freeze', service: 'nope', migrationId: 'm-1' }, 5000),
        'ERR_FNHOST_UNKNOWN_SERVICE',
      );
      await a.control.call(
        { op: 'beginExport', service: SERVICE, migrationId: 'm-1', chunkBytes: 4096 },
        5000,
      );
      await rejectsWith(
        a.control.call({ op: 'nextDelta', service: SERVICE, migrationId: 'm-2' }, 5000),
        'ERR_FNHOST_WRONG_MIGRATION',
      );
      await rejectsWith(
        a.control.call({ op: 'dropState', service: SERVICE, migrationId: 'm-1' }, 5000),
        'ERR_FNHOST_WRONG_ROLE',
      );
      await a.control.call({ op: 'freeze', service: SERVICE, migrationId: 'm-1' }, 5000);
      await rejectsWith(
        a.control.call({ op: 'freeze', service: SERVICE, migrationId: 'm-2' }, 5000),
        'ERR_FNHOST_WRONG_MIGRATION',
      );
      await rejectsWith(
        a.control.call({ op: 'resume', service: SERVICE, migrationId: 'm-2' }, 5000),
        'ERR_FNHOST_WRONG_MIGRATION',
      );
      assert.equal(a.server.runtime(SERVICE).role, 'frozen', 'a frozen service stays with its migration');
      await a.control.call({ op: 'resume', service: SERVICE, migrationId: 'm-1' }, 5000);
      await rejectsWith(
        b.control.call({ op: 'freeze', service: SERVICE, migrationId: 'm-1' }, 5000),
        'ERR_FNHOST_WRONG_ROLE',
      );
      await rejectsWith(
        b.control.call({ op: 'beginExport', service: SERVICE, migrationId: 'm-1', chunkBytes: 4096 }, 5000),
        'ERR_FNHOST_WRONG_ROLE',
      );
      assert.equal(a.server.runtime(SERVICE).role, 'owner', 'refused operations change nothing');
    });

    it('refuses chunks out of order, a stale import epoch and a stale route', async () => {
      const b = await start('node-b', 'standby');
      const ref = { service: SERVICE, migrationId: 'm-1' };
      await rejectsWith(
        b.control.call({ op: 'beginImport', ...ref, epoch: 1 }, 5000),
        'ERR_FNHOST_STALE_EPOCH',
      );
      await b.control.call({ op: 'beginImport', ...ref, epoch: 2 }, 5000);
      await rejectsWith(
        b.control.call({ op: 'importChunk', ...ref, index: 1, data: Uint8Array.of(1, 1) }, 5000),
        'ERR_FNHOST_CHUNK_ORDER',
      );
      await rejectsWith(
        b.control.call({ op: 'importChunk', ...ref, index: 0, data: Uint8Array.of(9, 9) }, 5000),
        'ERR_FNHOST_BAD_STATE_DATA',
      );
      const owner = { address: '127.0.0.1', port: 9 };
      await b.control.call({ op: 'setRoute', service: 'other', owner, epoch: 5 }, 5000);
      await rejectsWith(
        b.control.call({ op: 'setRoute', service: 'other', owner, epoch: 4 }, 5000),
        'ERR_FNHOST_STALE_EPOCH',
      );
    });

    it('reports a changed route table once, and not again for the same route', async () => {
      const changes: Readonly<Record<string, RouteEntry>>[] = [];
      const a = await start('node-a', 'owner', (routes) => void changes.push(routes));
      const owner = { address: '127.0.0.1', port: 9 };
      await a.control.call({ op: 'setRoute', service: 'other', owner, epoch: 3 }, 5000);
      await a.control.call({ op: 'setRoute', service: 'other', owner, epoch: 3 }, 5000);
      assert.deepEqual(changes, [{ other: { owner, epoch: 3 } }]);
    });
  });

  describe('parseControlRequest', () => {
    const beginImportWith = (retransmitMs: number): Record<string, unknown> => ({
      op: 'beginImport',
      service: 's',
      migrationId: 'm',
      epoch: 2,
      handOffKey: 'ab'.repeat(32),
      directCutover: {
        dataPlane: { address: '10.0.0.254', port: 9300 },
        nodeNumber: 2,
        serviceId: 1,
        notice: { token: '0f'.repeat(16), to: { address: '10.0.0.1', port: 9 } },
        claimTimeoutMs: 2000,
        retransmitMs,
      },
    });
    const cases: { name: string; input: unknown; error?: string }[] = [
      { name: 'listFunctions', input: { op: 'listFunctions' } },
      {
        name: 'importChunk with bytes',
        input: { op: 'importChunk', service: 's', migrationId: 'm', index: 0, data: Uint8Array.of(1) },
      },
      {
        name: 'nextDelta with maxBytes',
        input: { op: 'nextDelta', service: 's', migrationId: 'm', maxBytes: 100 },
      },
      { name: 'unknown op', input: { op: 'explode' }, error: 'unknown op "explode"' },
      {
        name: 'importChunk with base64 text',
        input: { op: 'importChunk', service: 's', migrationId: 'm', index: 0, data: 'AQ==' },
        error: 'importChunk: data must be a valid bytes',
      },
      {
        name: 'negative epoch',
        input: { op: 'activate', service: 's', migrationId: 'm', epoch: -1 },
        error: 'activate: epoch must be a valid integer',
      },
      {
        name: 'handOver without address',
        input: { op: 'handOver', service: 's', migrationId: 'm', epoch: 2, newOwner: 'b' },
        error: 'handOver: newOwner must be a valid address',
      },
      {
        name: 'freeze with a cutover notice',
        input: {
          op: 'freeze',
          service: 's',
          migrationId: 'm',
          handOverOnNotice: { token: '0f'.repeat(16), epoch: 2, newOwner: { address: '10.0.0.2', port: 9 } },
        },
      },
      {
        name: 'freeze with a notice token that is not 32 hex digits',
        input: {
          op: 'freeze',
          service: 's',
          migrationId: 'm',
          handOverOnNotice: { token: 'secret', epoch: 2, newOwner: { address: '10.0.0.2', port: 9 } },
        },
        error: 'freeze: handOverOnNotice must be a valid notice when given',
      },
      { name: 'beginImport with a direct cutover', input: beginImportWith(100) },
      {
        name: 'beginImport with a direct cutover that never resends its CLAIM',
        input: beginImportWith(0),
        error: 'beginImport: directCutover must be a valid directCutover when given',
      },
      {
        name: 'contestImport without a hand-off key',
        input: {
          op: 'contestImport',
          service: 's',
          migrationId: 'm',
          epoch: 2,
          newOwner: { address: '10.0.0.2', port: 9 },
          waitMs: 100,
        },
        error: 'contestImport: handOffKey must be a valid key',
      },
      { name: 'array', input: [], error: 'request must be an object' },
    ];
    for (const { name, input, error } of cases) {
      it(name, () => {
        if (error === undefined) assert.equal(parseControlRequest(input), input);
        else
          assert.throws(
            () => parseControlRequest(input),
            (err) => hasErrorCode(err, 'ERR_FNHOST_BAD_REQUEST') && (err as Error).message.startsWith(error),
          );
      });
    }
  });
});
