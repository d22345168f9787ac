// Bounded time series in memory: one ring of (time, value) samples per series. The control
// loop keeps one per (member, metric) for its analyses, and one per config key for the key's
// changes. Pure: times come in as arguments; old samples fall off the end.

export class Ring {
  // Grown on demand, doubling up to the capacity: the control loop makes a ring for every
  // (member, metric) as members arrive, 7,000 of them at N = 1,000, and full-size arrays
  // (360 samples, 5.8 KB) were 40 MB allocated at once, long before an hour of samples is there.
  private t: Float64Array
  private v: Float64Array
  private start = 0
  private n = 0

  constructor (readonly capacity: number) {
    const first = Math.min(capacity, 8)
    this.t = new Float64Array(first)
    this.v = new Float64Array(first)
  }

  get size (): number { return this.n }

  /** Time of the newest sample, or -Infinity. */
  get last (): number { return this.n === 0 ? -Infinity : this.t[(this.start + this.n - 1) % this.t.length] }

  push (at: number, value: number): void {
    if (this.n === this.t.length && this.n < this.capacity) this.grow(Math.min(this.capacity, 2 * this.n))
    const len = this.t.length
    const i = (this.start + this.n) % len
    this.t[i] = at
    this.v[i] = value
    if (this.n < len) this.n++
    else this.start = (this.start + 1) % len
  }

  /** Calls `fn` for every sample with from <= time < to, oldest first. */
  each (from: number, to: number, fn: (at: number, value: number) => void): void {
    for (let k = 0; k < this.n; k++) {
      const i = (this.start + k) % this.t.length
      if (this.t[i] >= from && this.t[i] < to) fn(this.t[i], this.v[i])
    }
  }

  /** New arrays of `size`, the samples oldest first from index 0. */
  private grow (size: number): void {
    const t = new Float64Array(size)
    const v = new Float64Array(size)
    for (let k = 0; k < this.n; k++) {
      const i = (this.start + k) % this.t.length
      t[k] = this.t[i]
      v[k] = this.v[i]
    }
    this.t = t
    this.v = v
    this.start = 0
  }
}

/**
 * Many rings by name, at most one sample per `everyMs` per series, at most `maxSeries` series
 * (beyond it new series are refused and counted, so a flood of names cannot grow memory).
 */
export class SeriesStore {
  private readonly rings = new Map<string, Ring>()
  refused = 0

  constructor (private readonly capacity: number, private readonly everyMs: number, private readonly maxSeries: number) {}

  get size (): number { return this.rings.size }

  record (series: string, at: number, value: number): void {
    let r = this.rings.get(series)
    if (r === undefined) {
      if (this.rings.size >= this.maxSeries) { this.refused++; return }
      r = new Ring(this.capacity)
      this.rings.set(series, r)
    }
    if (at - r.last >= this.everyMs) r.push(at, value)
  }

  get (series: string): Ring | undefined { return this.rings.get(series) }

  /** Drops series whose newest sample is older than `before` (members long gone). */
  prune (before: number): void {
    for (const [k, r] of this.rings) if (r.last < before) this.rings.delete(k)
  }
}
