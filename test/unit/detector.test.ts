import { describe, expect, it } from 'vitest'
import { ArrivalWindow, phiNormal, type DetectorOptions } from '../../src/core/detector.js'
import { seeded } from './fixtures.js'

const OPTS: DetectorOptions = { windowSize: 100, minStdDevMs: 250, acceptablePauseMs: 1000, firstIntervalMs: 1000 }
const THRESHOLD = 8

/** A window fed `count` heartbeats about every `periodMs`, with uniform ±jitterMs from a seed. Returns it and the last arrival time. */
function steady (count: number, jitterMs: number, seed = 7, periodMs = 1000): { w: ArrivalWindow, last: number, maxPhiAtArrival: number } {
  const rand = seeded(seed)
  const w = new ArrivalWindow(OPTS)
  let t = 10_000
  w.record(t)
  let maxPhiAtArrival = 0
  for (let i = 0; i < count; i++) {
    t += periodMs + (rand() * 2 - 1) * jitterMs
    maxPhiAtArrival = Math.max(maxPhiAtArrival, w.phi(t))
    w.record(t)
  }
  return { w, last: t, maxPhiAtArrival }
}

/** Silence (ms after the last arrival, 1 ms resolution) at which phi first reaches `threshold`. */
function crossing (w: ArrivalWindow, last: number, threshold = THRESHOLD): number {
  for (let s = 0; s <= 60_000; s++) if (w.phi(last + s) >= threshold) return s
  throw new Error('phi never crossed the threshold')
}

describe('phiNormal', () => {
  it('is about -log10(0.5) at the mean', () => {
    expect(phiNormal(2000, 2000, 250)).toBeCloseTo(Math.log10(2), 3)
  })

  it('grows with elapsed time and is flatter for a larger deviation', () => {
    let prev = -Infinity
    for (let t = 0; t <= 6000; t += 50) {
      const phi = phiNormal(t, 2000, 250)
      expect(phi).toBeGreaterThanOrEqual(prev)
      prev = phi
      if (t > 2000) expect(phiNormal(t, 2000, 500)).toBeLessThan(phi)
    }
  })

  it.each([
    // z, -log10 P(Z > z) of the exact normal tail
    [1, 0.799],
    [2, 1.643],
    [3, 2.869]
  ])('matches the normal tail at z = %d', (z, exact) => {
    expect(phiNormal(2000 + z * 250, 2000, 250)).toBeCloseTo(exact, 1)
  })

  it('overestimates (never underestimates) phi further out, as the logistic approximation does', () => {
    // exact: z = 5 → 6.54, z = 5.6 → 7.97; the approximation reaches 8 a little earlier.
    expect(phiNormal(2000 + 5 * 250, 2000, 250)).toBeGreaterThan(6.54)
    expect(phiNormal(2000 + 5 * 250, 2000, 250)).toBeLessThan(8)
  })

  it('stays finite far out in the tail', () => {
    const phi = phiNormal(1e7, 1000, 250)
    expect(Number.isFinite(phi)).toBe(true)
    expect(phi).toBeGreaterThan(100)
  })
})

describe('ArrivalWindow', () => {
  it('reports phi 0 before the first arrival', () => {
    expect(new ArrivalWindow(OPTS).phi(123_456)).toBe(0)
  })

  it('with one arrival, assumes the first interval (phi 8 after ~3.3 s of silence)', () => {
    const w = new ArrivalWindow(OPTS)
    w.record(5000)
    expect(w.phi(5000 + 1000)).toBeLessThan(0.01)
    const s = crossing(w, 5000)
    expect(s).toBeGreaterThan(3000)
    expect(s).toBeLessThan(3600)
  })

  it('steady heartbeats every 1000 ± 100 ms never get near phi 8, at arrival or shortly after', () => {
    const rand = seeded(1234)
    const w = new ArrivalWindow(OPTS)
    let t = 0
    w.record(t)
    for (let i = 0; i < 3600; i++) {
      const next = t + 1000 + (rand() * 2 - 1) * 100
      for (const at of [t + 100, t + 500, t + 1000, next]) expect(w.phi(at)).toBeLessThan(0.01)
      t = next
      w.record(t)
      expect(w.phi(t)).toBeLessThan(0.01)
    }
  })

  it('after heartbeats stop, phi rises monotonically and crosses 8 between 2 s and 5 s of silence', () => {
    const { w, last } = steady(200, 100)
    let prev = 0
    for (let s = 0; s <= 10_000; s += 10) {
      const phi = w.phi(last + s)
      expect(phi).toBeGreaterThanOrEqual(prev)
      prev = phi
    }
    const s = crossing(w, last)
    // mean 1000 + pause 1000 + 5.2 × the 250 ms deviation floor ≈ 3.3 s
    expect(s).toBeGreaterThan(2000)
    expect(s).toBeLessThan(5000)
    expect(s).toBeGreaterThan(3100)
    expect(s).toBeLessThan(3500)
    expect(w.phi(last + 10_000)).toBeGreaterThan(THRESHOLD)
  })

  it('more jitter in the history makes the crossing happen later', () => {
    const times = [100, 600, 900].map(j => {
      const { w, last, maxPhiAtArrival } = steady(200, j)
      expect(maxPhiAtArrival).toBeLessThan(1) // even the jittery histories raise no alarm
      return crossing(w, last)
    })
    expect(times[1]).toBeGreaterThan(times[0])
    expect(times[2]).toBeGreaterThan(times[1])
    expect(times[2]).toBeLessThan(6000)
  })

  it('does not count a duplicate arrival as a zero interval', () => {
    const { w: a, last } = steady(50, 300, 99)
    const { w: b } = steady(50, 300, 99)
    b.record(last)
    b.record(last)
    for (const s of [0, 1000, 2500, 4000]) expect(b.phi(last + s)).toBe(a.phi(last + s))
  })

  it('forgets intervals beyond windowSize', () => {
    // 100 slow intervals (3 s) after 100 fast ones: only the slow ones count.
    const w = new ArrivalWindow(OPTS)
    let t = 0
    w.record(t)
    for (let i = 0; i < 100; i++) w.record(t += 1000)
    for (let i = 0; i < 100; i++) w.record(t += 3000)
    const fresh = new ArrivalWindow({ ...OPTS, firstIntervalMs: 3000 })
    let u = 0
    fresh.record(u)
    for (let i = 0; i < 100; i++) fresh.record(u += 3000)
    for (const s of [1000, 4000, 5000, 6000]) expect(w.phi(t + s)).toBeCloseTo(fresh.phi(u + s), 6)
  })
})
