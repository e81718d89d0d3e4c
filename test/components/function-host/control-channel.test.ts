import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';

import fc from 'fast-check';

import { ChannelFunctionHostControl } from '../../../agent/function-host-channel.ts';
import { EdgeShiftError } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { ControlChannelServer } from '../../../components/function-host/control-channel.ts';
import {
  encodeFrame,
  FrameReader,
  writeFrame,
  type ChannelMessage,
} from '../../../components/function-host/control-channel-wire.ts';
import { parseControlRequest } from '../../../components/function-host/control-handlers.ts';
import type {
  FunctionHostControl,
  FunctionHostRequest,
  FunctionHostResponses,
} from '../../../components/function-host/function-host-api.ts';
import { until } from '../../agent/support/until.ts';

const logger = createLogger('test', { level: 'silent' });
const ref = { service: 'sensor-stats', migrationId: 'm-1' };
const FROZEN: FunctionHostResponses['freeze'] = { bufferedRequests: 0, stateChecksum: 'sha256sum:0' };

/** What the function host does with a request in these tests: echo bytes back, or fail on cue. */
type Handle = (request: FunctionHostRequest) => Promise<unknown>;

/** The IPC side of the agent's FunctionHostControl: hands out the channel, records what it served. */
class IpcSide implements FunctionHostControl {
  readonly calls: string[] = [];
  /** Requests left to go unanswered, as while the function host does not serve its topic yet. */
  unanswered = 0;
  constructor(private readonly server: () => ControlChannelServer) {}

  call<O extends FunctionHostRequest['op']>(
    request: Extract<FunctionHostRequest, { op: O }>,
    timeoutMs: number,
  ): Promise<FunctionHostResponses[O]> {
    this.calls.push(request.op);
    if (this.unanswered > 0) {
      this.unanswered -= 1;
      return new Promise((_resolve, reject) =>
        setTimeout(() => reject(new EdgeShiftError('ERR_IPC_REQUEST_TIMEOUT', 'no reply')), timeoutMs),
      );
    }
    const answer =
      request.op === 'openControlChannel' ? this.server().info : { processedBufferedRequests: 0 };
    return Promise.resolve(answer as FunctionHostResponses[O]);
  }
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('components/function-host/control-channel', () => {
  let server: ControlChannelServer;
  let handled: FunctionHostRequest[];
  let handle: Handle;
  let ipc: IpcSide;
  let control: ChannelFunctionHostControl;

  beforeEach(async () => {
    handled = [];
    handle = (request) => {
      if (request.op === 'importChunk') return Promise.resolve({});
      return Promise.resolve(request.op === 'freeze' ? FROZEN : {});
    };
    server = await ControlChannelServer.start({
      handle: (request) => {
        handled.push(request);
        return handle(request);
      },
      parse: parseControlRequest,
      logger,
    });
    ipc = new IpcSide(() => server);
    control = new ChannelFunctionHostControl(ipc, logger);
  });

  afterEach(async () => {
    control.close();
    await server.close();
  });

  it('carries a chunk raw both ways, byte for byte', async () => {
    const chunk = randomBytes(1024 * 1024);
    handle = (request) =>
      Promise.resolve(
        request.op === 'readExportChunk' ? { index: request.index, data: chunk, isLast: false } : {},
      );
    const read = await control.call({ op: 'readExportChunk', ...ref, index: 4 }, 5000);
    assert.equal(read.index, 4);
    assert.ok(Buffer.from(read.data).equals(chunk), 'the reply body is the chunk');
    await control.call({ op: 'importChunk', ...ref, index: 0, data: chunk }, 5000);
    const imported = handled.at(-1);
    assert.ok(imported?.op === 'importChunk' && Buffer.from(imported.data).equals(chunk));
    assert.deepEqual(ipc.calls, ['openControlChannel'], 'one IPC call opened the channel, nothing else');
  });

  it('opens the channel ahead of the first call, once the function host answers', async () => {
    ipc.unanswered = 2;
    assert.equal(await control.openAhead(50, 10), true);
    assert.deepEqual(ipc.calls, Array(3).fill('openControlChannel'), 'two attempts went unanswered');
    await control.call({ op: 'freeze', ...ref }, 5000);
    assert.equal(ipc.calls.length, 3, 'the call found the channel open');
    assert.equal(handled.length, 1);
  });

  it('gives up opening ahead after its attempts, and stops once closed', async () => {
    ipc.unanswered = 100;
    assert.equal(await control.openAhead(20, 3), false);
    assert.equal(ipc.calls.length, 3);
    const opening = control.openAhead(20, 100);
    control.close();
    assert.equal(await opening, false);
    assert.ok(ipc.calls.length <= 4, `no attempt after close (${ipc.calls.length} calls)`);
  });

  it('reports a channel the function host closed, and not one the agent closed itself', async () => {
    const breaks: string[] = [];
    const closedByAgent = new ChannelFunctionHostControl(ipc, logger, {
      onBroken: () => breaks.push('closed by the agent'),
    });
    await closedByAgent.call({ op: 'freeze', ...ref }, 5000);
    closedByAgent.close();
    const closedByHost = new ChannelFunctionHostControl(ipc, logger, {
      onBroken: () => breaks.push('closed by the host'),
    });
    await closedByHost.call({ op: 'freeze', ...ref }, 5000);
    await server.close(); // the function host stops: its end of every channel closes
    await until(() => breaks.length > 0, 'the break is reported');
    closedByHost.close();
    assert.deepEqual(breaks, ['closed by the host']);
  });

  it('sends the other operations over IPC', async () => {
    await control.call({ op: 'resume', ...ref }, 5000);
    assert.deepEqual(ipc.calls, ['resume']);
    assert.equal(handled.length, 0);
  });

  it('carries the function host error code to the agent', async () => {
    handle = () => Promise.reject(new EdgeShiftError('ERR_FNHOST_WRONG_ROLE', 'freeze in role standby'));
    await assert.rejects(
      control.call({ op: 'freeze', ...ref }, 5000),
      (err: EdgeShiftError) => err.code === 'ERR_FNHOST_WRONG_ROLE' && /standby/.test(err.message),
    );
  });

  it('refuses a request the control API refuses, without running it', async () => {
    await assert.rejects(
      control.call({ op: 'importChunk', ...ref, index: -1, data: new Uint8Array(1) }, 5000),
      (err: EdgeShiftError) => err.code === 'ERR_FNHOST_BAD_REQUEST',
    );
    assert.equal(handled.length, 0);
  });

  it('closes a connection that does not present the token, and runs nothing', async () => {
    const { address, port } = server.info;
    const socket = net.connect({ host: address, port });
    await new Promise((resolve) => socket.once('connect', resolve));
    writeFrame(socket, { header: { id: 0, hello: randomBytes(32).toString('hex') } });
    writeFrame(socket, { header: { id: 1, request: { op: 'freeze', ...ref } } });
    await closed(socket);
    assert.equal(handled.length, 0);
  });

  it('closes only the connection that sent a malformed frame', async () => {
    await control.call({ op: 'freeze', ...ref }, 5000);
    const { address, port } = server.info;
    const socket = net.connect({ host: address, port });
    await new Promise((resolve) => socket.once('connect', resolve));
    writeFrame(socket, { header: { id: 0, hello: server.info.token } });
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0]));
    await closed(socket);
    await control.call({ op: 'freeze', ...ref }, 5000);
    assert.equal(handled.length, 2, 'the agent connection kept working');
  });

  it('fails the calls in flight when the channel breaks, and reopens it through IPC', async () => {
    handle = () => new Promise(() => undefined);
    const inFlight = control.call({ op: 'freeze', ...ref }, 5000);
    while (handled.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await server.close();
    await assert.rejects(inFlight, (err: EdgeShiftError) => err.code === 'ERR_FNHOST_CHANNEL_CLOSED');
    server = await ControlChannelServer.start({
      handle: () => Promise.resolve(FROZEN),
      parse: parseControlRequest,
      logger,
    });
    assert.deepEqual(await control.call({ op: 'freeze', ...ref }, 5000), FROZEN);
    assert.deepEqual(ipc.calls, ['openControlChannel', 'openControlChannel']);
  });

  it('fails a call with no reply in time with ERR_FNHOST_CHANNEL_CLOSED', async () => {
    handle = () => new Promise(() => undefined);
    await assert.rejects(
      control.call({ op: 'freeze', ...ref }, 100),
      (err: EdgeShiftError) => err.code === 'ERR_FNHOST_CHANNEL_CLOSED',
    );
  });
});

describe('components/function-host/control-channel-wire', () => {
  it('reads the same messages however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1000), fc.option(fc.uint8Array({ maxLength: 64 }))), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }),
        (items, cuts) => {
          const sent: ChannelMessage[] = items.map(([id, body]) =>
            body === null
              ? { header: { id, request: { op: 'freeze' } } }
              : { header: { id, request: { op: 'importDelta' }, bytesField: 'delta' }, body },
          );
          const stream = Buffer.concat(sent.flatMap((message) => encodeFrame(message)));
          const reader = new FrameReader();
          const received: ChannelMessage[] = [];
          for (let offset = 0, cut = 0; offset < stream.byteLength; cut += 1) {
            const size = cuts[cut % cuts.length] as number;
            received.push(...reader.push(stream.subarray(offset, offset + size)));
            offset += size;
          }
          assert.deepEqual(
            received.map(({ header, body }) => ({
              header,
              body: body === undefined ? undefined : [...body],
            })),
            sent.map(({ header, body }) => ({ header, body: body === undefined ? undefined : [...body] })),
          );
        },
      ),
    );
  });

  it('refuses a frame longer than the limit', () => {
    const reader = new FrameReader();
    assert.throws(
      () => reader.push(Buffer.from([0x7f, 0xff, 0xff, 0xff])),
      (err: EdgeShiftError) => err.code === 'ERR_FNHOST_BAD_REQUEST',
    );
  });
});
