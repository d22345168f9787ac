// Per-peer token buckets, with an explicit clock.
import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../../src/core/rate.js'

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate, per peer', () => {
    const r = new RateLimiter({ perSec: 10, burst: 5 })
    const taken = (peer: string, now: number, n: number): number => Array.from({ length: n }).filter(() => r.take(peer, now)).length
    expect(taken('a', 0, 8)).toBe(5)
    expect(taken('b', 0, 8)).toBe(5)
    expect(taken('a', 100, 3)).toBe(1)
    expect(taken('a', 1100, 20)).toBe(5)
  })

  it('holds a flood to the rate over time', () => {
    const r = new RateLimiter({ perSec: 100, burst: 1000 })
    let ok = 0
    for (let t = 0; t < 10_000; t++) if (r.take('flood', t)) ok++ // 1,000 messages a second for 10 s
    expect(ok).toBeGreaterThanOrEqual(1000 + 999)
    expect(ok).toBeLessThanOrEqual(1000 + 1001)
  })

  it('forgets peers whose bucket has refilled', () => {
    const r = new RateLimiter({ perSec: 1, burst: 2 })
    r.take('a', 0)
    r.take('b', 0)
    r.take('b', 0)
    r.forgetIdle(1000)
    expect(r.tracked).toBe(1)
    r.forgetIdle(2000)
    expect(r.tracked).toBe(0)
  })
})
