// Pacing of metrics-only versions of an agent's member record (its load, its service's own
// metrics). Every member pulls every version of every record, so N agents that each publish
// every G seconds cost each member N / G versions a second to receive, check and relay: O(N).
// The gap between two metrics-only versions grows with the cluster instead, at least
// MIN_GAP_MS and PER_MEMBER_MS per live member, so a cluster of any size makes at most
// 1000 / PER_MEMBER_MS (5) of them a second. The price is freshness in large clusters: at
// 1,000 members an agent's published load may be 200 s old. Up to 50 members nothing changes
// for the load (its own rule keeps 10 s between versions, metrics.ts); a service's own
// metrics, sent at the next 5 s check after they move, wait up to 5 s more up to 25 members.
// Versions for other reasons (services, health, addresses) are never held back; metrics ride
// along with them.

/** The shortest gap between metrics-only versions, whatever the cluster size. */
export const MIN_GAP_MS = 5000
/** The gap per live member. */
export const PER_MEMBER_MS = 200

export function metricsGapMs (liveMembers: number): number {
  return Math.max(MIN_GAP_MS, liveMembers * PER_MEMBER_MS)
}

export class MetricsPace {
  private lastAt = Number.NEGATIVE_INFINITY

  /** Milliseconds until a metrics-only version may go out (0: now), in a cluster of `liveMembers`. */
  wait (now: number, liveMembers: number): number {
    return Math.max(0, this.lastAt + metricsGapMs(liveMembers) - now)
  }

  /** A version of the record went out (for any reason: its metrics are current in it). */
  sent (now: number): void {
    this.lastAt = now
  }
}
