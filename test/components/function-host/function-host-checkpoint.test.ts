import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createLogger } from '../../../components/common/logger.ts';
import type { FunctionHostConfig } from '../../../components/function-host/function-host-config.ts';
import { startFunctionHost, type FunctionHost } from '../../../components/function-host/function-host.ts';
import type {
  FunctionDefinition,
  FunctionModule,
} from '../../../components/function-host/function-loader.ts';
import { checkpointPath } from '../../../components/function-host/state-checkpoint.ts';
import { until } from '../../agent/support/until.ts';
import { counterFunction, gatedCounterFunction } from './helpers/test-functions.ts';
import { UdpTestClient } from './helpers/udp-client.ts';

const SERVICE = 'counter';

function config(
  dir: string,
  initialRole: 'owner' | 'standby',
  initialEpoch: number,
  module = 'builtin:test/counter',
): FunctionHostConfig {
  return {
    nodeName: 'node-a',
    advertiseAddress: '127.0.0.1',
    services: [
      {
        name: SERVICE,
        serviceId: 1,
        module,
        options: {},
        listenAddress: '127.0.0.1',
        port: 0,
        initialRole,
        initialEpoch,
      },
    ],
    serviceAddresses: {},
    routes: {},
    maxBufferedRequests: 1000,
    dedupeEntriesPerKey: 16,
    stateCheckpointDir: dir,
    drainTimeoutMs: 0,
    handOverHoldMs: 500,
    callTimeoutMs: 500,
    callAttempts: 2,
    maxChunkBytes: 1 << 20,
  };
}

function builtinsWith(definition: FunctionDefinition): Record<string, FunctionModule> {
  return { 'test/counter': { createFunction: () => definition } };
}

const logger = createLogger('test', { level: 'silent' });

/** A counter whose initial state is not empty: a restored state must not be initialized again. */
function initializedCounter(): FunctionDefinition {
  return {
    ...counterFunction(SERVICE),
    initialize: (state) => state.putJson('sensor-0', { count: 100, seen: [] }),
  };
}

describe('function-host: state across a restart', () => {
  let dir: string;
  let client: UdpTestClient;
  const hosts: FunctionHost[] = [];

  async function start(
    hostConfig: FunctionHostConfig,
    definition = initializedCounter(),
  ): Promise<FunctionHost> {
    const host = await startFunctionHost(hostConfig, { builtins: builtinsWith(definition), logger });
    hosts.push(host);
    return host;
  }

  /** Sends `count` requests over 4 keys, ids `prefix-n`, and waits for every reply. */
  async function serve(host: FunctionHost, prefix: string, count: number): Promise<void> {
    const before = client.replies.length;
    for (let n = 0; n < count; n += 1) {
      client.send(host.server.serviceAddress(SERVICE), {
        id: `${prefix}-${n}`,
        service: SERVICE,
        key: `sensor-${n % 4}`,
        body: n,
      });
    }
    await client.waitForReplies(before + count);
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeshift-fh-checkpoint-'));
    client = await UdpTestClient.open();
  });

  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((host) => host.close()));
    client.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an owner stopped cleanly serves on from its state and epoch at the next start, whatever its configured role', async () => {
    const first = await start(config(dir, 'owner', 3));
    await serve(first, 'before', 20);
    const checksum = first.server.runtime(SERVICE).store.checksum();
    await first.close();
    await access(checkpointPath(dir, SERVICE));

    const second = await start(config(dir, 'standby', 1));
    const runtime = second.server.runtime(SERVICE);
    assert.equal(runtime.role, 'owner');
    assert.equal(runtime.epoch, 3, 'at the epoch it stopped at, not the configured one');
    assert.equal(runtime.store.checksum(), checksum);
    assert.deepEqual(await readdir(dir), [], 'the checkpoint is gone once the service serves from it');

    await serve(second, 'before', 1); // a retry of a request answered before the stop
    await serve(second, 'after', 1);
    const [retried, next] = client.replies.slice(-2).map(({ reply }) => reply);
    assert.deepEqual(
      retried?.body,
      { count: 101, seen: [0] },
      'the recorded reply: the retry is not run again',
    );
    assert.deepEqual(next?.body, { count: 106, seen: [0, 4, 8, 12, 16, 0] }, 'not initialized again');
    assert.equal(next.epoch, 3);
  });

  it('lets a request in progress finish, and keeps its write, before it writes the checkpoint', async () => {
    const gated = gatedCounterFunction(SERVICE);
    const first = await start(config(dir, 'owner', 1), gated.definition);
    client.send(first.server.serviceAddress(SERVICE), { id: 'slow', service: SERVICE, key: 'k', body: 'x' });
    await until(() => gated.started() === 1, 'the request is in progress');
    const closing = first.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(access(checkpointPath(dir, SERVICE)), 'no checkpoint while a request runs');
    gated.open();
    await closing;

    const second = await start(config(dir, 'standby', 1));
    assert.deepEqual(second.server.runtime(SERVICE).store.namespace('app').getJson('k'), {
      count: 1,
      seen: ['x'],
    });
  });

  it('leaves no checkpoint for a service that is not the owner (a migration decides where its state goes)', async () => {
    const first = await start(config(dir, 'owner', 1));
    await serve(first, 'before', 4);
    await first.server.runtime(SERVICE).freeze();
    await first.close();
    assert.deepEqual(await readdir(dir), []);
    const second = await start(config(dir, 'standby', 1));
    assert.equal(second.server.runtime(SERVICE).role, 'standby');
  });

  it('starts in its configured role, with the file moved aside, when the checkpoint is bad', async () => {
    await writeFile(checkpointPath(dir, SERVICE), 'not a checkpoint\n');
    const host = await start(config(dir, 'standby', 1));
    assert.equal(host.server.runtime(SERVICE).role, 'standby');
    assert.deepEqual(await readdir(dir), [`${SERVICE}.checkpoint.rejected`]);
  });

  it('writes nothing when stateCheckpointDir is empty', async () => {
    const host = await start({ ...config(dir, 'owner', 1), stateCheckpointDir: '' });
    await serve(host, 'before', 4);
    await host.close();
    assert.deepEqual(await readdir(dir), []);
  });
});
