// Aggregates of one metric over a set of members' samples: the figures rules compare and
// `GET /v1/cluster/metrics` reports. Pure: values and sample times come in as arguments.

export const AGGREGATES = ['avg', 'min', 'max', 'sum', 'count', 'p50', 'p95'] as const
export type Aggregate = typeof AGGREGATES[number]

export interface Summary {
  count: number
  avg: number | null
  min: number | null
  max: number | null
  p50: number | null
  p95: number | null
  sum: number
  /** Age of the oldest sample that went in, ms; null without samples. */
  oldestAgeMs: number | null
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
function percentile (sorted: ArrayLike<number>, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i]
}

export function summarize (values: readonly number[], times: readonly number[], now: number): Summary {
  if (values.length === 0) return { count: 0, avg: null, min: null, max: null, p50: null, p95: null, sum: 0, oldestAgeMs: null }
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of values) sum += v
  let oldest = now
  for (const t of times) if (t < oldest) oldest = t
  return {
    count: values.length,
    avg: sum / values.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    sum,
    oldestAgeMs: Math.max(0, now - oldest)
  }
}

/**
 * One aggregate, computed without sorting unless a percentile is asked for: a rule round
 * evaluates many rules over many members, and only p50/p95 need the order.
 */
export function aggregateOf (kind: Aggregate, values: readonly number[]): number | undefined {
  const n = values.length
  if (kind === 'count') return n
  if (n === 0) return kind === 'sum' ? 0 : undefined
  if (kind === 'p50' || kind === 'p95') return percentile(Float64Array.from(values).sort(), kind === 'p50' ? 50 : 95)
  let sum = 0
  let min = Infinity
  let max = -Infinity
  for (const v of values) {
    sum += v
    if (v < min) min = v
    if (v > max) max = v
  }
  return kind === 'sum' ? sum : kind === 'avg' ? sum / n : kind === 'min' ? min : max
}

/** One member's figures as the control loop reads them (src/agent/metrics-source.ts builds these). */
export interface MemberMetrics {
  readonly memberId: string
  readonly name: string
  /** Start time of the member's process (wall ms): tells a member that joined from one that was there. */
  readonly generation: number
  readonly alive: boolean
  readonly services: ReadonlyArray<{ readonly id: string, readonly name: string, readonly tags: readonly string[] }>
  readonly metrics: Readonly<Record<string, number>>
  /** Wall time the values were last confirmed (the arrival of the member's latest record), ms. */
  readonly at: number
}

export interface Selector { service?: string, tag?: string }

/** Alive members grouped by the services they host, built once per round for every rule. */
export class MemberIndex {
  readonly alive: MemberMetrics[] = []
  private readonly byService = new Map<string, MemberMetrics[]>()

  constructor (members: readonly MemberMetrics[]) {
    for (const m of members) {
      if (!m.alive) continue
      this.alive.push(m)
      const seen = new Set<string>()
      for (const s of m.services) {
        if (seen.has(s.name)) continue
        seen.add(s.name)
        let list = this.byService.get(s.name)
        if (list === undefined) this.byService.set(s.name, list = [])
        list.push(m)
      }
    }
  }

  /** Alive members that host `select.service` (with `select.tag`), or every alive member. */
  select (select: Selector): readonly MemberMetrics[] {
    if (select.service === undefined) return this.alive
    const list = this.byService.get(select.service) ?? []
    if (select.tag === undefined) return list
    const tag = select.tag
    return list.filter(m => m.services.some(s => s.name === select.service && s.tags.includes(tag)))
  }
}

/** The values of `metric` among `members` no older than `maxAgeMs` at `now`, with their times. */
export function freshValues (members: readonly MemberMetrics[], metric: string, now: number, maxAgeMs = Infinity): { values: number[], times: number[] } {
  const values: number[] = []
  const times: number[] = []
  for (const m of members) {
    const v = m.metrics[metric]
    if (v === undefined || now - m.at > maxAgeMs) continue
    values.push(v)
    times.push(m.at)
  }
  return { values, times }
}
