// The envelopes of request/response over Greengrass local pub/sub: a request goes to `<topic>/request`
// as {correlationId, replyTo, body}; its reply goes to replyTo as {correlationId, ok: true, body} or
// {correlationId, ok: false, error: {code, message}}. Pure functions used by ipc-client.ts; bodies
// pass through binary-json.ts so Uint8Array fields survive. Invariant: nothing unvalidated leaves here.
import { EdgeShiftError, isCatalogCode, toWireError } from '../errors.ts';
import { decodeBinaryFields, encodeBinaryFields } from './binary-json.ts';

export interface RequestEnvelope {
  readonly correlationId: string;
  readonly replyTo: string;
  readonly body: unknown;
}

export type ReplyEnvelope =
  | { readonly correlationId: string; readonly ok: true; readonly body: unknown }
  | { readonly correlationId: string; readonly ok: false; readonly error: { code: string; message: string } };

export function requestTopicOf(topic: string): string {
  return `${topic}/request`;
}

export function replyTopicOf(topic: string, clientId: string): string {
  return `${topic}/reply/${clientId}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badMessage(what: string): EdgeShiftError {
  return new EdgeShiftError('ERR_IPC_BAD_MESSAGE', `invalid request/response envelope: ${what}`);
}

export function encodeRequest(envelope: RequestEnvelope): Record<string, unknown> {
  return {
    correlationId: envelope.correlationId,
    replyTo: envelope.replyTo,
    body: encodeBinaryFields(envelope.body),
  };
}

export function decodeRequest(message: unknown): RequestEnvelope {
  if (!isRecord(message)) throw badMessage('not a JSON object');
  const { correlationId, replyTo, body } = message;
  if (typeof correlationId !== 'string' || correlationId === '') throw badMessage('correlationId missing');
  if (typeof replyTo !== 'string' || replyTo === '') throw badMessage('replyTo missing');
  return { correlationId, replyTo, body: decodeBinaryFields(body) };
}

export function encodeReply(reply: ReplyEnvelope): Record<string, unknown> {
  if (reply.ok) return { correlationId: reply.correlationId, ok: true, body: encodeBinaryFields(reply.body) };
  return { correlationId: reply.correlationId, ok: false, error: reply.error };
}

export function decodeReply(message: unknown): ReplyEnvelope {
  if (!isRecord(message)) throw badMessage('not a JSON object');
  const { correlationId, ok } = message;
  if (typeof correlationId !== 'string') throw badMessage('correlationId missing');
  if (ok === true) return { correlationId, ok, body: decodeBinaryFields(message.body) };
  const error = message.error;
  if (
    ok !== false ||
    !isRecord(error) ||
    typeof error.code !== 'string' ||
    typeof error.message !== 'string'
  ) {
    throw badMessage(`reply ${correlationId} has neither ok:true nor a {code, message} error`);
  }
  return { correlationId, ok, error: { code: error.code, message: error.message } };
}

/** What a serving handler's failure looks like on the wire: its EdgeShift code when it has one. */
export function errorToReply(correlationId: string, err: unknown): ReplyEnvelope {
  return { correlationId, ok: false, error: toWireError(err, 'ERR_IPC_REMOTE_FAILED') };
}

/** The requester's view of an error reply: the same EdgeShift code when known, else ERR_IPC_REMOTE_FAILED. */
export function replyToError(topic: string, error: { code: string; message: string }): EdgeShiftError {
  if (isCatalogCode(error.code)) {
    return new EdgeShiftError(error.code, error.message, { context: { topic, isRemote: true } });
  }
  return new EdgeShiftError(
    'ERR_IPC_REMOTE_FAILED',
    `request on ${topic} failed remotely: ${error.message}`,
    {
      context: { topic, remoteCode: error.code },
    },
  );
}
