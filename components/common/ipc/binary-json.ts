// Makes byte fields survive a JSON hop over Greengrass local pub/sub: Uint8Array values become
// {"$bytes":"<base64>"} before sending and turn back into Uint8Array on arrival. Used by the
// request/response layer; depends on nothing. Invariant: decode(encode(v)) deep-equals v for any
// JSON value whose leaves may also be Uint8Array (Buffer arrives as a plain Uint8Array).

export type BytesMarker = { readonly $bytes: string };

function isBytesMarker(value: object): value is BytesMarker {
  const keys = Object.keys(value);
  return (
    keys.length === 1 && keys[0] === '$bytes' && typeof (value as { $bytes: unknown }).$bytes === 'string'
  );
}

/** Replaces every Uint8Array (at any depth) by a {"$bytes": base64} marker; other values are copied. */
export function encodeBinaryFields(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(encodeBinaryFields);
  if (typeof value !== 'object' || value === null) return value;
  const encoded: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) encoded[key] = encodeBinaryFields(inner);
  return encoded;
}

/** Turns every {"$bytes": base64} marker (at any depth) back into a Uint8Array. */
export function decodeBinaryFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeBinaryFields);
  if (typeof value !== 'object' || value === null) return value;
  if (isBytesMarker(value)) {
    const buffer = Buffer.from(value.$bytes, 'base64');
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  const decoded: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) decoded[key] = decodeBinaryFields(inner);
  return decoded;
}
