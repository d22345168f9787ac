// The smaller pieces of the control loop's core: aggregates, member selection, custom metric
// publishing, rendezvous ownership, bounded history.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aggregateOf, freshValues, MemberIndex, summarize, type MemberMetrics } from '../../src/core/aggregate.js'
import { CUSTOM_LIMITS, CustomMetrics, parseMetricUpdate, roundMetric } from '../../src/core/custom-metrics.js'
import { MurmurError } from '../../src/core/errors.js'
import { isHeartbeat } from '../../src/core/heartbeat.js'
import { Ring, SeriesStore } from '../../src/core/history.js'
import { rendezvousOwner } from '../../src/core/rendezvous.js'
import { heartbeat } from './fixtures.js'

const T = 1_800_000_000_000

function member (id: string, metrics: Record<string, number>, o: Partial<MemberMetrics> = {}): MemberMetrics {
  return { memberId: id, name: id, generation: 1, alive: true, services: [], metrics, at: T, ...o }
}

describe('aggregates', () => {
  it('summarize: count, avg, min, max, p50, p95, sum and the oldest sample age', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1)
    expect(summarize(values, values.map(v => T - v * 100), T)).toEqual({ count: 20, avg: 10.5, min: 1, max: 20, p50: 10, p95: 19, sum: 210, oldestAgeMs: 2000 })
    expect(summarize([], [], T)).toMatchObject({ count: 0, avg: null, sum: 0, oldestAgeMs: null })
  })

  it('aggregateOf agrees with summarize for every aggregate', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), values => {
      const s = summarize(values, [], T)
      for (const k of ['avg', 'min', 'max', 'sum', 'p50', 'p95'] as const) expect(aggregateOf(k, values)).toBeCloseTo(s[k] as number, 6)
      expect(aggregateOf('count', values)).toBe(values.length)
    }))
  })

  it('selects alive members by service and tag, and only fresh samples', () => {
    const web = { id: 'web-1', name: 'web', tags: ['canary'] }
    const idx = new MemberIndex([
      member('a', { lat: 100 }, { services: [web] }),
      member('b', { lat: 300 }, { services: [{ ...web, tags: [] }] }),
      member('c', { lat: 900 }, { services: [web], alive: false }),
      member('d', { cpu: 1 }, { at: T - 120_000 })
    ])
    expect(idx.select({}).map(m => m.memberId)).toEqual(['a', 'b', 'd'])
    expect(idx.select({ service: 'web' }).map(m => m.memberId)).toEqual(['a', 'b'])
    expect(idx.select({ service: 'web', tag: 'canary' }).map(m => m.memberId)).toEqual(['a'])
    expect(idx.select({ service: 'db' })).toEqual([])
    expect(freshValues(idx.select({ service: 'web' }), 'lat', T).values).toEqual([100, 300])
    expect(freshValues(idx.select({}), 'cpu', T, 60_000).values).toEqual([])
  })
})

describe('custom metrics', () => {
  it('validates updates: names, numbers, reserved names', () => {
    expect(parseMetricUpdate({ rps: 950, 'latency.p99_ms': 412, gone: null })).toEqual(new Map<string, number | null>([['rps', 950], ['latency.p99_ms', 412], ['gone', null]]))
    for (const bad of [[1], 'x', null, { '': 1 }, { 'a b': 1 }, { rps: '950' }, { rps: Infinity }, { cpu: 1 }, { ['x'.repeat(65)]: 1 }]) {
      let err: unknown
      try { parseMetricUpdate(bad) } catch (e) { err = e }
      expect((err as MurmurError).code).toBe('MURMUR_ERR_BAD_METRIC')
    }
  })

  it('rounds to three significant digits', () => {
    expect(roundMetric(412.345)).toBe(412)
    expect(roundMetric(0.0012345)).toBe(0.00123)
    expect(roundMetric(123456)).toBe(123000)
  })

  it('publishes a change only beyond 10 %, or after 30 s, and drops a metric no longer reported', () => {
    const c = new CustomMetrics()
    c.put(new Map([['lat', 400]]), T)
    const first = c.published(T)
    expect(first).toEqual({ lat: 400 })
    c.put(new Map([['lat', 430]]), T + 1000)
    expect(c.published(T + 1000)).toBe(first) // +7.5 %: the same object, nothing new to send
    c.put(new Map([['lat', 445]]), T + 2000)
    expect(c.published(T + 2000)).toEqual({ lat: 445 }) // +11 %
    c.put(new Map([['lat', 450]]), T + 3000)
    expect(c.published(T + 3000)).toEqual({ lat: 445 })
    expect(c.published(T + 2000 + CUSTOM_LIMITS.refreshMs)).toEqual({ lat: 450 })
    c.put(new Map([['rps', 1]]), T + 40_000)
    expect(Object.keys(c.published(T + 40_000))).toEqual(['lat', 'rps']) // a new name goes at once
    expect(c.published(T + 3000 + CUSTOM_LIMITS.ttlMs + 1)).toEqual({ rps: 1 })
    c.put(new Map([['rps', null]]), T + 130_000)
    expect(c.published(T + 130_000)).toEqual({})
  })

  it('refuses more than the per-agent limit without changing anything', () => {
    const c = new CustomMetrics()
    c.put(new Map(Array.from({ length: CUSTOM_LIMITS.count }, (_, i) => [`m${i}`, i])), T)
    expect(() => c.put(new Map([['one_more', 1]]), T)).toThrow(MurmurError)
    expect(Object.keys(c.current())).toHaveLength(CUSTOM_LIMITS.count)
  })

  it('is accepted in heartbeats when well-formed, refused otherwise', () => {
    expect(isHeartbeat({ ...heartbeat('a'), custom: { lat: 412 } })).toBe(true)
    expect(isHeartbeat({ ...heartbeat('a'), custom: { lat: 'x' } })).toBe(false)
    expect(isHeartbeat({ ...heartbeat('a'), custom: { 'a b': 1 } })).toBe(false)
    expect(isHeartbeat({ ...heartbeat('a'), custom: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i])) })).toBe(false)
  })
})

describe('rendezvous ownership', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `12D3KooW${'x'.repeat(40)}${i}`)

  it('is the same whatever the order members are listed in', () => {
    fc.assert(fc.property(fc.string(), fc.shuffledSubarray(ids, { minLength: 1 }), (name, members) => {
      expect(rendezvousOwner(name, members)).toBe(rendezvousOwner(name, [...members].reverse()))
    }))
  })

  it('moves only the rules of a member that goes away', () => {
    fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 50 }), fc.integer({ min: 0, max: ids.length - 1 }), (names, gone) => {
      const rest = ids.filter((_, i) => i !== gone)
      for (const n of names) {
        const before = rendezvousOwner(n, ids)
        if (before !== ids[gone]) expect(rendezvousOwner(n, rest)).toBe(before)
      }
    }))
  })

  it('spreads rules over members', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 1000; i++) {
      const o = rendezvousOwner(`rule-${i}`, ids) as string
      counts.set(o, (counts.get(o) ?? 0) + 1)
    }
    expect(counts.size).toBe(10)
    for (const c of counts.values()) expect(c).toBeGreaterThan(50)
    expect(rendezvousOwner('x', [])).toBeUndefined()
  })
})

describe('bounded history', () => {
  it('keeps the newest samples of a ring', () => {
    const r = new Ring(3)
    for (let i = 1; i <= 5; i++) r.push(i * 10, i)
    const seen: number[] = []
    r.each(0, 100, (_t, v) => seen.push(v))
    expect(seen).toEqual([3, 4, 5])
    expect(r.last).toBe(50)
  })

  it('holds the newest min(pushed, capacity) samples in order while it grows to its capacity', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 300 }), (capacity, pushes) => {
      const r = new Ring(capacity)
      for (let i = 0; i < pushes; i++) r.push(i, -i)
      const seen: number[] = []
      r.each(-Infinity, Infinity, (t, v) => { expect(v).toBe(-t); seen.push(t) })
      const want = Array.from({ length: Math.min(pushes, capacity) }, (_, k) => pushes - Math.min(pushes, capacity) + k)
      expect(seen).toEqual(want)
      expect(r.size).toBe(want.length)
      expect(r.last).toBe(pushes === 0 ? -Infinity : pushes - 1)
    }))
  })

  it('records at most one sample per period per series, and caps the series', () => {
    const s = new SeriesStore(10, 1000, 2)
    s.record('a', 0, 1)
    s.record('a', 500, 2)
    s.record('a', 1000, 3)
    s.record('b', 0, 1)
    s.record('c', 0, 1)
    expect(s.get('a')?.size).toBe(2)
    expect(s.get('c')).toBeUndefined()
    expect(s.refused).toBe(1)
    s.prune(600)
    expect(s.size).toBe(1)
  })
})
