import assert from 'node:assert/strict';

import fc from 'fast-check';

import { RequestCopies } from '../../../components/function-host/request-copies.ts';
import type { FunctionRequest } from '../../../components/function-host/request-wire.ts';

const requestNumber = (n: number): FunctionRequest => ({
  id: `r-${n}`,
  service: 'sensor-stats',
  key: `k-${n % 3}`,
  body: n,
  replyTo: { address: '127.0.0.1', port: 4000 },
});
const ids = (requests: readonly FunctionRequest[]): string[] => requests.map((request) => request.id);

describe('components/function-host/request-copies', () => {
  it('runs nothing before release, then the unbroken run from copy 0, then later copies as they come', () => {
    const copies = new RequestCopies(2, 100);
    assert.deepEqual(copies.add(1, requestNumber(1)), []);
    assert.deepEqual(copies.add(0, requestNumber(0)), []);
    assert.deepEqual(copies.add(3, requestNumber(3)), []);
    assert.deepEqual(ids(copies.release()), ['r-0', 'r-1']);
    assert.deepEqual(ids(copies.add(2, requestNumber(2))), ['r-2', 'r-3']);
    assert.deepEqual(ids(copies.add(4, requestNumber(4))), ['r-4']);
    assert.deepEqual(copies.add(4, requestNumber(4)), [], 'a copy that ran is never run again');
  });

  it('keeps no copy once closed, and at most its limit before', () => {
    const limited = new RequestCopies(2, 2);
    for (const n of [1, 2, 3]) limited.add(n, requestNumber(n));
    assert.deepEqual(limited.release(), []);
    assert.deepEqual(limited.add(0, requestNumber(0)), [], 'copy 0 finds the limit reached');
    const closed = new RequestCopies(2, 100);
    closed.add(0, requestNumber(0));
    closed.close();
    assert.deepEqual(closed.release(), []);
    assert.deepEqual(closed.add(1, requestNumber(1)), []);
  });

  it('runs, whatever the order, loss and duplicates of the copies, each at most once and in order up to the first lost', () => {
    const arrival = fc
      .array(fc.nat(15), { maxLength: 40 })
      .chain((sent) => fc.tuple(fc.constant(sent), fc.nat(sent.length)));
    fc.assert(
      fc.property(arrival, ([sent, releaseAt]) => {
        const copies = new RequestCopies(2, 1000);
        const ran: string[] = [];
        sent.forEach((n, index) => {
          if (index === releaseAt) ran.push(...ids(copies.release()));
          ran.push(...ids(copies.add(n, requestNumber(n))));
        });
        if (releaseAt === sent.length) ran.push(...ids(copies.release()));
        let firstLost = 0;
        while (sent.includes(firstLost)) firstLost += 1;
        assert.deepEqual(ran, ids(Array.from({ length: firstLost }, (_, n) => requestNumber(n))));
      }),
    );
  });
});
