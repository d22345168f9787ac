// Service records: what a co-located service registers with its agent, validated once here
// so that nothing malformed reaches state or the wire.
import { parseDuration } from './duration.js'
import { MurmurError } from './errors.js'

export type HealthStatus = 'passing' | 'warning' | 'critical'

/** A health check the agent runs for a service, as registered (durations as strings). */
export type CheckSpec =
  | { ttl: string }
  | { http: string, interval: string, timeout?: string }
  | { tcp: string, interval: string, timeout?: string }

/** A check with its durations in ms. */
export type Check =
  | { kind: 'ttl', ttlMs: number }
  | { kind: 'http', url: string, intervalMs: number, timeoutMs: number }
  | { kind: 'tcp', host: string, port: number, intervalMs: number, timeoutMs: number }

export interface ServiceRecord {
  readonly id: string
  readonly name: string
  readonly address: string
  readonly port: number
  readonly tags: readonly string[]
  readonly meta: Readonly<Record<string, string>>
  /** Relative share for weighted picking. @default 1 */
  readonly weight: number
  readonly check?: CheckSpec
  readonly health: HealthStatus
  /** What the last check said (HTTP status, connect error, TTL note). */
  readonly output: string
  /** Wall time (ms) the health last changed. */
  readonly since: number
}

export const SERVICE_LIMITS = {
  name: 128,
  tag: 128,
  tags: 32,
  metaKey: 64,
  metaValue: 512,
  meta: 32,
  /** Services one agent may host: bounds heartbeat size. */
  perAgent: 64
} as const

/** Longest check output kept and gossiped. */
export const OUTPUT_MAX = 1024

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

function bad (message: string): never {
  throw new MurmurError('MURMUR_ERR_BAD_SERVICE', message)
}

function checkName (what: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.length === 0) bad(`${what} must be a non-empty string`)
  if (v.length > max) bad(`${what} must be at most ${max} characters`)
  if (!NAME_RE.test(v)) bad(`${what} may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit`)
  return v
}

/** Validate a registration body. `defaultAddress` is the agent's own address. */
export function parseService (input: unknown, defaultAddress: string): ServiceRecord {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('body must be a JSON object')
  const o = input as Record<string, unknown>
  const known = new Set(['id', 'name', 'address', 'port', 'tags', 'meta', 'weight', 'check'])
  for (const k of Object.keys(o)) if (!known.has(k)) bad(`unknown field '${k}' (allowed: ${[...known].join(', ')})`)

  const name = checkName('name', o.name, SERVICE_LIMITS.name)
  const id = o.id === undefined ? name : checkName('id', o.id, SERVICE_LIMITS.name)
  if (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535) bad('port must be an integer from 1 to 65535')

  let address = defaultAddress
  if (o.address !== undefined) {
    if (typeof o.address !== 'string' || o.address.length === 0 || o.address.length > 255 || /\s/.test(o.address)) bad('address must be a host name or IP address')
    address = o.address
  }

  const tags = o.tags ?? []
  if (!Array.isArray(tags) || tags.length > SERVICE_LIMITS.tags) bad(`tags must be an array of at most ${SERVICE_LIMITS.tags} strings`)
  for (const t of tags) {
    if (typeof t !== 'string' || t.length === 0 || t.length > SERVICE_LIMITS.tag) bad(`each tag must be a non-empty string of at most ${SERVICE_LIMITS.tag} characters`)
  }

  const meta = o.meta ?? {}
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) bad('meta must be an object of string values')
  const metaEntries = Object.entries(meta as Record<string, unknown>)
  if (metaEntries.length > SERVICE_LIMITS.meta) bad(`meta may have at most ${SERVICE_LIMITS.meta} keys`)
  for (const [k, v] of metaEntries) {
    if (k.length === 0 || k.length > SERVICE_LIMITS.metaKey) bad(`meta keys must be 1 to ${SERVICE_LIMITS.metaKey} characters`)
    if (typeof v !== 'string' || v.length > SERVICE_LIMITS.metaValue) bad(`meta.${k} must be a string of at most ${SERVICE_LIMITS.metaValue} characters`)
  }

  const weight = o.weight ?? 1
  if (!Number.isInteger(weight) || (weight as number) < 0 || (weight as number) > 1000) bad('weight must be an integer from 0 to 1000')

  const record: ServiceRecord = {
    id,
    name,
    address,
    port: o.port as number,
    tags: [...new Set(tags as string[])],
    meta: { ...(meta as Record<string, string>) },
    weight: weight as number,
    health: 'passing',
    output: '',
    since: 0
  }
  if (o.check === undefined || o.check === null) return record
  parseCheck(o.check)
  // A service with a check is critical until its first pass, as in Consul.
  return { ...record, check: o.check as CheckSpec, health: 'critical', output: 'no check result yet' }
}

function duration (what: string, v: unknown, min: number, max: number): number {
  const ms = typeof v === 'string' ? parseDuration(v) : undefined
  if (ms === undefined || ms < min || ms > max) bad(`${what} must be a duration from ${min}ms to ${max / 1000}s, like "10s" (got ${JSON.stringify(v)})`)
  return ms
}

/** Validate a check spec and give its durations in ms. */
export function parseCheck (input: unknown): Check {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('check must be an object: {"ttl": "10s"}, {"http": URL, "interval": "5s"} or {"tcp": "HOST:PORT", "interval": "5s"}')
  const c = input as Record<string, unknown>
  const kinds = ['ttl', 'http', 'tcp'].filter(k => c[k] !== undefined)
  if (kinds.length !== 1) bad('check must have exactly one of ttl, http or tcp')
  const allowed = kinds[0] === 'ttl' ? ['ttl'] : [kinds[0], 'interval', 'timeout']
  for (const k of Object.keys(c)) if (!allowed.includes(k)) bad(`unknown check field '${k}' (allowed: ${allowed.join(', ')})`)
  if (kinds[0] === 'ttl') return { kind: 'ttl', ttlMs: duration('check.ttl', c.ttl, 100, 86_400_000) }
  const intervalMs = duration('check.interval', c.interval, 100, 3_600_000)
  const timeoutMs = c.timeout === undefined ? Math.min(10_000, intervalMs) : duration('check.timeout', c.timeout, 10, 600_000)
  if (kinds[0] === 'http') {
    let url: URL | undefined
    try { url = new URL(String(c.http)) } catch { /* reported below */ }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) bad('check.http must be an http:// or https:// URL')
    return { kind: 'http', url: url.toString(), intervalMs, timeoutMs }
  }
  const m = typeof c.tcp === 'string' ? /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(c.tcp) : null
  if (m === null || Number(m[3]) < 1 || Number(m[3]) > 65535) bad('check.tcp must be HOST:PORT')
  return { kind: 'tcp', host: m[1] ?? m[2], port: Number(m[3]), intervalMs, timeoutMs }
}

/** Re-validate a record that arrived over the network (same rules, address required). */
export function isServiceRecord (x: unknown): x is ServiceRecord {
  try {
    const r = x as ServiceRecord
    if (typeof r?.address !== 'string') return false
    if (!['passing', 'warning', 'critical'].includes(r.health)) return false
    if (typeof r.output !== 'string' || r.output.length > OUTPUT_MAX || typeof r.since !== 'number') return false
    const { health: _health, output: _output, since: _since, ...rest } = r
    parseService(rest, r.address)
    return true
  } catch {
    return false
  }
}
