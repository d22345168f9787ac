// Command-line parsing shared by every command: node:util's parseArgs, strict, with two
// changes people expect of a CLI. A negative number is a value, not an option
// (`config set limits/floor -5`, `--clock-skew-ms -3000`); parseArgs would call `-5` an unknown
// option. And its errors become one line (its own span three), for a usage error (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliError } from './client.js'

export type Values = Record<string, string | boolean | string[] | undefined>

const NEGATIVE = /^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
// Argv strings cannot hold NUL, so no real argument looks like a placeholder.
const MARK = '\u0000'

export function parseCommandLine (args: string[], options: NonNullable<ParseArgsConfig['options']>, allowPositionals = true): { values: Values, positionals: string[] } {
  const hidden: string[] = []
  const masked = args.map(a => {
    if (!NEGATIVE.test(a)) return a
    hidden.push(a)
    return `${MARK}${hidden.length - 1}`
  })
  const unmask = (v: string): string => v.startsWith(MARK) ? hidden[Number(v.slice(1))] : v
  let r: { values: Record<string, unknown>, positionals: string[] }
  try {
    r = parseArgs({ args: masked, options, allowPositionals, strict: true })
  } catch (err) {
    throw new CliError(oneLine((err as Error).message), 2)
  }
  const values: Values = {}
  for (const [k, v] of Object.entries(r.values)) {
    values[k] = typeof v === 'string' ? unmask(v) : Array.isArray(v) ? v.map(x => unmask(String(x))) : v as boolean | undefined
  }
  return { values, positionals: r.positionals.map(unmask) }
}

function oneLine (message: string): string {
  const unknown = /^Unknown option '([^']*)'/.exec(message)
  if (unknown !== null) return `unknown option '${unknown[1]}'`
  const missing = /^Option '(-[^']*)' argument missing/.exec(message)
  if (missing !== null) return `option '${missing[1].split(' ')[0]}' needs a value`
  const ambiguous = /^Option '([^']*)' argument is ambiguous/.exec(message)
  if (ambiguous !== null) return `option '${ambiguous[1]}' needs a value (a value starting with '-' is written ${ambiguous[1]}=-VALUE)`
  const positional = /^Unexpected argument '([^']*)'/.exec(message)
  if (positional !== null) return `unexpected argument '${positional[1]}'`
  return message.split('\n')[0]
}
