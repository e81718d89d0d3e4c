import assert from 'node:assert/strict';

import fc from 'fast-check';

import {
  MirrorInbox,
  MirrorSender,
  type MirrorSenderOptions,
} from '../../../components/function-host/state-mirror.ts';

const delta = (n: number): Uint8Array => Uint8Array.of(n);

/** A sender whose datagrams are "seq:n" strings, recorded in `sent`; replies recorded in `replied`. */
function recordingSender(overrides: Partial<MirrorSenderOptions> = {}): {
  sender: MirrorSender;
  sent: string[];
  replied: string[];
  mirror: (id: string) => void;
} {
  const sent: string[] = [];
  const replied: string[] = [];
  const sender = new MirrorSender(2, {
    seal: (seq, bytes) => [Buffer.from(`${seq}:${bytes[0]}`)],
    send: (bytes) => void sent.push(Buffer.from(bytes).toString()),
    resendMs: 10,
    giveUpMs: 10_000,
    onGiveUp: () => undefined,
    ...overrides,
  });
  const mirror = (id: string): void =>
    sender.mirror(delta(sent.length), { id, send: () => void replied.push(id) });
  return { sender, sent, replied, mirror };
}

describe('components/function-host/state-mirror', () => {
  describe('MirrorSender', () => {
    it('lets a reply out only once its mirror and every earlier one are received', () => {
      const { sender, sent, replied, mirror } = recordingSender();
      mirror('r-0');
      mirror('r-1');
      mirror('r-2');
      assert.deepEqual(sent, ['0:0', '1:1', '2:2']);
      assert.equal(sender.sent, 3);
      assert.deepEqual([sender.isHeld('r-1'), sender.heldReplies], [true, 3]);
      sender.received(2);
      assert.deepEqual(replied, ['r-0', 'r-1']);
      assert.equal(sender.isHeld('r-1'), false);
      sender.received(1);
      sender.received(4);
      assert.deepEqual(replied, ['r-0', 'r-1'], 'an old or impossible receipt changes nothing');
      sender.received(3);
      assert.deepEqual(replied, ['r-0', 'r-1', 'r-2']);
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

    it('lets every held reply out when the move is aborted', () => {
      const { sender, replied, mirror } = recordingSender();
      mirror('r-0');
      mirror('r-1');
      sender.releaseAll();
      assert.deepEqual(replied, ['r-0', 'r-1']);
      sender.received(2);
      assert.deepEqual(replied, ['r-0', 'r-1'], 'each reply goes out once');
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
      sender.received(2);
      assert.deepEqual(replied, [], 'a reply without a receipt never goes out');
    });
  });

  describe('MirrorInbox', () => {
    it('applies nothing out of order, and is complete once the marker count is applied', () => {
      const inbox = new MirrorInbox(2, 100);
      inbox.add(1, delta(1));
      assert.equal(inbox.received, 0);
      assert.deepEqual(inbox.takeReady(), []);
      inbox.add(0, delta(0));
      assert.equal(inbox.received, 2);
      inbox.expect(3);
      assert.deepEqual(inbox.takeReady(), [delta(0), delta(1)]);
      assert.equal(inbox.isComplete, false);
      inbox.add(2, delta(2));
      assert.equal(inbox.isComplete, false, 'received is not applied');
      assert.deepEqual(inbox.takeReady(), [delta(2)]);
      assert.equal(inbox.isComplete, true);
    });

    it('is complete at once for a marker of no mirrors, and never before a marker', () => {
      const inbox = new MirrorInbox(2, 100);
      inbox.add(0, delta(0));
      inbox.takeReady();
      assert.equal(inbox.isComplete, false);
      inbox.expect(1);
      assert.equal(inbox.isComplete, true);
    });

    it('applies each mirror once, in order, up to the first missing one, whatever order and duplicates they come in', () => {
      fc.assert(
        fc.property(
          fc.array(fc.nat(30), { maxLength: 80 }),
          fc.integer({ min: 1, max: 40 }),
          (arrivals, window) => {
            const inbox = new MirrorInbox(2, window);
            const applied: number[] = [];
            for (const seq of arrivals) {
              inbox.add(seq, delta(seq));
              for (const bytes of inbox.takeReady()) applied.push(bytes[0] ?? -1);
            }
            assert.deepEqual(
              applied,
              Array.from({ length: applied.length }, (_, n) => n),
            );
            assert.equal(inbox.received, applied.length);
          },
        ),
      );
    });
  });
});
