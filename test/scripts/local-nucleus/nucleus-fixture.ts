// Test fixture for the local nucleus tests: a LocalNucleus on a socket in a fresh temp directory, components
// with given policies, and REAL greengrasscoreipc clients (aws-iot-device-sdk-v2) connected with a component's
// SVCUID, all closed by cleanup(). Also a raw-socket helper that speaks eventstream frames directly.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';

import { createSdkClient } from '../../../components/common/ipc/index.ts';

import {
  decodeFrame,
  encodeFrame,
  FrameSplitter,
  type RpcFrame,
} from '../../../scripts/local-nucleus/eventstream-framing.ts';
import { LocalNucleus, type LocalNucleusOptions } from '../../../scripts/local-nucleus/local-nucleus.ts';

export interface NucleusFixture {
  nucleus: LocalNucleus;
  register(name: string, configuration?: Record<string, unknown>): string;
  client(authToken: string): Promise<greengrasscoreipc.Client>;
  cleanup(): Promise<void>;
}

export function pubsubPolicy(operations: string[], resources: string[]): Record<string, unknown> {
  return {
    'aws.greengrass.ipc.pubsub': {
      'test:pubsub:1': { policyDescription: 'test policy', operations, resources },
    },
  };
}

export function mqttProxyPolicy(operations: string[], resources: string[]): Record<string, unknown> {
  return {
    'aws.greengrass.ipc.mqttproxy': {
      'test:mqttproxy:1': { policyDescription: 'test policy', operations, resources },
    },
  };
}

export const sdkClient = createSdkClient;

export async function startNucleus(options: Partial<LocalNucleusOptions> = {}): Promise<NucleusFixture> {
  const directory = await mkdtemp(join(tmpdir(), 'local-nucleus-'));
  const nucleus = new LocalNucleus({
    socketPath: join(directory, 'ipc.socket'),
    thingName: 'test-thing',
    ...options,
  });
  try {
    await nucleus.start();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const clients: greengrasscoreipc.Client[] = [];
  return {
    nucleus,
    register: (name, configuration = {}) =>
      nucleus.registerComponent({ name, version: '1.0.0', configuration }).svcuid,
    client: async (authToken) => {
      const client = sdkClient(nucleus.socketPath, authToken);
      clients.push(client);
      await client.connect();
      return client;
    },
    cleanup: async () => {
      for (const client of clients) await client.close().catch(() => undefined);
      await nucleus.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A raw client: sends frames or bytes and collects decoded frames until the server closes. */
export class RawEventstreamClient {
  readonly frames: RpcFrame[] = [];
  readonly closed: Promise<void>;
  private readonly splitter = new FrameSplitter();
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const bytes of this.splitter.push(chunk)) this.frames.push(decodeFrame(bytes));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static async connect(socketPath: string): Promise<RawEventstreamClient> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawEventstreamClient(socket);
  }

  send(frame: RpcFrame): void {
    this.socket.write(encodeFrame(frame));
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async nextFrame(): Promise<RpcFrame> {
    const closed = this.closed.then(() => {
      throw new Error('connection closed before a frame arrived');
    });
    while (this.frames.length === 0) {
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), closed]);
    }
    return this.frames.shift() as RpcFrame;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Polls a condition (no fixed sleeps); fails with the message after timeoutMs. */
export async function eventually(
  condition: () => boolean,
  message: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
