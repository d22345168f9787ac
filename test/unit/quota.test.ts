// Config quotas: only growth is refused, byte accounting stays exact under any sequence of
// merges, far-future tombstones are not kept, and sync frames stay under the size limit.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigReplica } from '../../src/agent/config-replica.js'
import { MurmurError } from '../../src/core/errors.js'
import { entryBytes, LwwMap, type Entry } from '../../src/core/lww.js'
import { quotaExceeded, type ConfigQuota } from '../../src/core/quota.js'
import { encode, MAX_MESSAGE_BYTES } from '../../src/net/codec.js'
import { frames } from '../../src/agent/anti-entropy.js'
import { wireEntry } from '../../src/net/wire.js'
import { entry, tombstone } from './fixtures.js'

const put = (key: string, value: unknown, wall: number, origin = 'o'): Entry => entry(key, wall, 0, origin, value)
const del = (key: string, wall: number, origin = 'o'): Entry => tombstone(key, wall, 0, origin)
const Q: ConfigQuota = { maxKeys: 2, maxTombstones: 1, maxBytes: 1000 }

function mapOf (...entries: Entry[]): LwwMap {
  const m = new LwwMap()
  for (const e of entries) m.apply(e)
  return m
}

describe('quotaExceeded', () => {
  it.each<[string, LwwMap, Entry, string | undefined]>([
    ['a new key below the key limit', mapOf(put('a', 1, 1)), put('b', 1, 2), undefined],
    ['a new key at the key limit', mapOf(put('a', 1, 1), put('b', 1, 1)), put('c', 1, 2), 'keys'],
    ['a new version of a held key at the key limit', mapOf(put('a', 1, 1), put('b', 1, 1)), put('a', 2, 2), undefined],
    ['a key written again over its tombstone at the key limit', mapOf(put('a', 1, 1), put('b', 1, 1), del('c', 1)), put('c', 2, 2), 'keys'],
    ['an older version (it would change nothing)', mapOf(put('a', 1, 5), put('b', 1, 1)), put('c', 1, 2), 'keys'],
    ['a stale entry of a held key', mapOf(put('a', 1, 5), put('b', 1, 1)), put('a', 9, 2), undefined],
    ['deleting a held key at the tombstone limit', mapOf(del('t', 1), put('a', 1, 1)), del('a', 2), undefined],
    ['a tombstone of an unknown key at the tombstone limit', mapOf(del('t', 1)), del('u', 2), 'tombstones'],
    ['a value that grows past the byte limit', mapOf(put('a', 'x'.repeat(900), 1)), put('a', 'x'.repeat(1000), 2), 'bytes'],
    ['a value that shrinks while over the byte limit', mapOf(put('a', 'x'.repeat(1200), 1)), put('a', 'x'.repeat(1100), 2), undefined]
  ])('%s', (_what, map, e, want) => {
    expect(quotaExceeded(map, e, Q)).toBe(want)
  })

  it('keeps bytes equal to the sum of what is held, whatever the merges', () => {
    const arb = fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'dé'),
      value: fc.option(fc.oneof(fc.string(), fc.integer(), fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }))), { nil: undefined }),
      wall: fc.integer({ min: 0, max: 20 }),
      origin: fc.constantFrom('p', 'q')
    }).map(r => r.value === undefined ? del(r.key, r.wall, r.origin) : put(r.key, r.value, r.wall, r.origin))
    fc.assert(fc.property(fc.array(arb, { maxLength: 40 }), fc.integer({ min: 0, max: 20 }), (entries, horizon) => {
      const m = mapOf(...entries)
      m.collectTombstones(horizon)
      m.remove('a')
      let sum = 0
      for (const e of m.all()) sum += entryBytes(e)
      expect(m.bytes).toBe(sum)
    }))
  })
})

describe('ConfigReplica with quotas', () => {
  function replica (): { r: ConfigReplica, refused: string[] } {
    const refused: string[] = []
    const r = new ConfigReplica('me', () => 1_000_000, 60_000, Q, undefined, {
      changed: () => {}, drift: () => {}, persistFailed: () => {}, refused: (e, why) => refused.push(`${e.key}:${why}`)
    })
    return { r, refused }
  }

  it('refuses a local write beyond the key limit with MURMUR_ERR_QUOTA, and still updates held keys', async () => {
    const { r } = replica()
    await r.set('a', 1)
    await r.set('b', 1)
    const err = await r.set('c', 1).catch(e => e)
    expect(err).toBeInstanceOf(MurmurError)
    expect(err.code).toBe('MURMUR_ERR_QUOTA')
    expect(err.message).toMatch(/keys 2\/2/)
    expect(r.get('c')).toBeUndefined()
    expect((await r.set('a', 2)).value).toBe(2)
  })

  it('drops remote entries over quota and tombstones from beyond the drift bound, and reports each', async () => {
    const { r, refused } = replica()
    const applied = await r.applyRemote([put('a', 1, 1), put('b', 1, 1), put('c', 1, 1), del('far', 1_000_000 + 60_001), del('near', 1_000_000 + 59_000)])
    expect(applied.map(e => e.key)).toEqual(['a', 'b', 'near'])
    expect(refused).toEqual(['c:keys', 'far:future'])
  })
})

describe('sync frames', () => {
  it('keeps every frame of large values under the message limit, in order, losing nothing', () => {
    // Floats take 9 bytes in msgpack against 4 in JSON: the worst case for the estimate.
    const big = Array.from({ length: 13_000 }, () => 0.1)
    const entries = Array.from({ length: 200 }, (_, i) => put(`k${i}`, big, 1))
    const out = frames(entries)
    expect(out.flat()).toEqual(entries)
    expect(out.length).toBeGreaterThan(1)
    for (const f of out) expect(encode({ t: 'entries', entries: f.map(wireEntry) }).byteLength).toBeLessThan(MAX_MESSAGE_BYTES)
  })

  it('puts at most 500 small entries in a frame', () => {
    const out = frames(Array.from({ length: 1201 }, (_, i) => put(`k${i}`, i, 1)))
    expect(out.map(f => f.length)).toEqual([500, 500, 201])
  })
})
