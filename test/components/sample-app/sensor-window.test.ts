import assert from 'node:assert/strict';

import fc from 'fast-check';

import {
  addReading,
  decodeWindow,
  emptyWindow,
  encodeWindow,
  sensorWindowBytes,
  windowStatistics,
} from '../../../components/sample-app/sensor-window.ts';

describe('components/sample-app/sensor-window', () => {
  it('encodes count, window length, readings and padding big-endian', () => {
    const window = addReading(emptyWindow(2, 3), 1.5);
    assert.deepEqual(
      [...encodeWindow(window)],
      [0, 0, 0, 1, 0, 0, 0, 2, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      'count 1, length 2, 1.5 then 0.0, three padding bytes',
    );
    assert.equal(sensorWindowBytes(2, 3), 27);
  });

  it('round-trips any sequence of readings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 50 }),
        fc.integer({ min: 1, max: 10 }),
        (readings, length) => {
          const window = readings.reduce(addReading, emptyWindow(length, 4));
          assert.deepEqual(decodeWindow(encodeWindow(window), length, 4), window);
        },
      ),
    );
  });

  it('keeps the newest readings when the window length changes', () => {
    const window = [1, 2, 3, 4, 5].reduce(addReading, emptyWindow(4, 0));
    const shorter = decodeWindow(encodeWindow(window), 2, 0);
    assert.equal(shorter.count, 5);
    assert.deepEqual(windowStatistics(shorter), { samples: 2, mean: 4.5, standardDeviation: 0.5 });
  });

  it('computes mean and population standard deviation over the window only', () => {
    const window = [100, 1, 3].reduce(addReading, emptyWindow(2, 0));
    assert.deepEqual(windowStatistics(window), { samples: 2, mean: 2, standardDeviation: 1 });
  });
});
