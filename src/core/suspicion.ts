// One member under suspicion (Lifeguard, memberlist suspicion.go). The timeout starts at `max`
// and shrinks towards `min` as independent members confirm the suspicion, on a log scale:
// with c of k wanted confirmations, timeout = max - (max - min) * log(c + 1) / log(k + 1).
// One accuser alone must wait long enough for the accused to hear of it and refute; several
// agreeing accusers make a real failure fast.

export class Suspicion {
  private readonly confirmers = new Set<string>()

  constructor (
    readonly start: number,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    accuser: string
  ) {
    this.confirmers.add(accuser)
  }

  get confirmations (): number { return this.confirmers.size - 1 }

  /** Whether `id` accused (first or in confirmation). */
  accused (id: string): boolean { return this.confirmers.has(id) }

  /** Count an accuser; true when it is a new one (the suspicion is then worth re-broadcasting). */
  confirm (from: string): boolean {
    if (this.confirmers.has(from) || this.confirmations >= this.k) return false
    this.confirmers.add(from)
    return true
  }

  /** Local time at which the suspect is to be declared failed. */
  deadline (): number {
    return this.start + suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs)
  }

  /** Move the start later by `ms` (the time this agent itself was stalled does not count). */
  shift (ms: number): Suspicion {
    const s = new Suspicion(this.start + ms, this.k, this.minMs, this.maxMs, '')
    s.confirmers.clear()
    for (const c of this.confirmers) s.confirmers.add(c)
    return s
  }
}

export function suspicionTimeout (confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs
  const frac = Math.log(confirmations + 1) / Math.log(k + 1)
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)))
}
