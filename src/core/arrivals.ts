// The seed's Poisson model of instances: joins and departures of a service's instances are
// taken as Poisson processes; their rates λ are estimated from what this agent observed
// (count / time observed, the maximum-likelihood estimate), and give the probability of k
// arrivals in the next hour, P(k) = e^(−λ) λ^k / k!. Pure: events and times are arguments.

export interface ArrivalEvent { at: number, kind: 'join' | 'leave' }

export interface ArrivalEstimate {
  joins: number
  leaves: number
  windowHours: number
  joinsPerHour: number
  leavesPerHour: number
  /** P(k joins in the next hour) for k = 0 … until the tail is below 0.001 (at most 50 terms). */
  pJoinsNextHour: Record<string, number>
}

export function poissonPmf (lambda: number, k: number): number {
  if (lambda === 0) return k === 0 ? 1 : 0
  let logFact = 0
  for (let i = 2; i <= k; i++) logFact += Math.log(i)
  return Math.exp(-lambda + k * Math.log(lambda) - logFact)
}

export function estimateArrivals (events: readonly ArrivalEvent[], from: number, now: number): ArrivalEstimate {
  const hours = Math.max(0, now - from) / 3_600_000
  let joins = 0
  let leaves = 0
  for (const e of events) {
    if (e.at < from || e.at > now) continue
    if (e.kind === 'join') joins++
    else leaves++
  }
  const rate = (n: number): number => hours > 0 ? n / hours : 0
  const lambda = rate(joins)
  const p: Record<string, number> = {}
  let cum = 0
  for (let k = 0; k < 50 && cum < 0.999; k++) {
    const pk = poissonPmf(lambda, k)
    p[String(k)] = Math.round(pk * 1e6) / 1e6
    cum += pk
  }
  return { joins, leaves, windowHours: hours, joinsPerHour: lambda, leavesPerHour: rate(leaves), pJoinsNextHour: p }
}

/**
 * Turns successive views of the services' instances into join and leave events. An instance
 * seen for the first time counts as a join only if it could have joined while we watched: its
 * member was already known to us, or started (generation, a wall time) after we did. The
 * instances an agent finds when it starts are the cluster as it was, not arrivals.
 */
export class InstanceTracker {
  private present = new Map<string, string>()
  private knownMembers = new Set<string>()

  constructor (private readonly startedAt: number) {}

  /** `membersNow`: every member in the table, whatever its status (a failed member is still known). */
  observe (instances: ReadonlyArray<{ memberId: string, generation: number, service: string, instance: string }>, membersNow: Iterable<string>, now: number): Array<ArrivalEvent & { service: string }> {
    const out: Array<ArrivalEvent & { service: string }> = []
    const next = new Map<string, string>()
    for (const i of instances) {
      const id = `${i.service}\u0000${i.memberId}\u0000${i.instance}`
      next.set(id, i.service)
      if (this.present.has(id)) continue
      if (this.knownMembers.has(i.memberId) || i.generation >= this.startedAt) out.push({ at: now, kind: 'join', service: i.service })
    }
    for (const [id, service] of this.present) if (!next.has(id)) out.push({ at: now, kind: 'leave', service })
    this.present = next
    this.knownMembers = new Set(membersNow)
    return out
  }
}
