// Phi-accrual failure detector (Hayashibara et al., 2004), as Akka and Cassandra use it.
// Instead of a yes/no timeout it gives a suspicion level phi = -log10(P(a heartbeat arrives
// later than now)), from the observed inter-arrival times. Heartbeats are sent on a timer, so
// arrivals are close to periodic with jitter: a normal distribution fits them far better than
// the exponential one a Poisson model implies (which would tolerate ~18 intervals of silence
// before phi = 8). A floor on the deviation and an acceptable pause keep one slow GC or a
// busy core from causing a false alarm.

export interface DetectorOptions {
  /** How many recent intervals to keep. @default 100 */
  windowSize: number
  /** Floor for the standard deviation, so steady heartbeats do not make phi hair-trigger. @default 250 */
  minStdDevMs: number
  /** Silence tolerated on top of the mean interval before phi rises (GC, busy host). @default 1000 */
  acceptablePauseMs: number
  /** Interval assumed before two arrivals have been seen: the heartbeat interval. @default 1000 */
  firstIntervalMs: number
}

export class ArrivalWindow {
  private readonly intervals: number[] = []
  private sum = 0
  private sumSq = 0
  private last: number | undefined

  constructor (private readonly opts: DetectorOptions) {
    // Seed with the expected interval so the first verdict is not based on nothing.
    this.push(opts.firstIntervalMs)
  }

  /** Record a heartbeat arrival at local time `now`. */
  record (now: number): void {
    if (this.last !== undefined && now > this.last) this.push(now - this.last)
    this.last = now
  }

  phi (now: number): number {
    if (this.last === undefined) return 0
    const n = this.intervals.length
    const mean = this.sum / n
    const variance = Math.max(0, this.sumSq / n - mean * mean)
    const std = Math.max(Math.sqrt(variance), this.opts.minStdDevMs)
    return phiNormal(now - this.last, mean + this.opts.acceptablePauseMs, std)
  }

  private push (interval: number): void {
    this.intervals.push(interval)
    this.sum += interval
    this.sumSq += interval * interval
    if (this.intervals.length > this.opts.windowSize) {
      const old = this.intervals.shift() as number
      this.sum -= old
      this.sumSq -= old * old
    }
  }
}

/** -log10 of the normal tail P(X > elapsed), with the logistic approximation Akka uses. */
export function phiNormal (elapsed: number, mean: number, std: number): number {
  const y = (elapsed - mean) / std
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  const p = elapsed > mean ? e / (1 + e) : 1 - 1 / (1 + e)
  return -Math.log10(Math.max(p, 1e-300))
}
