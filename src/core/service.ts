// Service records: what a co-located service registers with its agent, validated once here
// so that nothing malformed reaches state or the wire.
import { MurmurError } from './errors.js'

export type HealthStatus = 'passing' | 'warning' | 'critical'

export interface ServiceRecord {
  readonly id: string
  readonly name: string
  readonly address: string
  readonly port: number
  readonly tags: readonly string[]
  readonly meta: Readonly<Record<string, string>>
  /** Relative share for weighted picking. @default 1 */
  readonly weight: number
  readonly health: HealthStatus
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
  const known = new Set(['id', 'name', 'address', 'port', 'tags', 'meta', 'weight'])
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

  return {
    id,
    name,
    address,
    port: o.port as number,
    tags: [...new Set(tags as string[])],
    meta: { ...(meta as Record<string, string>) },
    weight: weight as number,
    health: 'passing'
  }
}

/** Re-validate a record that arrived over the network (same rules, address required). */
export function isServiceRecord (x: unknown): x is ServiceRecord {
  try {
    const r = x as ServiceRecord
    if (typeof r?.address !== 'string') return false
    if (!['passing', 'warning', 'critical'].includes(r.health)) return false
    const { health: _health, ...rest } = r
    parseService(rest, r.address)
    return true
  } catch {
    return false
  }
}
