// One line per notable event, to stderr: time, level, component, message, key=value fields.
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const
export type Level = keyof typeof LEVELS

export type Logger = (level: Level, component: string, message: string, fields?: Record<string, unknown>) => void

export function createLogger (min: Level, out: (line: string) => void = line => process.stderr.write(line + '\n')): Logger {
  return (level, component, message, fields = {}) => {
    if (LEVELS[level] < LEVELS[min]) return
    const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`).join(' ')
    out(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${component}] ${message}${kv === '' ? '' : ' ' + kv}`)
  }
}
