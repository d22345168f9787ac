import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { compareHlc, formatHlc, isHlc, observe, tick, tickAfter, ZERO_HLC, type Hlc } from '../../src/core/hlc.js'

const hlcArb = fc.record({ wall: fc.integer({ min: 0, max: 1000 }), logical: fc.integer({ min: 0, max: 20 }) })
const T = 1_700_000_000_000

describe('tick', () => {
  it('uses the wall clock when it is ahead, else bumps the logical counter', () => {
    expect(tick(ZERO_HLC, T)).toEqual({ wall: T, logical: 0 })
    expect(tick({ wall: T, logical: 0 }, T)).toEqual({ wall: T, logical: 1 })
    expect(tick({ wall: T, logical: 1 }, T - 5000)).toEqual({ wall: T, logical: 2 })
    expect(tick({ wall: T, logical: 7 }, T + 1)).toEqual({ wall: T + 1, logical: 0 })
  })

  it('strictly increases for any sequence of now values, including backwards jumps', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }), nows => {
      let last = ZERO_HLC
      for (const now of nows) {
        const next = tick(last, now)
        expect(compareHlc(next, last)).toBeGreaterThan(0)
        expect(next.wall).toBeGreaterThanOrEqual(now)
        last = next
      }
    }))
  })

  it('keeps increasing while the clock steps back a minute', () => {
    let last = tick(ZERO_HLC, T)
    for (let i = 1; i <= 100; i++) {
      const next = tick(last, T - 60_000 + i)
      expect(compareHlc(next, last)).toBeGreaterThan(0)
      last = next
    }
    expect(last).toEqual({ wall: T, logical: 100 })
  })
})

describe('tickAfter', () => {
  it('issues a stamp above a seen stamp from a clock minutes ahead', () => {
    const seen: Hlc = { wall: T + 5 * 60_000, logical: 3 }
    const last: Hlc = { wall: T, logical: 0 }
    const next = tickAfter(last, seen, T + 10)
    expect(compareHlc(next, seen)).toBeGreaterThan(0)
    expect(compareHlc(next, last)).toBeGreaterThan(0)
    expect(next).toEqual({ wall: seen.wall, logical: 4 })
  })

  it('is above both last and seen, and at least now, for arbitrary inputs', () => {
    fc.assert(fc.property(hlcArb, hlcArb, fc.integer({ min: 0, max: 1000 }), (last, seen, now) => {
      const next = tickAfter(last, seen, now)
      expect(compareHlc(next, last)).toBeGreaterThan(0)
      expect(compareHlc(next, seen)).toBeGreaterThan(0)
      expect(next.wall).toBeGreaterThanOrEqual(now)
    }))
  })

  it('is just tick when seen is older than last', () => {
    expect(tickAfter({ wall: 10, logical: 2 }, { wall: 5, logical: 9 }, 3)).toEqual({ wall: 10, logical: 3 })
  })
})

describe('observe', () => {
  const maxDrift = 60_000

  it('folds in a remote stamp ahead of the local clock but within the drift bound', () => {
    const last: Hlc = { wall: T, logical: 0 }
    const remote: Hlc = { wall: T + 30_000, logical: 5 }
    expect(observe(last, remote, T, maxDrift)).toEqual({ clock: remote, drifted: false })
  })

  it('keeps the local clock when the remote stamp is older', () => {
    const last: Hlc = { wall: T, logical: 3 }
    expect(observe(last, { wall: T - 1, logical: 99 }, T, maxDrift)).toEqual({ clock: last, drifted: false })
  })

  it('accepts a stamp exactly maxDriftMs ahead', () => {
    const remote: Hlc = { wall: T + maxDrift, logical: 0 }
    expect(observe(ZERO_HLC, remote, T, maxDrift)).toEqual({ clock: remote, drifted: false })
  })

  it('does not advance the clock for a stamp beyond maxDriftMs, and reports drift', () => {
    const last: Hlc = { wall: T, logical: 4 }
    const r = observe(last, { wall: T + maxDrift + 1, logical: 0 }, T, maxDrift)
    expect(r.drifted).toBe(true)
    expect(r.clock).toEqual(last)
    // The next local stamp stays near real time rather than jumping to the drifted peer.
    expect(tick(r.clock, T + 1)).toEqual({ wall: T + 1, logical: 0 })
  })

  it('never moves the clock backwards', () => {
    fc.assert(fc.property(hlcArb, hlcArb, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 500 }), (last, remote, now, drift) => {
      const r = observe(last, remote, now, drift)
      expect(compareHlc(r.clock, last)).toBeGreaterThanOrEqual(0)
      expect(r.drifted).toBe(remote.wall - now > drift)
    }))
  })
})

describe('compareHlc', () => {
  it('orders by wall, then logical', () => {
    expect(compareHlc({ wall: 1, logical: 9 }, { wall: 2, logical: 0 })).toBeLessThan(0)
    expect(compareHlc({ wall: 2, logical: 1 }, { wall: 2, logical: 0 })).toBeGreaterThan(0)
    expect(compareHlc({ wall: 2, logical: 1 }, { wall: 2, logical: 1 })).toBe(0)
  })

  it('is a total order: antisymmetric, transitive, zero only for equal stamps', () => {
    fc.assert(fc.property(hlcArb, hlcArb, hlcArb, (a, b, c) => {
      expect(Math.sign(compareHlc(a, b)) + Math.sign(compareHlc(b, a))).toBe(0) // (avoids 0 vs -0)
      expect(compareHlc(a, b) === 0).toBe(a.wall === b.wall && a.logical === b.logical)
      if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBeLessThanOrEqual(0)
    }))
  })

  it('sorts consistently with lexicographic (wall, logical)', () => {
    fc.assert(fc.property(fc.array(hlcArb), xs => {
      const sorted = [...xs].sort(compareHlc)
      const lex = [...xs].sort((a, b) => a.wall - b.wall || a.logical - b.logical)
      expect(sorted).toEqual(lex)
    }))
  })
})

describe('isHlc and formatHlc', () => {
  it.each([
    [{ wall: 0, logical: 0 }, true],
    [{ wall: T, logical: 12 }, true],
    [{ wall: -1, logical: 0 }, false],
    [{ wall: 1.5, logical: 0 }, false],
    [{ wall: 1, logical: -1 }, false],
    [{ wall: 2 ** 53, logical: 0 }, false],
    [{ wall: '1', logical: 0 }, false],
    [{ wall: 1 }, false],
    [null, false],
    ['1.0', false]
  ])('isHlc(%j) is %s', (x, ok) => {
    expect(isHlc(x)).toBe(ok)
  })

  it('formats with a zero-padded logical part', () => {
    expect(formatHlc({ wall: 1234, logical: 7 })).toBe('1234.0007')
  })
})
