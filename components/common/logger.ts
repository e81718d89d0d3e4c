// Structured logging as JSON lines on stdout (Greengrass captures component stdout into its log
// files). One logger per module, named after it; the level comes from EDGESHIFT_LOG_LEVEL
// (debug | info | warn | error | silent, default info) and is read once per logger.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Readonly<Record<string, unknown>>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(name: string): Logger;
}

export type LogSink = (line: string) => void;

function parseLevel(value: string | undefined): LogLevel {
  if (value !== undefined && value in LEVEL_RANK) return value as LogLevel;
  return 'info';
}

function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
}

export function createLogger(name: string, options: { level?: LogLevel; sink?: LogSink } = {}): Logger {
  const level = options.level ?? parseLevel(process.env.EDGESHIFT_LOG_LEVEL);
  const sink = options.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const threshold = LEVEL_RANK[level];

  const write = (lineLevel: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields = {}): void => {
    if (LEVEL_RANK[lineLevel] < threshold) return;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: lineLevel,
      name,
      message,
    };
    for (const [key, value] of Object.entries(fields)) record[key] = serializeError(value);
    sink(JSON.stringify(record));
  };

  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (childName) => createLogger(`${name}:${childName}`, { level, sink }),
  };
}
