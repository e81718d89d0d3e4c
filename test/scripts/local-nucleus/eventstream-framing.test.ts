import assert from 'node:assert/strict';

import {
  decodeFrame,
  encodeFrame,
  FrameSplitter,
  MessageFlags,
  MessageType,
  type RpcFrame,
} from '../../../scripts/local-nucleus/eventstream-framing.ts';

const frame: RpcFrame = {
  type: MessageType.ApplicationMessage,
  flags: MessageFlags.TerminateStream,
  streamId: 7,
  headers: { 'service-model-type': 'aws.greengrass#PublishToTopicResponse' },
  payload: new TextEncoder().encode('{}'),
};

describe('eventstream-framing', () => {
  describe('encodeFrame / decodeFrame', () => {
    it('round-trips type, flags, stream id, headers and payload', () => {
      assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
    });

    it('writes the prelude as big-endian total and headers lengths', () => {
      const bytes = Buffer.from(encodeFrame(frame));
      assert.equal(bytes.readUInt32BE(0), bytes.length, 'total length covers the whole frame');
      assert.equal(bytes.length, 12 + bytes.readUInt32BE(4) + 2 + 4, 'prelude + headers + payload + CRC');
    });

    it('refuses a frame with a corrupted message CRC as ERR_NUCLEUS_FRAME_INVALID', () => {
      const bytes = Buffer.from(encodeFrame(frame));
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
      assert.throws(() => decodeFrame(bytes), { code: 'ERR_NUCLEUS_FRAME_INVALID' });
    });
  });

  describe('FrameSplitter', () => {
    it('yields frames split across chunks and several frames in one chunk', () => {
      const one = Buffer.from(encodeFrame(frame));
      const splitter = new FrameSplitter();
      assert.equal(splitter.push(one.subarray(0, 5)).length, 0, 'no frame before all bytes arrived');
      assert.equal(
        splitter.push(Buffer.concat([one.subarray(5), one])).length,
        2,
        'the rest plus a whole frame',
      );
      assert.equal(splitter.pendingBytes, 0);
    });

    it('refuses a length prefix above the limit before buffering the body', () => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(1025, 0);
      assert.throws(() => new FrameSplitter(1024).push(prefix), { code: 'ERR_NUCLEUS_FRAME_TOO_LARGE' });
    });

    it('refuses a length prefix below the smallest possible frame', () => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(15, 0);
      assert.throws(() => new FrameSplitter().push(prefix), { code: 'ERR_NUCLEUS_FRAME_INVALID' });
    });
  });
});
