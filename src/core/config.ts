// Rules for config keys and values, shared by the HTTP API (user input) and the codec
// (network input), so both reject the same things.
import { MurmurError } from './errors.js'
import { isHlc } from './hlc.js'
import type { Entry } from './lww.js'

export const CONFIG_LIMITS = {
  /** Longest key, in UTF-8 bytes. */
  keyBytes: 512,
  /** Largest value, as JSON text in UTF-8 bytes. */
  valueBytes: 65536,
  /** Deepest nesting of arrays/objects in a value. */
  depth: 32
} as const

// Whitespace, control characters (C0 and C1) and invisible characters are refused: keys end up
// in URLs, logs and terminal tables, where they would hide or rewrite what is shown. Invisible:
// format characters (Cf: bidi overrides and isolates such as U+202E, zero-width spaces and
// joiners, the soft hyphen, the BOM), the combining grapheme joiner and the Hangul fillers,
// which render as nothing. Lone surrogates (Cs) are not text at all.
// eslint-disable-next-line no-control-regex
const BAD_KEY_CHARS = /[\u0000-\u001f\u007f-\u009f\s\p{Cf}\p{Cs}\u034f\u115f\u1160\u3164\uffa0]/u

export function keyProblem (key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string'
  if (Buffer.byteLength(key) > CONFIG_LIMITS.keyBytes) return `key must be at most ${CONFIG_LIMITS.keyBytes} bytes`
  if (BAD_KEY_CHARS.test(key)) return 'key must not contain whitespace, control or invisible characters (bidi overrides, zero-width characters)'
  return undefined
}

export function checkKey (key: unknown): string {
  const problem = keyProblem(key)
  if (problem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_KEY', problem)
  return key as string
}

/** A value made only of JSON types (msgpack could carry more), nested at most `depth`. */
export function isJsonValue (v: unknown, depth: number = CONFIG_LIMITS.depth): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isFinite(v)
  if (depth <= 0 || typeof v !== 'object') return false
  if (Array.isArray(v)) return v.every(x => isJsonValue(x, depth - 1))
  if (Object.getPrototypeOf(v) !== Object.prototype) return false
  return Object.values(v).every(x => isJsonValue(x, depth - 1))
}

/**
 * What in a JSON value the codec (msgpack, used by gossip, sync and the log) would not carry
 * faithfully: it encodes strings as UTF-8, so a lone surrogate would arrive as U+FFFD, and it
 * renames an object key `__proto__` (a guard against prototype pollution). Refusing these
 * keeps "what is stored is what every agent serves".
 */
const LONE_SURROGATE = /\p{Cs}/u

function fidelityProblem (v: unknown): string | undefined {
  if (typeof v === 'string') return !LONE_SURROGATE.test(v) ? undefined : 'value strings must be valid Unicode (a lone surrogate such as "\\ud800" cannot be stored)'
  if (typeof v !== 'object' || v === null) return undefined
  if (Array.isArray(v)) {
    for (const x of v) { const p = fidelityProblem(x); if (p !== undefined) return p }
    return undefined
  }
  for (const [k, x] of Object.entries(v)) {
    if (k === '__proto__') return 'value must not contain the object key "__proto__"'
    if (LONE_SURROGATE.test(k)) return 'value object keys must be valid Unicode (a lone surrogate such as "\\ud800" cannot be stored)'
    const p = fidelityProblem(x)
    if (p !== undefined) return p
  }
  return undefined
}

export function valueProblem (v: unknown): string | undefined {
  if (v === undefined) return 'value is missing'
  if (!isJsonValue(v)) return `value must be JSON nested at most ${CONFIG_LIMITS.depth} deep`
  const lossy = fidelityProblem(v)
  if (lossy !== undefined) return lossy
  if (Buffer.byteLength(JSON.stringify(v)) > CONFIG_LIMITS.valueBytes) return `value must be at most ${CONFIG_LIMITS.valueBytes} bytes as JSON`
  return undefined
}

/** Structural check of an entry that came from the network or the disk. */
export function isEntry (x: unknown): x is Entry {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Record<string, unknown>
  if (keyProblem(e.key) !== undefined || typeof e.deleted !== 'boolean' || !isHlc(e.hlc)) return false
  if (typeof e.origin !== 'string' || e.origin.length === 0 || e.origin.length > 128) return false
  return e.deleted ? e.value === undefined : valueProblem(e.value) === undefined
}
