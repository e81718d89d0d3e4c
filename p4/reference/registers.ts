// Register and counter arrays with v1model semantics, for the reference pipeline. Values are plain
// numbers: every register of the program is at most 48 bits wide, so they stay exact doubles.
// Invariant: a stored value always fits the register's width; out-of-range indexes never throw.

/** A v1model `register<bit<W>>(size)`. */
export class RegisterArray {
  readonly name: string;
  readonly widthBits: number;
  readonly size: number;
  private readonly values: number[];
  private readonly modulus: number;

  constructor(name: string, widthBits: number, size: number) {
    if (widthBits < 1 || widthBits > 48)
      throw new RangeError(`register ${name}: width ${widthBits} not in 1..48`);
    this.name = name;
    this.widthBits = widthBits;
    this.size = size;
    this.modulus = 2 ** widthBits;
    this.values = new Array<number>(size).fill(0);
  }

  /**
   * p4include/v1model.p4: a read with an index >= size leaves the result unspecified; BMv2 and this
   * reference return 0, so a program must not rely on it.
   */
  read(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return 0;
    return this.values[index] ?? 0;
  }

  /** p4include/v1model.p4: a write with an index >= size does nothing. The value wraps to the width. */
  write(index: number, value: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return;
    this.values[index] = wrap(value, this.modulus);
  }

  reset(): void {
    this.values.fill(0);
  }

  snapshot(): readonly number[] {
    return [...this.values];
  }
}

/** A v1model `counter(size, CounterType.packets)`; bytes are kept too, as BMv2 does for packets_and_bytes. */
export class CounterArray {
  readonly name: string;
  readonly size: number;
  private readonly packets: number[];
  private readonly bytes: number[];

  constructor(name: string, size: number) {
    this.name = name;
    this.size = size;
    this.packets = new Array<number>(size).fill(0);
    this.bytes = new Array<number>(size).fill(0);
  }

  /** v1model `count(index)`: an index >= size is ignored (BMv2 logs an error and counts nothing). */
  count(index: number, frameBytes: number): void {
    if (index < 0 || index >= this.size) return;
    this.packets[index] = (this.packets[index] ?? 0) + 1;
    this.bytes[index] = (this.bytes[index] ?? 0) + frameBytes;
  }

  read(index: number): { packets: number; bytes: number } {
    return { packets: this.packets[index] ?? 0, bytes: this.bytes[index] ?? 0 };
  }

  write(index: number, packets: number, bytes: number): void {
    if (index < 0 || index >= this.size) return;
    this.packets[index] = packets;
    this.bytes[index] = bytes;
  }

  reset(): void {
    this.packets.fill(0);
    this.bytes.fill(0);
  }
}

/** `value mod modulus`, non-negative: P4 bit<W> arithmetic wraps. */
export function wrap(value: number, modulus: number): number {
  const rest = value % modulus;
  return rest < 0 ? rest + modulus : rest;
}
