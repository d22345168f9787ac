// Token buckets per peer: a peer may send `burst` messages at once and `perSec` a second after
// that. Pure: time comes in as an argument. Peers idle long enough to have a full bucket again
// are forgotten, so the table stays as small as the set of peers currently sending.
export interface RateOptions {
  /** Sustained messages per second per peer. */
  perSec: number
  /** Messages a peer may send at once after being quiet. */
  burst: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (private readonly opts: RateOptions) {}

  get tracked (): number { return this.buckets.size }

  /** Takes one token for `peer` at `now` (ms); false when it has none left. */
  take (peer: string, now: number): boolean {
    const { perSec, burst } = this.opts
    const b = this.buckets.get(peer)
    const tokens = b === undefined ? burst : Math.min(burst, b.tokens + (now - b.at) * perSec / 1000)
    if (tokens < 1) {
      if (b !== undefined) { b.tokens = tokens; b.at = now }
      return false
    }
    this.buckets.set(peer, { tokens: tokens - 1, at: now })
    if (this.buckets.size > 10_000) this.forgetIdle(now)
    return true
  }

  /** Drop buckets that have refilled: such peers are indistinguishable from new ones. */
  forgetIdle (now: number): void {
    const { perSec, burst } = this.opts
    for (const [peer, b] of this.buckets) if (b.tokens + (now - b.at) * perSec / 1000 >= burst) this.buckets.delete(peer)
  }
}
