// The membership record every agent stamps and gossips about itself. Wire format: fields are
// only ever added (old agents ignore unknown ones); `v` changes only on an incompatible change.
import { CUSTOM_LIMITS, METRIC_NAME_RE } from './custom-metrics.js'
import { isServiceRecord, SERVICE_LIMITS, type ServiceRecord } from './service.js'

export interface Metrics {
  /** Share of one core's time this process used since the last heartbeat, 0..cores. */
  readonly cpu: number
  /** Resident set size of the agent, bytes. */
  readonly rss: number
  /** Host memory, bytes. */
  readonly memFree: number
  readonly memTotal: number
  /** Host 1-minute load average. */
  readonly load1: number
  /** Bytes the agent sent and received over gossip since start. */
  readonly netTx: number
  readonly netRx: number
  /** p99 event-loop delay of the agent since the last sample, ms (absent from older agents). */
  readonly loopDelayMs?: number
}

export interface Heartbeat {
  readonly v: 1
  readonly id: string
  readonly name: string
  /** Grows on every restart of the agent (persisted in the data dir). */
  readonly generation: number
  /** Grows with every heartbeat within one generation. */
  readonly counter: number
  readonly status: 'alive' | 'left'
  /** The address services on this host are reached at. */
  readonly address: string
  readonly addrs: readonly string[]
  readonly services: readonly ServiceRecord[]
  readonly metrics: Metrics
  /** The co-located service's own metrics (`PUT /v1/agent/metrics`), rounded; see CustomMetrics. */
  readonly custom?: Readonly<Record<string, number>>
  /** Sender's wall clock when stamped, ms; informational only (never used for ordering). */
  readonly sentAt: number
}

export function compareHeartbeat (a: Pick<Heartbeat, 'generation' | 'counter'>, b: Pick<Heartbeat, 'generation' | 'counter'>): number {
  return a.generation !== b.generation ? a.generation - b.generation : a.counter - b.counter
}

const METRIC_KEYS = ['cpu', 'rss', 'memFree', 'memTotal', 'load1', 'netTx', 'netRx'] as const

/** Structural check of a decoded heartbeat; anything else is dropped and counted. */
export function isHeartbeat (x: unknown): x is Heartbeat {
  if (typeof x !== 'object' || x === null) return false
  const h = x as Record<string, unknown>
  if (h.v !== 1) return false
  if (typeof h.id !== 'string' || h.id.length === 0 || h.id.length > 128) return false
  if (typeof h.name !== 'string' || h.name.length === 0 || h.name.length > 256) return false
  if (!Number.isSafeInteger(h.generation) || (h.generation as number) < 0) return false
  if (!Number.isSafeInteger(h.counter) || (h.counter as number) < 0) return false
  if (h.status !== 'alive' && h.status !== 'left') return false
  if (typeof h.address !== 'string' || h.address.length > 255) return false
  if (!Array.isArray(h.addrs) || h.addrs.length > 32 || !h.addrs.every(a => typeof a === 'string' && a.length < 512)) return false
  if (!Array.isArray(h.services) || h.services.length > SERVICE_LIMITS.perAgent || !h.services.every(isServiceRecord)) return false
  if (typeof h.metrics !== 'object' || h.metrics === null) return false
  const m = h.metrics as Record<string, unknown>
  if (!METRIC_KEYS.every(k => typeof m[k] === 'number' && Number.isFinite(m[k]))) return false
  if (m.loopDelayMs !== undefined && !(typeof m.loopDelayMs === 'number' && Number.isFinite(m.loopDelayMs))) return false
  if (h.custom !== undefined && !isCustom(h.custom)) return false
  return typeof h.sentAt === 'number'
}

function isCustom (x: unknown): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false
  const entries = Object.entries(x)
  return entries.length <= CUSTOM_LIMITS.count && entries.every(([k, v]) => k.length <= CUSTOM_LIMITS.nameLength && METRIC_NAME_RE.test(k) && typeof v === 'number' && Number.isFinite(v))
}
