import assert from 'node:assert/strict';
import { counterStateChecker, ReplyChecker } from '../../../scripts/loadgen/reply-checker.ts';
import type { TrackedRequest } from '../../../scripts/loadgen/reply-checker.ts';
import type { FunctionReply } from '../../../components/function-host/request-wire.ts';

function request(index: number, sentAtMs: number, keyIndex = index): TrackedRequest {
  return { id: `c:${index}`, key: 'k', keyIndex, index, scheduledAtMs: sentAtMs, sentAtMs, body: {} };
}

function reply(id: string, body: unknown = { count: 1 }, ok = true): FunctionReply {
  return ok
    ? { id, ok, body, node: 'a', epoch: 1 }
    : { id, ok, node: 'a', epoch: 1, error: { code: 'E', message: 'no' } };
}

describe('reply-checker', () => {
  describe('ReplyChecker', () => {
    it('answers a first reply, flags a second one for the same id as a duplicate', () => {
      const checker = new ReplyChecker({ deadlineMs: 100 });
      checker.track(request(0, 0));
      assert.equal(checker.onReply(reply('c:0')).kind, 'answered');
      assert.equal(checker.onReply(reply('c:0')).kind, 'duplicate', 'the second reply is a duplicate');
      assert.equal(checker.pendingCount, 0);
    });

    it('expires requests past the deadline as lost, oldest first, and calls a later reply late', () => {
      const checker = new ReplyChecker({ deadlineMs: 100 });
      checker.track(request(0, 0));
      checker.track(request(1, 10));
      checker.track(request(2, 50));
      checker.onReply(reply('c:1'));
      assert.deepEqual(checker.expire(100), [], 'nothing is lost at exactly the deadline');
      assert.deepEqual(
        checker.expire(120).map((r) => r.id),
        ['c:0'],
        'only the request past its deadline',
      );
      assert.deepEqual(
        checker.expire(151).map((r) => r.id),
        ['c:2'],
        'the answered one is skipped',
      );
      assert.equal(
        checker.onReply(reply('c:0')).kind,
        'late',
        'a reply after the deadline does not revive the request',
      );
      assert.equal(checker.pendingCount, 0);
    });

    it('still knows early ids and every pending request after many requests have settled', () => {
      // Enough requests for the send-order list to be compacted twice; every 7th stays unanswered.
      const checker = new ReplyChecker({ deadlineMs: 100 });
      const lost: string[] = [];
      for (let i = 0; i < 25_000; i += 1) {
        checker.track(request(i, i));
        if (i % 7 !== 0) checker.onReply(reply(`c:${i}`));
        lost.push(...checker.expire(i).map((r) => r.id));
      }
      lost.push(...checker.expire(25_200).map((r) => r.id));
      assert.equal(lost.length, 3572, 'each unanswered request is lost once (ceil(25000 / 7))');
      assert.ok(
        lost.every((id, n) => id === `c:${n * 7}`),
        'in send order, none skipped',
      );
      assert.equal(checker.onReply(reply('c:3')).kind, 'duplicate', 'an early id is still recognised');
      assert.equal(checker.pendingCount, 0);
    });

    it('reports a reply to an id it never sent as unexpected', () => {
      assert.deepEqual(new ReplyChecker({ deadlineMs: 100 }).onReply(reply('other:1')), {
        kind: 'unexpected',
      });
    });

    it('reports an ok=false reply as an error with its code, without checking state', () => {
      const checker = new ReplyChecker({ deadlineMs: 100, checkState: () => 'must not be called' });
      checker.track(request(0, 0));
      const outcome = checker.onReply(reply('c:0', undefined, false));
      assert.equal(outcome.kind, 'error');
      assert.equal(outcome.kind === 'error' ? outcome.detail : '', 'E: no');
    });

    it('passes the state checker verdict through', () => {
      const checker = new ReplyChecker({ deadlineMs: 100, checkState: counterStateChecker() });
      checker.track(request(0, 0, 4));
      assert.deepEqual(checker.onReply(reply('c:0', { count: 6 })), {
        kind: 'answered',
        request: request(0, 0, 4),
        wrongState: 'key k: count 6, expected 5',
      });
    });
  });

  describe('counterStateChecker', () => {
    const cases: Array<
      [string, Parameters<typeof counterStateChecker>[0], number, unknown, string | undefined]
    > = [
      ['accepts count = keyIndex + 1', {}, 4, { count: 5 }, undefined],
      ['rejects a count one too high', {}, 4, { count: 6 }, 'key k: count 6, expected 5'],
      [
        'accepts count = keyIndex when the service does not count itself',
        { countsSelf: false },
        4,
        { count: 4 },
        undefined,
      ],
      ['reads another field', { countField: 'seen' }, 0, { seen: 1 }, undefined],
      ['rejects a body without the count', {}, 0, { total: 1 }, 'reply body has no numeric "count"'],
      ['rejects a non-object body', {}, 0, 'x', 'reply body has no numeric "count"'],
    ];
    for (const [name, options, keyIndex, body, expected] of cases) {
      it(name, () => {
        const verdict = counterStateChecker(options)({
          request: request(0, 0, keyIndex),
          reply: reply('c:0', body),
        });
        assert.equal(verdict, expected);
      });
    }
  });
});
