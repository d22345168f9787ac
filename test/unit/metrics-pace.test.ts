// Metrics-only record versions are paced by cluster size, so the cluster's total rate of them
// stays bounded: at most 5 a second however many members publish.
import { describe, expect, it } from 'vitest'
import { MetricsPace, metricsGapMs } from '../../src/core/metrics-pace.js'

describe('metrics pace', () => {
  it('keeps 5 s between versions up to 25 members, and N × 200 ms above', () => {
    expect(metricsGapMs(1)).toBe(5000)
    expect(metricsGapMs(25)).toBe(5000)
    expect(metricsGapMs(50)).toBe(10_000)
    expect(metricsGapMs(100)).toBe(20_000)
    expect(metricsGapMs(1000)).toBe(200_000)
  })

  it('bounds the versions a cluster makes a second, whatever its size', () => {
    for (const n of [10, 50, 300, 1000, 5000]) {
      // Each of n agents asks to publish every second for 10 minutes (its load never settles).
      const paces = Array.from({ length: n }, () => new MetricsPace())
      let versions = 0
      for (let t = 0; t < 600_000; t += 1000) {
        for (const p of paces) {
          if (p.wait(t, n) === 0) { p.sent(t); versions++ }
        }
      }
      expect(versions / 600).toBeLessThanOrEqual(Math.max(5, n / 10))
    }
  })

  it('says how long a change must wait, counting any version that went out', () => {
    const p = new MetricsPace()
    expect(p.wait(0, 300)).toBe(0)
    p.sent(0)
    expect(p.wait(1000, 300)).toBe(59_000)
    // A version for another reason (a service registered) carried the metrics too.
    p.sent(30_000)
    expect(p.wait(31_000, 300)).toBe(59_000)
    expect(p.wait(90_000, 300)).toBe(0)
  })
})
