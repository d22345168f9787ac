// A service's own metrics (`PUT /v1/agent/metrics`), as this agent carries them in its member
// record. Gossip stays cheap: values are rounded, and the published set changes only when a
// value moves by more than 10 % (or appears or goes), or every 30 s, never on every update.
import { MurmurError } from './errors.js'

export const CUSTOM_LIMITS = {
  /** Names per agent: bounds the member record. */
  count: 32,
  nameLength: 64,
  /** Relative change that is sent at once. */
  change: 0.1,
  /** Longest time a changed value waits before it is sent anyway, ms. */
  refreshMs: 30_000,
  /** A value not reported again for this long is dropped, ms: a service that stopped reporting must not look healthy forever. */
  ttlMs: 120_000
} as const

export const METRIC_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:-]*$/

/** Names of the agent's own metrics, which a service may not shadow. */
export const AGENT_METRICS = ['cpu', 'rss', 'memFree', 'memTotal', 'memUsed', 'load1', 'netTx', 'netRx', 'loopDelayMs'] as const

/** Three significant digits: enough for a threshold, and far fewer distinct values to gossip. */
export function roundMetric (v: number): number {
  if (v === 0 || !Number.isFinite(v)) return 0
  return Number(v.toPrecision(3))
}

export function metricNameProblem (name: string): string | undefined {
  if (name.length === 0 || name.length > CUSTOM_LIMITS.nameLength || !METRIC_NAME_RE.test(name)) {
    return `metric name '${name.slice(0, 80)}' must be 1-${CUSTOM_LIMITS.nameLength} characters of letters, digits, '_', '.', ':' or '-', starting with a letter or '_'`
  }
  if ((AGENT_METRICS as readonly string[]).includes(name)) return `metric name '${name}' is reserved for the agent's own metrics`
  return undefined
}

/** Validates a `PUT /v1/agent/metrics` body: `{name: number | null}` (null removes the name). */
export function parseMetricUpdate (body: unknown): Map<string, number | null> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MurmurError('MURMUR_ERR_BAD_METRIC', 'body must be an object {"name": number}, e.g. {"rps": 950}')
  }
  const out = new Map<string, number | null>()
  for (const [k, v] of Object.entries(body)) {
    const problem = metricNameProblem(k)
    if (problem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_METRIC', problem)
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new MurmurError('MURMUR_ERR_BAD_METRIC', `metric '${k}' must be a finite number (or null to remove it)`)
    out.set(k, v)
  }
  return out
}

interface Reported { value: number, at: number }

export class CustomMetrics {
  private readonly reported = new Map<string, Reported>()
  private sent: Record<string, number> = {}
  private sentAt = -Infinity

  /** Merge an update; refuses (changing nothing) if it would exceed the name limit. */
  put (update: Map<string, number | null>, now: number): void {
    let count = this.reported.size
    for (const [k, v] of update) {
      if (v === null && this.reported.has(k)) count--
      else if (v !== null && !this.reported.has(k)) count++
    }
    if (count > CUSTOM_LIMITS.count) throw new MurmurError('MURMUR_ERR_BAD_METRIC', `an agent carries at most ${CUSTOM_LIMITS.count} custom metrics`)
    for (const [k, v] of update) {
      if (v === null) this.reported.delete(k)
      else this.reported.set(k, { value: v, at: now })
    }
  }

  /** What the service reported last, unrounded, with report times. */
  current (): Record<string, Reported> {
    return Object.fromEntries(this.reported)
  }

  /** The set to carry in the member record at `now`; the same object until it must change. */
  published (now: number): Readonly<Record<string, number>> {
    for (const [k, r] of this.reported) if (now - r.at > CUSTOM_LIMITS.ttlMs) this.reported.delete(k)
    if (now - this.sentAt >= CUSTOM_LIMITS.refreshMs || this.moved()) {
      this.sent = Object.fromEntries([...this.reported].map(([k, r]) => [k, roundMetric(r.value)]))
      this.sentAt = now
    }
    return this.sent
  }

  private moved (): boolean {
    const names = Object.keys(this.sent)
    if (names.length !== this.reported.size) return true
    for (const k of names) {
      const r = this.reported.get(k)
      if (r === undefined) return true
      const old = this.sent[k]
      if (Math.abs(r.value - old) > CUSTOM_LIMITS.change * Math.abs(old)) return true
    }
    return false
  }
}
