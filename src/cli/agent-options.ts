// Where `murmur agent` takes its options from, read through the option table: flags, MURMUR_*
// env twins and a --config file (JSON, or TOML when the name ends in .toml). Precedence:
// flag > env > file > default. A bad value or an unknown key is an error naming where it
// came from; validation of the merged result is resolveOptions' job.
import { readFile } from 'node:fs/promises'
import type { ParseArgsConfig } from 'node:util'
import { parse as parseToml } from 'smol-toml'
import type { AgentOptions } from '../agent/options.js'
import { OPTION_TABLE, flagOf, optionNamed, type OptionSpec } from '../agent/option-table.js'
import { MurmurError } from '../core/errors.js'
import { parseCommandLine } from './args.js'

/** The CLI's target; the agent read it as its bind address before MURMUR_HTTP_LISTEN existed. */
export const DEPRECATED_HTTP_ENV = 'MURMUR_HTTP_ADDR'

export interface FlagRead { values: Partial<AgentOptions>, config?: string, help: boolean, version: boolean }

const FLAG_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  ...Object.fromEntries(OPTION_TABLE.map(s => [flagOf(s).slice(2), s.type === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: s.type === 'list' }]))
}

export function readFlags (args: string[]): FlagRead {
  const { values } = parseCommandLine(args, FLAG_OPTIONS, false)
  const out: Record<string, unknown> = {}
  for (const s of OPTION_TABLE) {
    const v = values[flagOf(s).slice(2)]
    if (v === undefined) continue
    if (s.type === 'boolean') out[s.key] = s.negated === true ? false : v
    else if (s.type === 'list') out[s.key] = v
    else out[s.key] = fromText(s, v as string, flagOf(s))
  }
  return { values: out as Partial<AgentOptions>, config: values.config as string | undefined, help: values.help === true, version: values.version === true }
}

export function readEnv (env: NodeJS.ProcessEnv): { values: Partial<AgentOptions>, config?: string, warnings: string[] } {
  const out: Record<string, unknown> = {}
  const warnings: string[] = []
  for (const s of OPTION_TABLE) {
    let text = env[s.env]
    if (s.key === 'http' && (text === undefined || text === '') && env[DEPRECATED_HTTP_ENV] !== undefined && env[DEPRECATED_HTTP_ENV] !== '') {
      text = env[DEPRECATED_HTTP_ENV]
      warnings.push(`${DEPRECATED_HTTP_ENV} is the CLI's target; as the agent's sidecar address it is deprecated: set MURMUR_HTTP_LISTEN (or --http) instead`)
    }
    if (text === undefined || text === '') continue
    if (s.type === 'boolean') {
      const on = !['0', 'false', 'no', 'off'].includes(text.toLowerCase())
      out[s.key] = s.negated === true ? !on : on
    } else if (s.type === 'list') out[s.key] = text.split(',').map(x => x.trim()).filter(x => x !== '')
    else out[s.key] = fromText(s, text, s.env)
  }
  const config = env.MURMUR_CONFIG === '' ? undefined : env.MURMUR_CONFIG
  return { values: out as Partial<AgentOptions>, config, warnings }
}

/** The options in a config file: keys are the flag names (`data-dir`, `mdns = false`). */
export async function readConfigFile (path: string): Promise<Partial<AgentOptions>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    fail(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = path.endsWith('.toml') ? parseToml(text) : JSON.parse(text)
  } catch (err) {
    fail(`config file ${path} is not valid ${path.endsWith('.toml') ? 'TOML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(`config file ${path} must hold an object of options`)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(doc)) {
    const s = optionNamed(k)
    if (s === undefined) {
      const kebab = k.replace(/[A-Z]/g, c => '-' + c.toLowerCase()).replace(/_/g, '-')
      fail(`config file ${path}: unknown key '${k}'${optionNamed(kebab) !== undefined ? ` (did you mean '${kebab}'?)` : ''}`)
    }
    out[s.key] = fromFile(s, v, `'${k}' in ${path}`)
  }
  return out as Partial<AgentOptions>
}

/** The layers merged: flag > env > file. Absent values fall through to the defaults. */
export function layered (flags: Partial<AgentOptions>, env: Partial<AgentOptions>, file: Partial<AgentOptions>): Partial<AgentOptions> {
  return { ...file, ...env, ...flags }
}

function fromText (s: OptionSpec, text: string, where: string): string | number {
  if (s.type !== 'number') return text
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n)) fail(`${where} must be a number (got '${text}')`)
  return n
}

function fromFile (s: OptionSpec, v: unknown, where: string): unknown {
  const ok = s.type === 'list'
    ? Array.isArray(v) && v.every(x => typeof x === 'string')
    : typeof v === s.type && (s.type !== 'number' || Number.isFinite(v))
  if (!ok) fail(`${where} must be ${s.type === 'list' ? 'a list of strings' : `a ${s.type}`} (got ${JSON.stringify(v)})`)
  return v
}

function fail (message: string): never {
  throw new MurmurError('MURMUR_ERR_CONFIG', message)
}
