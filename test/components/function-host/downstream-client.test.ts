import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { createLogger } from '../../../components/common/logger.ts';
import { DownstreamClient } from '../../../components/function-host/downstream-client.ts';
import {
  encodeMessage,
  parseRequest,
  type FunctionRequest,
} from '../../../components/function-host/request-wire.ts';

/** A downstream service that answers only the requests `answer` says yes to, recording all of them. */
async function fakeDownstream(
  answer: (request: FunctionRequest, attempt: number) => boolean,
): Promise<{ socket: Socket; seen: FunctionRequest[] }> {
  const socket = createSocket('udp4');
  const seen: FunctionRequest[] = [];
  socket.on('message', (bytes, sender) => {
    const parsed = parseRequest(bytes);
    if (!parsed.ok) return;
    seen.push(parsed.value);
    if (!answer(parsed.value, seen.length)) return;
    const reply = {
      id: parsed.value.id,
      ok: true,
      body: { echoed: parsed.value.body },
      node: 'down',
      epoch: 1,
    };
    socket.send(encodeMessage(reply), sender.port, sender.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, seen };
}

describe('components/function-host/downstream-client', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function client(
    port: number,
    callTimeoutMs: number,
    callAttempts: number,
  ): Promise<DownstreamClient> {
    const opened = await DownstreamClient.open(
      {
        resolve: () => ({ address: '127.0.0.1', port }),
        callTimeoutMs,
        callAttempts,
        logger: createLogger('test', { level: 'silent' }),
      },
      '127.0.0.1',
    );
    closers.push(() => opened.close());
    return opened;
  }

  it('retries an unanswered request with the same id and resolves with the reply body', async () => {
    const down = await fakeDownstream((_, attempt) => attempt > 1);
    closers.push(() => down.socket.close());
    const downstream = await client(down.socket.address().port, 500, 5);
    assert.deepEqual(await downstream.call('stats', 'r:1>stats#1', 'k', 5), { echoed: 5 });
    assert.ok(down.seen.length >= 2, 'the first attempt went unanswered, so there was a retry');
    assert.ok(
      down.seen.every((r) => r.id === 'r:1>stats#1'),
      'every retry reuses the id',
    );
  });

  it('gives up with ERR_FNHOST_CALL_TIMEOUT after callAttempts', async () => {
    const down = await fakeDownstream(() => false);
    closers.push(() => down.socket.close());
    const downstream = await client(down.socket.address().port, 100, 2);
    await assert.rejects(downstream.call('stats', 'r:2>stats#1', 'k', 5), (err) =>
      hasErrorCode(err, 'ERR_FNHOST_CALL_TIMEOUT'),
    );
    assert.equal(down.seen.length, 2);
  });

  it('passes on the error code a downstream answers with', async () => {
    const socket = createSocket('udp4');
    closers.push(() => socket.close());
    socket.on('message', (bytes, sender) => {
      const parsed = parseRequest(bytes);
      if (!parsed.ok) return;
      const reply = {
        id: parsed.value.id,
        ok: false,
        error: { code: 'ERR_APP_BAD_READING', message: 'no' },
        node: 'down',
        epoch: 1,
      };
      socket.send(encodeMessage(reply), sender.port, sender.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const downstream = await client(socket.address().port, 1000, 3);
    await assert.rejects(downstream.call('stats', 'r:3>stats#1', 'k', 5), (err) =>
      hasErrorCode(err, 'ERR_APP_BAD_READING'),
    );
  });
});
