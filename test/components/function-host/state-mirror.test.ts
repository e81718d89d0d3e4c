import assert from 'node:assert/strict';

import fc from 'fast-check';

import type { MirrorContent } from '../../../components/function-host/hand-off-seal.ts';
import {
  MirrorInbox,
  MirrorSender,
  type MirrorSenderOptions,
} from '../../../components/function-host/state-mirror.ts';

const CLIENT = { address: '127.0.0.1', port: 4000 };

/** Mirror n: its delta is the byte n, its reply the text "r-n". */
const content = (n: number): MirrorContent => ({
  delta: Uint8Array.of(n),
  reply: Buffer.from(`r-${n}`),
  replyTo: CLIENT,
});

/** A sender whose datagrams are "seq:n" strings, recorded in `sent`; replies it sends in `replied`. */
function recordingSender(overrides: Partial<MirrorSenderOptions> = {}): {
  sender: MirrorSender;
  sent: string[];
  replied: string[];
  mirror: (id: string) => void;
} {
  const sent: string[] = [];
  const replied: string[] = [];
  const sender = new MirrorSender(2, {
    seal: (seq, mirrored) => [Buffer.from(`${seq}:${mirrored.delta[0]}`)],
    send: (bytes) => void sent.push(Buffer.from(bytes).toString()),
    sendReply: (reply) => void replied.push(Buffer.from(reply).toString()),
    resendMs: 10,
    giveUpMs: 10_000,
    onGiveUp: () => undefined,
    ...overrides,
  });
  let next = 0;
  const mirror = (id: string): void => {
    sender.mirror({ id, ...content(next) });
    next += 1;
  };
  return { sender, sent, replied, mirror };
}

describe('components/function-host/state-mirror', () => {
  describe('MirrorSender', () => {
    it('holds each reply until the new owner acknowledges its mirror and every earlier one, and never sends it itself then', () => {
      const { sender, sent, replied, mirror } = recordingSender();
      mirror('r-0');
      mirror('r-1');
      mirror('r-2');
      assert.deepEqual(sent, ['0:0', '1:1', '2:2']);
      assert.equal(sender.sent, 3);
      assert.deepEqual([sender.isHeld('r-1'), sender.heldReplies], [true, 3]);
      sender.received(2);
      assert.deepEqual([sender.isHeld('r-1'), sender.isHeld('r-2'), sender.heldReplies], [false, true, 1]);
      sender.received(1);
      sender.received(4);
      assert.equal(sender.heldReplies, 1, 'an old or impossible receipt changes nothing');
      sender.received(3);
      assert.equal(sender.heldReplies, 0);
      sender.releaseAll();
      assert.deepEqual(replied, [], 'the new owner sent them all');
      sender.close();
    });

    it('sends unreceived mirrors again until they are received', async () => {
      const { sender, sent, mirror } = recordingSender();
      mirror('r-0');
      mirror('r-1');
      sender.received(1);
      await new Promise((resolve) => setTimeout(resolve, 35));
      assert.ok(sent.filter((text) => text === '1:1').length >= 2, `resent: ${sent.join(' ')}`);
      assert.equal(sent.filter((text) => text === '0:0').length, 1, 'a received mirror is not resent');
      sender.received(2);
      const count = sent.length;
      await new Promise((resolve) => setTimeout(resolve, 35));
      assert.equal(sent.length, count, 'nothing left to resend');
    });

    it('sends the replies not yet acknowledged itself when the move is aborted', () => {
      const { sender, replied, mirror } = recordingSender();
      mirror('r-0');
      mirror('r-1');
      mirror('r-2');
      sender.received(1);
      sender.releaseAll();
      assert.deepEqual(replied, ['r-1', 'r-2']);
      sender.received(3);
      sender.releaseAll();
      assert.deepEqual(replied, ['r-1', 'r-2'], 'each reply goes out once');
    });

    it('gives up the held replies when no receipt comes for giveUpMs', async () => {
      let givenUp: number | undefined;
      const { sender, replied, mirror } = recordingSender({
        giveUpMs: 30,
        onGiveUp: (held) => (givenUp = held),
      });
      mirror('r-0');
      mirror('r-1');
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(givenUp, 2);
      sender.releaseAll();
      assert.deepEqual(replied, [], 'a reply without a receipt never goes out from here');
    });
  });

  describe('MirrorInbox', () => {
    it('answers and applies nothing out of order, and is complete once the marker count is applied', () => {
      const inbox = new MirrorInbox(2, 100);
      assert.deepEqual(inbox.add(1, content(1)), []);
      assert.equal(inbox.received, 0);
      assert.deepEqual(inbox.takeReady(), []);
      assert.deepEqual(inbox.add(0, content(0)), [content(0), content(1)], 'both replies go out now');
      assert.deepEqual(inbox.add(1, content(1)), [], 'a duplicate is not answered again');
      assert.equal(inbox.received, 2);
      inbox.expect(3);
      assert.deepEqual(inbox.takeReady(), [content(0).delta, content(1).delta]);
      assert.equal(inbox.isComplete, false);
      inbox.add(2, content(2));
      assert.equal(inbox.isComplete, false, 'received is not applied');
      assert.deepEqual(inbox.takeReady(), [content(2).delta]);
      assert.equal(inbox.isComplete, true);
    });

    it('is complete at once for a marker of no mirrors, and never before a marker', () => {
      const inbox = new MirrorInbox(2, 100);
      inbox.add(0, content(0));
      inbox.takeReady();
      assert.equal(inbox.isComplete, false);
      inbox.expect(1);
      assert.equal(inbox.isComplete, true);
    });

    it('answers and applies each mirror once, in order, up to the first missing one, whatever order and duplicates they come in', () => {
      fc.assert(
        fc.property(
          fc.array(fc.nat(30), { maxLength: 80 }),
          fc.integer({ min: 1, max: 40 }),
          (arrivals, window) => {
            const inbox = new MirrorInbox(2, window);
            const applied: number[] = [];
            const answered: string[] = [];
            for (const seq of arrivals) {
              for (const done of inbox.add(seq, content(seq)))
                answered.push(Buffer.from(done.reply).toString());
              for (const bytes of inbox.takeReady()) applied.push(bytes[0] ?? -1);
            }
            const run = Array.from({ length: applied.length }, (_, n) => n);
            assert.deepEqual(applied, run);
            assert.deepEqual(
              answered,
              run.map((n) => `r-${n}`),
            );
            assert.equal(inbox.received, applied.length);
          },
        ),
      );
    });
  });
});
