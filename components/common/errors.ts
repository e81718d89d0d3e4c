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
