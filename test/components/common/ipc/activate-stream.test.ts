import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { hasErrorCode } from '../../../../components/common/errors.ts';
import { activateStream } from '../../../../components/common/ipc/ipc-client.ts';

/**
 * A stream whose activation settles only as the test says: the SDK's race (an activation left
 * unsettled after a refusal ended the stream) cannot be brought about on purpose with the real client.
 */
class ScriptedStream extends EventEmitter {
  settle: { resolve: () => void; reject: (err: unknown) => void } = {
    resolve: () => undefined,
    reject: () => undefined,
  };

  activate(): Promise<void> {
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }
}

const GRACE_MS = 50;

describe('components/common/ipc activateStream', () => {
  it('rejects an activation left unsettled after the nucleus ended its stream', async () => {
    const stream = new ScriptedStream();
    const activation = activateStream(stream, 'SubscribeToTopic', GRACE_MS);
    stream.emit('ended');
    await assert.rejects(
      activation,
      (err: unknown) =>
        hasErrorCode(err, 'ERR_IPC_OPERATION_FAILED') &&
        /SubscribeToTopic failed: the nucleus ended the stream/.test((err as Error).message),
    );
  });

  it("keeps the SDK's own reason when it comes within the grace", async () => {
    const stream = new ScriptedStream();
    const activation = activateStream(stream, 'SubscribeToTopic', GRACE_MS);
    stream.emit('ended');
    stream.settle.reject(new Error('Principal com.example.Stranger is not authorized'));
    await assert.rejects(activation, /is not authorized/);
  });

  it('lets an active stream end later without a stray rejection or listener', async () => {
    const stream = new ScriptedStream();
    const activation = activateStream(stream, 'SubscribeToTopic', GRACE_MS);
    stream.settle.resolve();
    await activation;
    assert.equal(stream.listenerCount('ended'), 0, 'the end listener is gone once activated');
  });
});
