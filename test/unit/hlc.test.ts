import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { compareHlc, formatHlc, isHlc, MAX_LOGICAL, MAX_WALL, observe, stampWrite, successor, tick, ZERO_HLC, type Hlc } from '../../src/core/hlc.js'

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

describe('stampWrite', () => {
  const maxDrift = 60_000

  it('issues a stamp above a stored stamp from a clock minutes ahead, without moving the clock there', () => {
    const stored: Hlc = { wall: T + 5 * 60_000, logical: 3 }
    const last: Hlc = { wall: T, logical: 0 }
    const r = stampWrite(last, stored, T + 10, maxDrift)
    expect(r?.stamp).toEqual({ wall: stored.wall, logical: 4 })
    // The clock takes its own tick, not the far-future stamp: later writes stay near real time.
    expect(r?.clock).toEqual({ wall: T + 10, logical: 0 })
  })

  it('follows a stored stamp that is ahead but within the drift bound (ordinary HLC causality)', () => {
    const stored: Hlc = { wall: T + 30_000, logical: 3 }
    const r = stampWrite({ wall: T, logical: 0 }, stored, T, maxDrift)
    expect(r).toEqual({ stamp: { wall: T + 30_000, logical: 4 }, clock: { wall: T + 30_000, logical: 4 } })
  })

  it('is just tick when the stored stamp is older than the clock', () => {
    expect(stampWrite({ wall: 10, logical: 2 }, { wall: 5, logical: 9 }, 3, maxDrift)).toEqual({ stamp: { wall: 10, logical: 3 }, clock: { wall: 10, logical: 3 } })
    expect(stampWrite({ wall: 10, logical: 2 }, undefined, 11, maxDrift)).toEqual({ stamp: { wall: 11, logical: 0 }, clock: { wall: 11, logical: 0 } })
  })

  it('overwrites a key stamped at the top of the logical range by moving to the next millisecond', () => {
    const stored: Hlc = { wall: T + 3_600_000, logical: MAX_LOGICAL }
    const r = stampWrite({ wall: T, logical: 0 }, stored, T, maxDrift)
    expect(r?.stamp).toEqual({ wall: T + 3_600_001, logical: 0 })
    expect(r?.clock).toEqual({ wall: T, logical: 1 })
  })

  it('cannot go past the last stamp there is', () => {
    expect(stampWrite({ wall: T, logical: 0 }, { wall: MAX_WALL, logical: MAX_LOGICAL }, T, maxDrift)).toBeUndefined()
  })

  it('stamps above both the clock and the stored version, and keeps the clock within maxDrift of now', () => {
    const wide = fc.record({ wall: fc.integer({ min: 0, max: MAX_WALL }), logical: fc.integer({ min: 0, max: MAX_LOGICAL }) })
    const clockArb = fc.record({ wall: fc.integer({ min: 0, max: T + maxDrift }), logical: fc.integer({ min: 0, max: 1000 }) })
    fc.assert(fc.property(clockArb, fc.option(wide, { nil: undefined }), fc.integer({ min: 0, max: T }), (last, stored, now) => {
      fc.pre(stored === undefined || stored.wall < MAX_WALL)
      const r = stampWrite(last, stored, now, maxDrift)
      expect(r).toBeDefined()
      if (r === undefined) return
      expect(compareHlc(r.stamp, last)).toBeGreaterThan(0)
      if (stored !== undefined) expect(compareHlc(r.stamp, stored)).toBeGreaterThan(0)
      expect(compareHlc(r.clock, last)).toBeGreaterThan(0)
      expect(isHlc(r.stamp) && isHlc(r.clock)).toBe(true)
      expect(r.clock.wall).toBeLessThanOrEqual(Math.max(last.wall, now + maxDrift) + 1)
    }))
  })
})

describe('bounds', () => {
  it('the maximum wall is the last millisecond of year 9999, which dates can print', () => {
    expect(new Date(MAX_WALL).toISOString()).toBe('9999-12-31T23:59:59.999Z')
    expect(MAX_LOGICAL).toBe(2 ** 31 - 1)
  })

  it('tick saturates: a full logical counter moves to the next millisecond instead of an unsafe number', () => {
    expect(tick({ wall: T, logical: MAX_LOGICAL }, T)).toEqual({ wall: T + 1, logical: 0 })
    expect(successor({ wall: T, logical: 5 })).toEqual({ wall: T, logical: 6 })
    expect(successor({ wall: MAX_WALL, logical: MAX_LOGICAL })).toBeUndefined()
  })

  it('tick never stamps a wall beyond the maximum, whatever the wall clock says', () => {
    expect(tick(ZERO_HLC, 9e15)).toEqual({ wall: MAX_WALL, logical: 0 })
    expect(tick({ wall: MAX_WALL, logical: 0 }, 9e15)).toEqual({ wall: MAX_WALL, logical: 1 })
    expect(tick(ZERO_HLC, -5)).toEqual({ wall: 0, logical: 1 })
  })

  it('100,000 ticks from a clock near the logical limit stay valid, increasing stamps', () => {
    let h: Hlc = { wall: T, logical: MAX_LOGICAL - 10 }
    let bad = 0
    for (let i = 0; i < 100_000; i++) {
      const next = tick(h, T)
      if (compareHlc(next, h) <= 0 || !isHlc(next)) bad++
      h = next
    }
    expect(bad).toBe(0)
    expect(h).toEqual({ wall: T + 1, logical: 100_000 - 11 })
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
    [{ wall: MAX_WALL, logical: MAX_LOGICAL }, true],
    [{ wall: MAX_WALL + 1, logical: 0 }, false],
    [{ wall: 9e15, logical: 0 }, false],
    [{ wall: T, logical: MAX_LOGICAL + 1 }, false],
    [{ wall: T, logical: 2 ** 53 - 1 }, false],
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
