import assert from 'node:assert/strict';

import type { LocalMessage } from '../../../components/common/ipc/index.ts';
import {
  InflightTopicFollower,
  parseInflightMessage,
  type InflightReport,
} from '../../../components/node-monitor/inflight-topic.ts';
import { FakeTime } from './fake-time.ts';

/** A stand-in for IPC subscribe that records subscriptions and delivers messages to the live one. */
class TopicBoard {
  readonly opened: string[] = [];
  readonly closed: string[] = [];
  private handlers = new Map<string, (message: LocalMessage) => void>();

  subscribe = (
    topic: string,
    handler: (message: LocalMessage) => void,
  ): Promise<{ close(): Promise<void> }> => {
    this.opened.push(topic);
    this.handlers.set(topic, handler);
    return Promise.resolve({
      close: () => {
        this.closed.push(topic);
        this.handlers.delete(topic);
        return Promise.resolve();
      },
    });
  };

  publish(topic: string, value: unknown): void {
    this.handlers.get(topic)?.({ kind: 'json', topic, value });
  }
}

describe('components/node-monitor/inflight-topic', () => {
  describe('parseInflightMessage', () => {
    const cases: readonly { name: string; message: LocalMessage; count: InflightReport | undefined }[] = [
      {
        name: 'a count',
        message: { kind: 'json', topic: 't', value: { inflightRequests: 12 } },
        count: { inflightRequests: 12, isDraining: false },
      },
      {
        name: 'a draining host',
        message: { kind: 'json', topic: 't', value: { inflightRequests: 0, draining: true } },
        count: { inflightRequests: 0, isDraining: true },
      },
      {
        name: 'a draining flag that is not a boolean',
        message: { kind: 'json', topic: 't', value: { inflightRequests: 0, draining: 'yes' } },
        count: undefined,
      },
      {
        name: 'a negative count',
        message: { kind: 'json', topic: 't', value: { inflightRequests: -1 } },
        count: undefined,
      },
      {
        name: 'a string count',
        message: { kind: 'json', topic: 't', value: { inflightRequests: '3' } },
        count: undefined,
      },
      { name: 'null', message: { kind: 'json', topic: 't', value: null }, count: undefined },
      {
        name: 'a binary message',
        message: { kind: 'binary', topic: 't', bytes: new Uint8Array([1]) },
        count: undefined,
      },
    ];
    for (const { name, message, count } of cases) {
      it(`reads ${name} as ${JSON.stringify(count)}`, () => {
        assert.deepEqual(parseInflightMessage(message), count);
      });
    }
  });

  describe('InflightTopicFollower', () => {
    /** A follower of a topic board, on a fake clock, whose messages age out after 1 s. */
    function followerOnBoard(): { board: TopicBoard; time: FakeTime; follower: InflightTopicFollower } {
      const board = new TopicBoard();
      const time = new FakeTime();
      return { board, time, follower: new InflightTopicFollower(board.subscribe, time, 1000) };
    }

    it('keeps the latest count until it is older than maxAgeMs', async () => {
      const { board, time, follower } = followerOnBoard();
      await follower.follow('edgeshift/inflight/edge-a');
      board.publish('edgeshift/inflight/edge-a', { inflightRequests: 4 });
      time.advance(1000);
      assert.equal(follower.current(), 4, 'fresh enough');
      time.advance(1);
      assert.equal(follower.current(), undefined, 'a stopped publisher must not pin the count');
    });

    it('says the host is draining while its last message says so, and not once that message is old', async () => {
      const { board, time, follower } = followerOnBoard();
      await follower.follow('t');
      board.publish('t', { inflightRequests: 2 });
      assert.equal(follower.isDraining(), false);
      board.publish('t', { inflightRequests: 1, draining: true });
      assert.equal(follower.isDraining(), true);
      time.advance(1001);
      assert.equal(
        follower.isDraining(),
        false,
        'a host that stopped publishing does not keep its node drained',
      );
    });

    it('moves to a new topic and forgets the old count', async () => {
      const { board, follower } = followerOnBoard();
      await follower.follow('a');
      board.publish('a', { inflightRequests: 4 });
      await follower.follow('b');
      assert.equal(follower.current(), undefined);
      assert.deepEqual([board.opened, board.closed], [['a', 'b'], ['a']]);
      await follower.follow(undefined);
      assert.deepEqual(board.closed, ['a', 'b'], 'no topic, no subscription');
    });
  });
});
