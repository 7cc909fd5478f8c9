// Structured logs: one JSON object per line on stderr. The call shape is pino's
// (`log.info({ key: value }, 'message')`) so pino can replace this later without touching callers.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

/** A JSON-lines logger writing to `write` (default: process.stderr). */
export function jsonLogger(
  opts: { level?: LogLevel; component?: string; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const emit =
    (level: LogLevel) =>
    (fields: LogFields, msg: string): void => {
      if (ORDER[level] < min) return;
      const rec: LogFields = { time: new Date().toISOString(), level, msg };
      if (opts.component !== undefined) rec['component'] = opts.component;
      for (const [k, v] of Object.entries(fields)) {
        rec[k] = v instanceof Error ? v.message : v;
      }
      write(`${JSON.stringify(rec)}\n`);
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** Discards everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
