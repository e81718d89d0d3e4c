// The per-sensor state of the sample application's sensor-stats function: a reading count and a ring
// of the last `windowLength` readings (°C), plus optional padding that lets benchmarks grow the state
// per key. Binary, fixed layout, so its size is exact and its bytes are the same on every node.
// Used by sensor-stats.ts. Invariant: decode(encode(w)) === w, and the layout is
// [u32 count][u32 windowLength][f64 x windowLength][padding bytes], big-endian.

export interface SensorWindow {
  /** Readings seen for this sensor since it first reported. */
  readonly count: number;
  /** Ring buffer: reading number n (0-based) is at n % windowLength. */
  readonly values: Float64Array;
  readonly paddingBytes: number;
}

const HEADER_BYTES = 8;

export function sensorWindowBytes(windowLength: number, paddingBytes: number): number {
  return HEADER_BYTES + 8 * windowLength + paddingBytes;
}

export function emptyWindow(windowLength: number, paddingBytes: number): SensorWindow {
  return { count: 0, values: new Float64Array(windowLength), paddingBytes };
}

export function encodeWindow(window: SensorWindow): Uint8Array {
  const windowLength = window.values.length;
  const out = Buffer.alloc(sensorWindowBytes(windowLength, window.paddingBytes));
  out.writeUInt32BE(window.count, 0);
  out.writeUInt32BE(windowLength, 4);
  window.values.forEach((value, index) => out.writeDoubleBE(value, HEADER_BYTES + 8 * index));
  return out;
}

/** Reads a stored window; a window stored with another length is resized (the newest readings kept). */
export function decodeWindow(bytes: Uint8Array, windowLength: number, paddingBytes: number): SensorWindow {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = data.readUInt32BE(0);
  const storedLength = data.readUInt32BE(4);
  const values = new Float64Array(windowLength);
  const kept = Math.min(count, storedLength, windowLength);
  for (let back = 1; back <= kept; back += 1) {
    const reading = count - back;
    values[reading % windowLength] = data.readDoubleBE(HEADER_BYTES + 8 * (reading % storedLength));
  }
  return { count, values, paddingBytes };
}

export interface WindowStatistics {
  readonly samples: number;
  readonly mean: number;
  readonly standardDeviation: number;
}

/** Mean and population standard deviation of the readings in the window (before a new one is added). */
export function windowStatistics(window: SensorWindow): WindowStatistics {
  const samples = Math.min(window.count, window.values.length);
  if (samples === 0) return { samples, mean: 0, standardDeviation: 0 };
  let sum = 0;
  for (let i = 0; i < samples; i += 1) sum += window.values[i] as number;
  const mean = sum / samples;
  let squares = 0;
  for (let i = 0; i < samples; i += 1) squares += ((window.values[i] as number) - mean) ** 2;
  return { samples, mean, standardDeviation: Math.sqrt(squares / samples) };
}

export function addReading(window: SensorWindow, value: number): SensorWindow {
  const values = window.values.slice();
  values[window.count % values.length] = value;
  return { count: window.count + 1, values, paddingBytes: window.paddingBytes };
}
