// The impact regression and the Poisson arrival model, on synthetic data with known answers.
import { describe, expect, it } from 'vitest'
import { estimateArrivals, InstanceTracker, poissonPmf } from '../../src/core/arrivals.js'
import { impact, impactPoints } from '../../src/core/impact.js'
import { fitLine, studentTCdf, studentTQuantile } from '../../src/core/regression.js'
import { seeded } from './fixtures.js'

function normal (rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

describe("Student's t", () => {
  it.each([[1, 12.706], [2, 4.303], [5, 2.571], [10, 2.228], [30, 2.042], [1000, 1.962]])('97.5 %% quantile with %i df is %f', (df, t) => {
    expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 2)
    expect(studentTCdf(t, df)).toBeCloseTo(0.975, 3)
  })
})

describe('fitLine', () => {
  it('recovers an exact line', () => {
    const xs = [-2, -1, 0, 1, 2, 5]
    const fit = fitLine(xs, xs.map(x => 3 - 0.5 * x))
    expect(fit.insufficient).not.toBe(true)
    if (fit.insufficient === true) return
    expect(fit.beta0).toBeCloseTo(3, 9)
    expect(fit.beta1).toBeCloseTo(-0.5, 9)
    expect(fit.r2).toBeCloseTo(1, 9)
    expect(fit.beta1Ci95[0]).toBeCloseTo(-0.5, 6)
  })

  it('says when there is too little data, or no spread in Δx', () => {
    expect(fitLine([1, 2, 3, 4], [1, 2, 3, 4])).toMatchObject({ n: 4, insufficient: true })
    expect(fitLine([], [])).toMatchObject({ n: 0, insufficient: true })
    expect(fitLine([-10, -10, -10, -10, -10], [1, 2, 3, 4, 5])).toMatchObject({ n: 5, insufficient: true, reason: expect.stringMatching(/same amount/) })
  })

  it.each([[30, 5, 400], [6, 2, 400]])('its 95 %% interval covers a known β1 in about 95 %% of seeded noisy trials (n = %i, σ = %i)', (n, sigma, trials) => {
    const rand = seeded(12)
    const gauss = normal(rand)
    let covered = 0
    for (let t = 0; t < trials; t++) {
      const xs = Array.from({ length: n }, () => Math.round(-20 + 40 * rand()))
      const ys = xs.map(x => 3 + 2.5 * x + sigma * gauss())
      const fit = fitLine(xs, ys)
      if (fit.insufficient === true) continue
      if (fit.beta1Ci95[0] <= 2.5 && 2.5 <= fit.beta1Ci95[1]) covered++
    }
    // Binomial(400, 0.95) has sd ≈ 0.011: 0.91-0.99 is beyond ±3.5 sd of chance.
    expect(covered / trials).toBeGreaterThan(0.91)
    expect(covered / trials).toBeLessThan(0.99)
  })
})

describe('impact of a key\'s changes', () => {
  it('turns changes and samples into Δx, Δy and fits β1', () => {
    // A metric that responds to the key with slope -2 (latency falls as max_conns rises),
    // sampled every 10 s; changes every 10 minutes.
    const rand = seeded(3)
    const gauss = normal(rand)
    const changes: Array<{ at: number, from: number, to: number }> = []
    let value = 100
    const level: Array<{ at: number, v: number }> = [{ at: 0, v: 100 }]
    for (let i = 1; i <= 12; i++) {
      const to = value + Math.round(-20 + 40 * rand())
      changes.push({ at: i * 600_000, from: value, to })
      level.push({ at: i * 600_000, v: to })
      value = to
    }
    const key = (t: number): number => [...level].reverse().find(l => l.at <= t)?.v ?? 100
    const samplesIn = (from: number, to: number): number[] => {
      const out: number[] = []
      for (let t = Math.ceil(from / 10_000) * 10_000; t < to; t += 10_000) out.push(500 - 2 * key(t) + gauss())
      return out
    }
    const now = 13 * 600_000
    const { xs, ys } = impactPoints(changes, samplesIn, { windowMs: 60_000, settleMs: 10_000 }, now)
    expect(xs).toHaveLength(12)
    const fit = impact(changes, samplesIn, { windowMs: 60_000, settleMs: 10_000 }, now)
    if (fit.insufficient === true) throw new Error('expected a fit')
    expect(fit.beta1).toBeCloseTo(-2, 0)
    expect(fit.beta1Ci95[0]).toBeLessThan(-2)
    expect(fit.beta1Ci95[1]).toBeGreaterThan(-2)
    // A change whose after window has not ended yet is not counted.
    expect(impactPoints(changes, samplesIn, { windowMs: 60_000, settleMs: 10_000 }, 12 * 600_000 + 30_000).xs).toHaveLength(11)
  })
})

describe('Poisson arrivals', () => {
  it('gives a probability mass function that sums to 1', () => {
    for (const lambda of [0, 0.5, 3, 20]) {
      let sum = 0
      for (let k = 0; k < 200; k++) sum += poissonPmf(lambda, k)
      expect(sum).toBeCloseTo(1, 9)
    }
    expect(poissonPmf(2, 3)).toBeCloseTo(Math.exp(-2) * 8 / 6, 12)
  })

  it('estimates λ from a synthetic Poisson process and reports P(k) for the next hour', () => {
    const rand = seeded(7)
    const events: Array<{ at: number, kind: 'join' | 'leave' }> = []
    // Exponential gaps: 4 joins and 1 leave per hour, for 200 hours.
    for (const [kind, perHour] of [['join', 4], ['leave', 1]] as const) {
      for (let t = 0; ;) {
        t += -Math.log(1 - rand()) / perHour * 3_600_000
        if (t > 200 * 3_600_000) break
        events.push({ at: t, kind })
      }
    }
    const e = estimateArrivals(events, 0, 200 * 3_600_000)
    expect(e.windowHours).toBe(200)
    expect(e.joinsPerHour).toBeGreaterThan(3.6)
    expect(e.joinsPerHour).toBeLessThan(4.4)
    expect(e.leavesPerHour).toBeGreaterThan(0.8)
    expect(e.leavesPerHour).toBeLessThan(1.2)
    expect(e.pJoinsNextHour['0']).toBeCloseTo(Math.exp(-e.joinsPerHour), 5)
    const total = Object.values(e.pJoinsNextHour).reduce((a, b) => a + b, 0)
    expect(total).toBeGreaterThan(0.998)
  })

  it('reports zero rates, P(0) = 1, before anything was observed', () => {
    expect(estimateArrivals([], 1000, 1000)).toMatchObject({ joinsPerHour: 0, leavesPerHour: 0, windowHours: 0, pJoinsNextHour: { 0: 1 } })
  })

  it('counts instances that appear while watching, not those found at start', () => {
    const started = 10_000
    const tr = new InstanceTracker(started)
    const inst = (memberId: string, generation: number, instance = 'web-1'): { memberId: string, generation: number, service: string, instance: string } => ({ memberId, generation, service: 'web', instance })
    // Found at start: an older member's instance, not a join.
    expect(tr.observe([inst('a', 1)], ['a'], 11_000)).toEqual([])
    // A member started after us, and a known member registering a second instance: joins.
    expect(tr.observe([inst('a', 1), inst('b', 12_000), inst('a', 1, 'web-2')], ['a', 'b'], 12_500).map(e => e.kind)).toEqual(['join', 'join'])
    // An older member we did not know yet (learned late) is not an arrival.
    expect(tr.observe([inst('a', 1), inst('b', 12_000), inst('a', 1, 'web-2'), inst('c', 5)], ['a', 'b', 'c'], 13_000)).toEqual([])
    // Departures.
    expect(tr.observe([inst('a', 1)], ['a', 'b', 'c'], 14_000).map(e => e.kind)).toEqual(['leave', 'leave', 'leave'])
  })
})
