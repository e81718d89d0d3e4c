// Seals the direct hand-off: the last delta and state checksum that a frozen source sends straight
// to the new owner's service port, so activation does not wait for both agents to relay them.
// AES-256-GCM under a key made for one migration by the source's agent; the key reaches the target's
// function host only through the agents' mutual-TLS link and the token-guarded control channels.
// The service, migration id and epoch are bound as associated data: a sealed hand-off opens only for
// the import it was made for. One that does not fit a datagram travels in parts (splitHandOff), which
// the target puts back together (HandOffAssembly) before it opens them. The same key seals the fence
// exchange that settles a take-over whose outcome the source could not learn (sealFence), and the
// write sets a source mirrors to the new owner while it keeps serving (sealMirror, state-mirror.ts);
// what a message is for, and a mirror's number, are bound into it too, so no message opens as another.
// Neighbours: request-wire.ts carries the parts, control-handlers.ts opens them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { EdgeShiftError } from '../common/errors.ts';

/** A hand-off key on the wire: 64 hex digits (32 bytes). */
export const HAND_OFF_KEY = /^[0-9a-f]{64}$/;

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface HandOffRef {
  readonly service: string;
  readonly migrationId: string;
  readonly epoch: number;
}

export interface HandOffContent {
  /** The source's state checksum at the freeze: the target's after importing `delta`. */
  readonly stateChecksum: string;
  readonly delta: Uint8Array;
}

/** What travels in the datagram: the reference in clear (to find the import), the rest sealed. */
export interface SealedHandOff extends HandOffRef {
  /** Base64 of IV, ciphertext and tag. */
  readonly sealed: string;
}

export function newHandOffKey(): string {
  return randomBytes(32).toString('hex');
}

/** What a sealed message is for: bound into it, so that one never opens as another. */
type Purpose = 'hand-off' | 'fence' | 'mirror';

/** A mirror's number is bound too: a replayed mirror never opens as a later one. */
function associatedData(purpose: Purpose, { service, migrationId, epoch }: HandOffRef, seq?: number): Buffer {
  const fields =
    seq === undefined ? [purpose, service, migrationId, epoch] : [purpose, service, migrationId, epoch, seq];
  return Buffer.from(JSON.stringify(fields), 'utf8');
}

function keyBytes(key: string): Buffer {
  if (!HAND_OFF_KEY.test(key))
    throw new EdgeShiftError('ERR_FNHOST_BAD_REQUEST', 'a hand-off key is 64 hex digits');
  return Buffer.from(key, 'hex');
}

function seal(
  key: string,
  purpose: Purpose,
  ref: HandOffRef,
  plain: readonly Uint8Array[],
  seq?: number,
): SealedHandOff {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, keyBytes(key), iv).setAAD(associatedData(purpose, ref, seq));
  const body = Buffer.concat([...plain.map((bytes) => cipher.update(bytes)), cipher.final()]);
  const sealed = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  return { service: ref.service, migrationId: ref.migrationId, epoch: ref.epoch, sealed };
}

function badHandOff(message: string, ref: HandOffRef): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_BAD_HAND_OFF', message, { context: { ...ref } });
}

/** The plain bytes of a sealed message; anything altered, or sealed under another key, reference or purpose, throws. */
function open(key: string, purpose: Purpose, message: SealedHandOff, seq?: number): Buffer {
  const bytes = Buffer.from(message.sealed, 'base64');
  if (bytes.byteLength < IV_BYTES + TAG_BYTES) throw badHandOff(`sealed ${purpose} too short`, message);
  const decipher = createDecipheriv(CIPHER, keyBytes(key), bytes.subarray(0, IV_BYTES))
    .setAAD(associatedData(purpose, message, seq))
    .setAuthTag(bytes.subarray(bytes.byteLength - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.byteLength - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw badHandOff(`${purpose} does not authenticate under this migration key`, message);
  }
}

export function sealHandOff(key: string, ref: HandOffRef, content: HandOffContent): SealedHandOff {
  const checksum = Buffer.from(content.stateChecksum, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(checksum.byteLength, 0);
  return seal(key, 'hand-off', ref, [length, checksum, content.delta]);
}

/** Opens a sealed hand-off; anything altered, or sealed under another key or reference, throws. */
export function openHandOff(key: string, handOff: SealedHandOff): HandOffContent {
  const plain = open(key, 'hand-off', handOff);
  if (plain.byteLength < 2) throw badHandOff('sealed hand-off too short', handOff);
  const checksumEnd = 2 + plain.readUInt16BE(0);
  if (checksumEnd > plain.byteLength) throw badHandOff('hand-off checksum length out of range', handOff);
  return {
    stateChecksum: plain.toString('utf8', 2, checksumEnd),
    delta: new Uint8Array(plain.subarray(checksumEnd)),
  };
}

/**
 * A fence exchange (control-handlers.ts): the old owner asks whether the import was activated
 * ('fence'); the new owner answers 'activated', or 'fenced' after which it never activates it.
 */
export type FenceWord = 'fence' | 'activated' | 'fenced';

const FENCE_WORDS: readonly FenceWord[] = ['fence', 'activated', 'fenced'];

export function sealFence(key: string, ref: HandOffRef, word: FenceWord): SealedHandOff {
  return seal(key, 'fence', ref, [Buffer.from(word, 'utf8')]);
}

export function openFence(key: string, message: SealedHandOff): FenceWord {
  const word = open(key, 'fence', message).toString('utf8');
  const known = FENCE_WORDS.find((candidate) => candidate === word);
  if (known === undefined) throw badHandOff('a fence says nothing known', message);
  return known;
}

/** One mirror of a serving source (state-mirror.ts): a request's writes, and the reply it got. */
export interface MirrorContent {
  readonly delta: Uint8Array;
  /** Sent by the new owner on receipt: the reply is out once its writes are there. */
  readonly reply: Uint8Array;
  readonly replyTo: { readonly address: string; readonly port: number };
}

/** Mirror `seq`: [u32 delta length][delta][u32 reply length][reply][replyTo as JSON]. */
export function sealMirror(key: string, ref: HandOffRef, seq: number, content: MirrorContent): SealedHandOff {
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(content.delta.byteLength, 0);
  lengths.writeUInt32BE(content.reply.byteLength, 4);
  const replyTo = Buffer.from(JSON.stringify(content.replyTo), 'utf8');
  const plain = [lengths.subarray(0, 4), content.delta, lengths.subarray(4), content.reply, replyTo];
  return seal(key, 'mirror', ref, plain, seq);
}

/** Mirror `seq`; anything altered, or sealed under another key, reference or number, throws. */
export function openMirror(key: string, message: SealedHandOff, seq: number): MirrorContent {
  const plain = open(key, 'mirror', message, seq);
  const malformed = (): EdgeShiftError => badHandOff('mirror malformed', message);
  if (plain.byteLength < 8) throw malformed();
  const deltaEnd = 4 + plain.readUInt32BE(0);
  if (deltaEnd + 4 > plain.byteLength) throw malformed();
  const replyEnd = deltaEnd + 4 + plain.readUInt32BE(deltaEnd);
  if (replyEnd > plain.byteLength) throw malformed();
  let replyTo: unknown;
  try {
    replyTo = JSON.parse(plain.toString('utf8', replyEnd));
  } catch {
    throw malformed();
  }
  const address = replyTo as { address?: unknown; port?: unknown } | null;
  if (typeof address?.address !== 'string' || !Number.isInteger(address.port)) throw malformed();
  return {
    delta: new Uint8Array(plain.subarray(4, deltaEnd)),
    reply: new Uint8Array(plain.subarray(deltaEnd + 4, replyEnd)),
    replyTo: { address: address.address, port: address.port as number },
  };
}

/** One datagram's share of a sealed hand-off: `sealed` is part `part` (from 0) of `parts`. */
export interface HandOffPart extends SealedHandOff {
  readonly part: number;
  readonly parts: number;
}

/** A hand-off in more parts than this is not sent: the last delta travels through the agents only. */
export const MAX_HAND_OFF_PARTS = 32;

/**
 * A mirror has no other way to the new owner (its requests' replies wait for it), so it may take far
 * more parts: about 190 MiB of writes by one request. A larger one is refused, and the replies that
 * wait for it never go out.
 */
export const MAX_MIRROR_PARTS = 4096;

/** One datagram's share of mirror `seq`. */
export interface MirrorPart extends HandOffPart {
  readonly seq: number;
}

/**
 * Cuts a sealed hand-off into parts of at most `partChars` characters of its base64 text, at multiples
 * of 4 so that each part is base64 on its own and the parts, joined in order, are the whole.
 */
export function splitHandOff(handOff: SealedHandOff, partChars: number): HandOffPart[] {
  const size = Math.max(4, partChars - (partChars % 4));
  const parts = Math.max(1, Math.ceil(handOff.sealed.length / size));
  return Array.from({ length: parts }, (_, part) => ({
    ...handOff,
    part,
    parts,
    sealed: handOff.sealed.slice(part * size, (part + 1) * size),
  }));
}

/** Collects the parts of one hand-off, in any order and with duplicates; whole once every part is in. */
export class HandOffAssembly {
  readonly #ref: HandOffRef;
  readonly #parts: (string | undefined)[];
  #missing: number;

  constructor(first: HandOffPart) {
    this.#ref = { service: first.service, migrationId: first.migrationId, epoch: first.epoch };
    this.#parts = Array.from({ length: first.parts }, () => undefined);
    this.#missing = first.parts;
  }

  /** Adds a part; the whole hand-off once the last one is in, else undefined. A stranger part throws. */
  add(part: HandOffPart): SealedHandOff | undefined {
    const isSameHandOff =
      part.service === this.#ref.service &&
      part.migrationId === this.#ref.migrationId &&
      part.epoch === this.#ref.epoch &&
      part.parts === this.#parts.length &&
      Number.isInteger(part.part) &&
      part.part >= 0 &&
      part.part < this.#parts.length;
    if (!isSameHandOff) throw badHandOff(`part ${part.part} of ${part.parts} belongs to no part here`, part);
    if (this.#parts[part.part] === undefined) this.#missing -= 1;
    this.#parts[part.part] = part.sealed;
    return this.#missing === 0 ? { ...this.#ref, sealed: this.#parts.join('') } : undefined;
  }
}
