// Consul's agent service registration, translated to murmur's (src/core/service.ts validates
// the result as for any registration), and Consul's check ids mapped back to service ids.
// Consul decodes registration JSON with Go's case-insensitive field matching (and accepts
// snake_case), so field names are matched the same way here.
import type { Agent } from '../../agent/agent.js'
import { parseGoDuration } from '../../core/duration.js'
import { MurmurError } from '../../core/errors.js'

function bad (message: string): never {
  throw new MurmurError('MURMUR_ERR_BAD_SERVICE', message)
}

/** Field `name` of `o`, matched as Consul does: any case, underscores ignored. */
function field (o: Record<string, unknown>, name: string): unknown {
  const want = name.toLowerCase()
  for (const [k, v] of Object.entries(o)) if (k.replace(/_/g, '').toLowerCase() === want) return v
  return undefined
}

function object (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be a JSON object`)
  return v as Record<string, unknown>
}

/** Consul writes durations as Go strings ("10s") or, from some clients, as nanoseconds. */
function duration (v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined
  const ms = typeof v === 'number' ? v / 1e6 : typeof v === 'string' ? parseGoDuration(v) : undefined
  if (ms === undefined) bad(`${what} must be a duration such as "10s"`)
  return `${Math.round(ms)}ms`
}

export interface ConsulRegistration {
  /** The body for Agent.register. */
  service: Record<string, unknown>
  /** Consul's CheckID for the service's check, when the client chose one. */
  checkId?: string
  /** DeregisterCriticalServiceAfter, in ms. */
  deregisterAfterMs?: number
}

export function parseConsulRegistration (input: unknown): ConsulRegistration {
  const o = object(input, 'registration')
  for (const k of ['Connect', 'Proxy', 'Kind']) {
    const v = field(o, k)
    if (v !== undefined && v !== null && v !== '') bad(`${k} is not supported: murmur has no service mesh`)
  }
  const service: Record<string, unknown> = {
    id: field(o, 'ID') === '' ? undefined : field(o, 'ID'),
    name: field(o, 'Name'),
    address: field(o, 'Address') === '' ? undefined : field(o, 'Address'),
    port: field(o, 'Port'),
    tags: field(o, 'Tags') ?? undefined,
    meta: field(o, 'Meta') ?? undefined
  }
  const weights = field(o, 'Weights')
  if (weights !== undefined && weights !== null) service.weight = field(object(weights, 'Weights'), 'Passing')
  const many = field(o, 'Checks')
  const checks = [field(o, 'Check'), ...(Array.isArray(many) ? many : [])].filter(c => c !== undefined && c !== null)
  if (many !== undefined && many !== null && !Array.isArray(many)) bad('Checks must be an array')
  if (checks.length > 1) bad('murmur runs one check per service: give Check or a Checks array of one')
  const out: ConsulRegistration = { service: Object.fromEntries(Object.entries(service).filter(([, v]) => v !== undefined)) }
  if (checks.length === 0) return out
  const c = object(checks[0], 'Check')
  const ttl = duration(field(c, 'TTL'), 'Check.TTL')
  const http = field(c, 'HTTP')
  const tcp = field(c, 'TCP')
  for (const k of ['Args', 'ScriptArgs', 'GRPC', 'DockerContainerID', 'AliasService', 'H2PING', 'UDP', 'OSService']) {
    if (field(c, k) !== undefined) bad(`check type ${k} is not supported: use TTL, HTTP or TCP`)
  }
  if (ttl !== undefined) out.service.check = { ttl }
  else if (http !== undefined || tcp !== undefined) {
    const interval = duration(field(c, 'Interval'), 'Check.Interval') ?? bad('an HTTP or TCP check needs an Interval')
    const timeout = duration(field(c, 'Timeout'), 'Check.Timeout')
    out.service.check = { ...(http !== undefined ? { http } : { tcp }), interval, ...(timeout !== undefined ? { timeout } : {}) }
  } else bad('Check must have one of TTL, HTTP or TCP')
  const id = field(c, 'CheckID') ?? field(c, 'ID')
  if (typeof id === 'string' && id !== '') out.checkId = id
  const after = duration(field(c, 'DeregisterCriticalServiceAfter'), 'Check.DeregisterCriticalServiceAfter')
  if (after !== undefined) out.deregisterAfterMs = parseGoDuration(after)
  return out
}

/**
 * What the Consul registration added on top of murmur's: custom check ids, and the services to
 * drop once critical for long enough. Kept in memory: after a restart, default check ids
 * (`service:ID`) still work, and the service's registration itself survives in the data dir.
 */
export class ConsulExtras {
  private readonly checkIds = new Map<string, string>()
  private readonly deregisterAfter = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly agent: Agent) {}

  remember (serviceId: string, r: ConsulRegistration): void {
    for (const [c, s] of this.checkIds) if (s === serviceId) this.checkIds.delete(c)
    if (r.checkId !== undefined) this.checkIds.set(r.checkId, serviceId)
    if (r.deregisterAfterMs === undefined) this.deregisterAfter.delete(serviceId)
    else this.deregisterAfter.set(serviceId, r.deregisterAfterMs)
    this.schedule()
  }

  forget (serviceId: string): void {
    this.remember(serviceId, { service: {} })
  }

  /** The service a Consul check id stands for: `service:ID`, a custom id, or the service id. */
  serviceOf (checkId: string): string {
    return this.checkIds.get(checkId) ?? (checkId.startsWith('service:') ? checkId.slice(8) : checkId)
  }

  /** Looks once a second for services critical past their limit, while there are any to watch. */
  private schedule (): void {
    if (this.deregisterAfter.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    this.timer ??= setInterval(() => { this.reap().catch(() => {}) }, 1000).unref()
  }

  private async reap (): Promise<void> {
    const local = this.agent.localServices()
    // Deregistered through the native API meanwhile: nothing left to watch.
    for (const id of this.deregisterAfter.keys()) if (!local.some(s => s.id === id)) this.forget(id)
    for (const s of local) {
      const after = this.deregisterAfter.get(s.id)
      if (after === undefined || s.health !== 'critical' || Date.now() - s.since < after) continue
      this.agent.logger('info', 'consul', 'deregistering a service critical for longer than DeregisterCriticalServiceAfter', { id: s.id })
      this.forget(s.id)
      await this.agent.deregister(s.id)
    }
  }
}
