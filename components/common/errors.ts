// Every error EdgeShift raises on purpose: one base class with a stable `code`, and one catalog entry
// per code saying what it means and how to solve it. Used by all packages (components, agent, p4,
// scripts); docs/errors.md is kept in step with ERROR_CATALOG by test/components/common/errors.test.ts.
// Callers match on `err.code`, never on `instanceof`, since two copies of a bundle may be loaded.

export interface ErrorCatalogEntry {
  readonly description: string;
  readonly howToSolve: string;
}

export const ERROR_CATALOG = {
  // configuration
  ERR_CONFIG_INVALID: {
    description: 'A configuration document failed its JSON Schema or a cross-field rule.',
    howToSolve: 'Fix the field named in the message; the previous configuration stays in force.',
  },
  // ipc
  ERR_IPC_NOT_CONFIGURED: {
    description:
      'No Greengrass IPC socket is known: AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT is unset and no socket path was given.',
    howToSolve:
      'Run the component under a Greengrass nucleus or the local node (scripts/local-node-cli.ts), or pass socketPath and authToken explicitly.',
  },
  ERR_IPC_CONNECT_FAILED: {
    description: 'The IPC client could not connect to the nucleus socket after every retry.',
    howToSolve:
      'Check that the nucleus (or local node) is running, that the socket path exists and that SVCUID is the token it gave this component.',
  },
  ERR_IPC_UNAUTHORIZED: {
    description:
      "The nucleus refused an IPC operation: the component's accessControl policy does not allow it on that resource.",
    howToSolve:
      "Add the operation and topic to the component recipe's accessControl (aws.greengrass.ipc.pubsub or aws.greengrass.ipc.mqttproxy) and redeploy.",
  },
  ERR_IPC_OPERATION_FAILED: {
    description: 'An IPC operation was answered with an error by the nucleus.',
    howToSolve:
      "Read the nucleus message in the error; check the operation's arguments (topic, key path, component name).",
  },
  ERR_IPC_REQUEST_TIMEOUT: {
    description: "No reply arrived on the reply topic before the request's timeout.",
    howToSolve:
      'Check that the serving component runs and subscribes to TOPIC/request, that both policies allow the request and reply topics, or raise timeoutMs.',
  },
  ERR_IPC_REMOTE_FAILED: {
    description: 'The component serving a request answered with an error whose code EdgeShift does not know.',
    howToSolve:
      'Read remoteCode and the message in the error context; fix the request or the serving component.',
  },
  ERR_IPC_BAD_MESSAGE: {
    description:
      'A message on a request/response topic is not a valid envelope (correlationId, replyTo, body / ok).',
    howToSolve:
      "Publish request envelopes with the IPC module's request(); only it and serve() should use these topics.",
  },
  ERR_IPC_CLOSED: {
    description:
      'The IPC client was closed (SIGTERM or close()), so the operation was not sent or its reply will never arrive.',
    howToSolve: 'Do not call the IPC client after close(); pending requests fail with this code on shutdown.',
  },
  // packet codec (p4/protocol/edgeshift-header.ts)
  ERR_CODEC_BAD_LENGTH: {
    description: 'A UDP payload on the EdgeShift port is not exactly one EdgeShift header long.',
    howToSolve: 'Send one 24-byte header per datagram (docs/protocol.md).',
  },
  ERR_CODEC_BAD_MAGIC: {
    description: 'A packet on the EdgeShift port does not start with the EdgeShift magic.',
    howToSolve: 'Check that the sender speaks EdgeShift and that nothing else uses the port.',
  },
  ERR_CODEC_BAD_VERSION: {
    description: 'A packet carries a protocol version this build does not speak.',
    howToSolve: 'Run the same EdgeShift version on nodes and data plane.',
  },
  ERR_CODEC_BAD_TYPE: {
    description: 'A packet carries an unknown packet type.',
    howToSolve: 'Use one of METRICS, ADVICE, CLAIM, CLAIM_ACCEPTED, CLAIM_STALE.',
  },
  ERR_CODEC_OUT_OF_RANGE: {
    description: 'A header field is outside its range (node or service id, load above 100 %).',
    howToSolve: 'Keep node ids in 1..15, service ids in 0..63 and loads at most 10000 basis points.',
  },
} as const satisfies Record<string, ErrorCatalogEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class EdgeShiftError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeShiftError';
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** True when `err` carries one of EdgeShift's codes (works across bundle copies). */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
