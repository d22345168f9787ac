// One line per notable event, to stderr. Two formats of the same events: `text` for people
// (time, level, component, message, key=value fields) and `json` for log shippers (one JSON
// object per line: time, level, component, msg, then the fields).
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const
export type Level = keyof typeof LEVELS
export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = typeof LOG_FORMATS[number]

export type Logger = (level: Level, component: string, message: string, fields?: Record<string, unknown>) => void

/** The keys every JSON line starts with; a field of the same name is written as `field_<name>`. */
const RESERVED = new Set(['time', 'level', 'component', 'msg'])

export function createLogger (min: Level, out: (line: string) => void = line => process.stderr.write(line + '\n'), format: LogFormat = 'text'): Logger {
  const line = format === 'json' ? jsonLine : textLine
  return (level, component, message, fields = {}) => {
    if (LEVELS[level] < LEVELS[min]) return
    out(line(new Date().toISOString(), level, component, message, fields))
  }
}

function textLine (time: string, level: Level, component: string, message: string, fields: Record<string, unknown>): string {
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : stringify(v)}`).join(' ')
  return `${time} ${level.toUpperCase().padEnd(5)} [${component}] ${message}${kv === '' ? '' : ' ' + kv}`
}

function jsonLine (time: string, level: Level, component: string, msg: string, fields: Record<string, unknown>): string {
  const o: Record<string, unknown> = { time, level, component, msg }
  for (const [k, v] of Object.entries(fields)) o[RESERVED.has(k) ? `field_${k}` : k] = v
  return stringify(o)
}

/** JSON that never throws out of a log call: bigints as strings, errors by their message, cycles cut. */
function stringify (v: unknown): string {
  try {
    return JSON.stringify(v, plain) ?? String(v)
  } catch {
    const seen = new WeakSet<object>()
    return JSON.stringify(v, (k, x: unknown) => {
      const y = plain(k, x)
      if (typeof y !== 'object' || y === null) return y
      if (seen.has(y)) return '[circular]'
      seen.add(y)
      return y
    }) ?? String(v)
  }
}

function plain (_k: string, x: unknown): unknown {
  if (typeof x === 'bigint') return x.toString()
  if (x instanceof Error) return x.message
  return x
}
