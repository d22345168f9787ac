// The replica's clock rules with a fake wall clock and no disk: far-future versions are
// overwritable without dragging the clock, restores do not drag it either, and a write that
// fails to persist stores nothing.
import { describe, expect, it } from 'vitest'
import { ConfigReplica, type ReplicaHooks } from '../../src/agent/config-replica.js'
import { compareHlc, MAX_LOGICAL } from '../../src/core/hlc.js'
import type { ConfigLog } from '../../src/store/config-log.js'
import { MurmurError } from '../../src/core/errors.js'
import { DEFAULT_QUOTA } from '../../src/core/quota.js'
import { entry } from './fixtures.js'

const T = 1_700_000_000_000
const MAX_DRIFT = 60_000
const HOUR = 3_600_000
const YEAR_2100 = Date.UTC(2100, 0, 1)

function replica (now: () => number = () => T, log?: ConfigLog): { r: ConfigReplica, drifts: number[] } {
  const drifts: number[] = []
  const hooks: ReplicaHooks = { changed: () => {}, drift: (_e, ahead) => drifts.push(ahead), persistFailed: () => {}, refused: () => {} }
  return { r: new ConfigReplica('me', now, MAX_DRIFT, DEFAULT_QUOTA, log, hooks), drifts }
}

describe('ConfigReplica clock', () => {
  it('overwrites a key stamped in 2100, and its later writes are still stamped now', async () => {
    const { r, drifts } = replica()
    await r.applyRemote([entry('k', YEAR_2100, 0, 'far')])
    expect(drifts).toHaveLength(1)
    const over = await r.set('k', 'mine')
    expect(compareHlc(over.hlc, { wall: YEAR_2100, logical: 0 })).toBeGreaterThan(0)
    expect(r.get('k')?.value).toBe('mine')
    // Overwriting again, and writing another key: the clock stayed at real time.
    expect(compareHlc((await r.set('k', 'again')).hlc, over.hlc)).toBeGreaterThan(0)
    expect((await r.set('other', 1)).hlc.wall).toBe(T)
  })

  it('an honest peer one hour fast does not move our clock, through remote entries or overwrites', async () => {
    const { r } = replica()
    await r.applyRemote([entry('a', T + HOUR, 0, 'fast'), entry('b', T + HOUR, 7, 'fast')])
    await r.set('a', 1)
    await r.delete('b')
    expect((await r.set('c', 1)).hlc.wall).toBeLessThanOrEqual(T + MAX_DRIFT)
  })

  it('restoring far-future entries from disk does not drag the clock', async () => {
    const { r } = replica()
    r.restore([entry('a', YEAR_2100, 5, 'far'), entry('b', T + HOUR, 0, 'fast'), entry('c', T - 10, 0, 'me')])
    expect((await r.set('d', 1)).hlc).toEqual({ wall: T, logical: 0 })
    expect(r.get('a')?.value).toBeDefined()
  })

  it('restoring entries within the drift bound does advance the clock (causality)', async () => {
    const { r } = replica()
    r.restore([entry('a', T + 1000, 5, 'near')])
    expect((await r.set('d', 1)).hlc).toEqual({ wall: T + 1000, logical: 6 })
  })

  it('a key at the top of the logical range is overwritten without an unsafe stamp', async () => {
    const { r } = replica()
    await r.applyRemote([entry('k', T, MAX_LOGICAL, 'peer')])
    const e = await r.set('k', 'x')
    expect(e.hlc).toEqual({ wall: T + 1, logical: 0 })
    expect(Number.isSafeInteger(e.hlc.logical) && e.hlc.logical <= MAX_LOGICAL).toBe(true)
  })

  it('a local wall clock beyond year 9999 still stamps valid, printable times', async () => {
    const { r } = replica(() => 9e15)
    const e = await r.set('k', 1)
    expect(() => new Date(e.hlc.wall).toISOString()).not.toThrow()
  })

  it('a write that fails to persist stores nothing and is not visible', async () => {
    const failing = { append: async () => { throw new MurmurError('MURMUR_ERR_STORAGE', 'disk full') } } as unknown as ConfigLog
    const { r } = replica(() => T, failing)
    await expect(r.set('k', 1)).rejects.toMatchObject({ code: 'MURMUR_ERR_STORAGE' })
    expect(r.get('k')).toBeUndefined()
    expect(r.map.size).toBe(0)
  })
})
