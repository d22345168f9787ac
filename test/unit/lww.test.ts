import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BUCKETS, bucketOf, compareVersion, LwwMap, type Entry } from '../../src/core/lww.js'
import { entry, seeded, tombstone } from './fixtures.js'

// Keys from a small set so that writes collide; they fall in several different buckets.
const KEYS = ['a', 'b', 'c', 'app/x', 'app/y', 'app/z/deep', 'db.url', 'ü/ключ']
const ORIGINS = ['n1', 'n2', 'n3']

const writeArb = fc.record({
  key: fc.constantFrom(...KEYS),
  wall: fc.integer({ min: 0, max: 6 }),
  logical: fc.integer({ min: 0, max: 3 }),
  origin: fc.constantFrom(...ORIGINS),
  deleted: fc.boolean(),
  value: fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }))
})

/**
 * A set of writes in which one (key, hlc, origin) identifies one write: equal versions with
 * different values cannot happen (an origin never issues the same stamp twice).
 */
const writesArb = fc.uniqueArray(writeArb, {
  selector: w => `${w.key}|${w.wall}|${w.logical}|${w.origin}`,
  maxLength: 40
}).map(ws => ws.map((w): Entry => w.deleted
  ? tombstone(w.key, w.wall, w.logical, w.origin)
  : entry(w.key, w.wall, w.logical, w.origin, w.value)))

function build (entries: Iterable<Entry>): LwwMap {
  const m = new LwwMap()
  for (const e of entries) m.apply(e)
  return m
}

function contents (m: LwwMap): Entry[] {
  return [...m.all()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** The newest version per key, computed without LwwMap. */
function reference (entries: readonly Entry[]): Entry[] {
  const best = new Map<string, Entry>()
  for (const e of entries) {
    const cur = best.get(e.key)
    if (cur === undefined || compareVersion(e, cur) > 0) best.set(e.key, e)
  }
  return [...best.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

function merged (...maps: LwwMap[]): LwwMap {
  const out = new LwwMap()
  for (const m of maps) for (const e of m.all()) out.apply(e)
  return out
}

function expectSame (a: LwwMap, b: LwwMap): void {
  expect(contents(a)).toEqual(contents(b))
  expect(a.digest()).toEqual(b.digest())
  expect(a.differingBuckets(b.digest()).size).toBe(0)
}

function shuffle<T> (xs: readonly T[], rand: () => number): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

describe('LwwMap basics', () => {
  it('keeps the newer version per key and reports whether apply changed the map', () => {
    const m = new LwwMap()
    expect(m.apply(entry('k', 10))).toBe(true)
    expect(m.apply(entry('k', 9))).toBe(false)
    expect(m.apply(entry('k', 10))).toBe(false) // duplicate
    expect(m.apply(entry('k', 10, 1))).toBe(true)
    expect(m.get('k')?.hlc).toEqual({ wall: 10, logical: 1 })
  })

  it('breaks ties between equal stamps by origin', () => {
    const m = build([entry('k', 5, 0, 'n2'), entry('k', 5, 0, 'n1')])
    expect(m.get('k')?.origin).toBe('n2')
    const r = build([entry('k', 5, 0, 'n1'), entry('k', 5, 0, 'n2')])
    expect(r.get('k')?.origin).toBe('n2')
  })

  it('counts size and liveSize across writes, deletes and resurrections', () => {
    const m = new LwwMap()
    m.apply(entry('a', 1))
    m.apply(entry('b', 1))
    m.apply(tombstone('a', 2))
    expect([m.size, m.liveSize]).toEqual([2, 1])
    m.apply(entry('a', 3))
    expect([m.size, m.liveSize]).toEqual([2, 2])
    m.apply(tombstone('b', 2))
    m.apply(tombstone('c', 2))
    expect([m.size, m.liveSize]).toEqual([3, 1])
  })

  it('has an all-zero digest when empty, and only differs in the written bucket after one write', () => {
    const m = new LwwMap()
    expect(m.digest()).toEqual(new Uint32Array(BUCKETS))
    m.apply(entry('key', 1))
    expect([...m.differingBuckets(new Uint32Array(BUCKETS))]).toEqual([bucketOf('key')])
  })

  it('returns a digest copy that later writes do not change', () => {
    const m = build([entry('a', 1)])
    const d = m.digest()
    m.apply(entry('a', 2))
    expect(m.differingBuckets(d)).toEqual(new Set([bucketOf('a')]))
  })
})

describe('LwwMap merge properties', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(fc.property(
      writesArb.chain(ws => fc.tuple(fc.subarray(ws), fc.subarray(ws), fc.subarray(ws))),
      ([xs, ys, zs]) => {
        const a = build(xs)
        const b = build(ys)
        const c = build(zs)
        expectSame(merged(a, b), merged(b, a))
        expectSame(merged(merged(a, b), c), merged(a, merged(b, c)))
        expectSame(merged(a, a), a)
        expectSame(merged(merged(a, b), b), merged(a, b))
      }
    ), { numRuns: 300 })
  })

  it('replicas that receive subsets, permutations and duplicates converge after full anti-entropy', () => {
    fc.assert(fc.property(
      writesArb,
      fc.array(fc.array(fc.nat(), { maxLength: 60 }), { minLength: 2, maxLength: 5 }),
      fc.integer(),
      (ws, deliveries, seed) => {
        const rand = seeded(seed)
        const replicas = deliveries.map(picks => {
          const m = new LwwMap()
          // A random subset, in random order, with duplicates.
          if (ws.length > 0) for (const p of picks) m.apply(ws[p % ws.length])
          return m
        })
        // Full anti-entropy: every replica receives every entry, each in its own order.
        for (const m of replicas) for (const e of shuffle(ws, rand)) m.apply(e)
        const want = reference(ws)
        for (const m of replicas) {
          expect(contents(m)).toEqual(want)
          expectSame(m, replicas[0])
        }
      }
    ), { numRuns: 300 })
  })

  it('differingBuckets is empty between equal maps, and exactly one bucket differs after one more write', () => {
    fc.assert(fc.property(
      writesArb,
      fc.integer(),
      fc.oneof(fc.constantFrom(...KEYS), fc.string({ minLength: 1, maxLength: 8 })),
      (ws, seed, key) => {
        const a = build(ws)
        const b = build(shuffle(ws, seeded(seed)))
        expect(a.differingBuckets(b.digest()).size).toBe(0)
        expect(b.differingBuckets(a.digest()).size).toBe(0)

        expect(b.apply(entry(key, 100, 0, 'n9'))).toBe(true) // newer than anything generated
        const diff = a.differingBuckets(b.digest())
        expect([...diff]).toEqual([bucketOf(key)])
        expect(b.differingBuckets(a.digest())).toEqual(diff)
        // What anti-entropy would send: only entries in the differing bucket.
        for (const e of b.inBuckets(diff)) expect(bucketOf(e.key)).toBe(bucketOf(key))
        expect(b.inBuckets(diff).map(e => e.key)).toContain(key)
      }
    ), { numRuns: 300 })
  })
})

describe('LwwMap tombstones', () => {
  it('a delete with a higher stamp wins over older writes in any delivery order', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.record({ wall: fc.integer({ min: 0, max: 50 }), logical: fc.integer({ min: 0, max: 3 }), origin: fc.constantFrom(...ORIGINS) }),
        { selector: h => `${h.wall}.${h.logical}.${h.origin}`, minLength: 1, maxLength: 20 }),
      fc.integer(),
      (stamps, seed) => {
        const writes = stamps.map(s => entry('k', s.wall, s.logical, s.origin))
        const newest = writes.reduce((a, b) => (compareVersion(a, b) >= 0 ? a : b))
        const del = tombstone('k', newest.hlc.wall, newest.hlc.logical + 1, 'n1')
        const m = build(shuffle([...writes, del, ...writes], seeded(seed)))
        expect(m.get('k')).toEqual(del)
        expect(m.list()).toEqual([])
        expect(m.liveSize).toBe(0)
        expect(m.size).toBe(1)
      }
    ), { numRuns: 200 })
  })

  it('a write older than the tombstone does not resurrect the key; a newer one does', () => {
    const m = build([entry('k', 5), tombstone('k', 7)])
    expect(m.apply(entry('k', 6, 9, 'n3'))).toBe(false)
    expect(m.apply(entry('k', 7, 0, 'n0'))).toBe(false) // same stamp, lower origin
    expect(m.get('k')?.deleted).toBe(true)
    expect(m.list()).toEqual([])
    expect(m.apply(entry('k', 7, 1))).toBe(true)
    expect(m.list().map(e => e.key)).toEqual(['k'])
  })

  it('list(prefix) holds exactly the live keys with that prefix, sorted', () => {
    fc.assert(fc.property(writesArb, fc.constantFrom('', 'a', 'app/', 'app/z', 'ü', 'zzz'), (ws, prefix) => {
      const m = build(ws)
      const want = reference(ws).filter(e => !e.deleted && e.key.startsWith(prefix))
      const got = m.list(prefix)
      expect(got).toEqual(want)
      const keys = got.map(e => e.key)
      expect(keys).toEqual([...keys].sort())
      expect(got.every(e => !e.deleted)).toBe(true)
    }), { numRuns: 200 })
  })

  it('collectTombstones removes only tombstones older than the horizon and keeps the digest consistent', () => {
    fc.assert(fc.property(writesArb, fc.integer({ min: 0, max: 8 }), (ws, horizon) => {
      const m = build(ws)
      const before = contents(m)
      const removed = m.collectTombstones(horizon)
      const kept = before.filter(e => !(e.deleted && e.hlc.wall < horizon))
      expect(removed).toBe(before.length - kept.length)
      expect(contents(m)).toEqual(kept)
      expect(m.size).toBe(kept.length)
      expect(m.liveSize).toBe(kept.filter(e => !e.deleted).length)
      expectSame(m, build(kept))
      expect(m.collectTombstones(horizon)).toBe(0)
    }), { numRuns: 300 })
  })
})

describe('simulated anti-entropy (mirrors src/agent/anti-entropy.ts)', () => {
  /** One sync round: the responder sends its entries in the buckets that differ, then the initiator sends its own. */
  function sync (initiator: LwwMap, responder: LwwMap): number {
    const buckets = responder.differingBuckets(initiator.digest())
    const fromResponder = responder.inBuckets(buckets)
    for (const e of fromResponder) initiator.apply(e)
    const fromInitiator = initiator.inBuckets(buckets)
    for (const e of fromInitiator) responder.apply(e)
    return buckets.size
  }

  it('replicas that exchange only differing buckets end up equal', () => {
    fc.assert(fc.property(
      writesArb.chain(ws => fc.tuple(
        fc.constant(ws),
        fc.array(fc.subarray(ws), { minLength: 2, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 })
      )),
      ([ws, sets, schedule]) => {
        const replicas = sets.map(build)
        const n = replicas.length
        for (const [i, j] of schedule) if (i % n !== j % n) sync(replicas[i % n], replicas[j % n])
        // Keep picking pairs until no pair differs.
        let rounds = 0
        for (;;) {
          let exchanged = 0
          for (let i = 0; i < n; i++) {
            for (let j = i + 1; j < n; j++) {
              if (replicas[i].differingBuckets(replicas[j].digest()).size > 0) {
                sync(replicas[i], replicas[j])
                expect(replicas[i].differingBuckets(replicas[j].digest()).size).toBe(0)
                exchanged++
              }
            }
          }
          if (exchanged === 0) break
          expect(++rounds).toBeLessThanOrEqual(3)
        }
        const want = reference(sets.flat())
        for (const m of replicas) {
          expect(contents(m)).toEqual(want)
          expectSame(m, replicas[0])
        }
        // Writes nobody received cannot appear.
        expect(want.length).toBeLessThanOrEqual(reference(ws).length)
      }
    ), { numRuns: 300 })
  })

  it('after one sync round, the pair holds the same map', () => {
    fc.assert(fc.property(
      writesArb.chain(ws => fc.tuple(fc.subarray(ws), fc.subarray(ws))),
      ([xs, ys]) => {
        const a = build(xs)
        const b = build(ys)
        sync(a, b)
        expectSame(a, b)
        expect(contents(a)).toEqual(reference([...xs, ...ys]))
        expect(sync(a, b)).toBe(0)
      }
    ), { numRuns: 300 })
  })
})
