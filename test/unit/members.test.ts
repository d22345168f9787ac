import { describe, expect, it } from 'vitest'
import { isHeartbeat, type Heartbeat } from '../../src/core/heartbeat.js'
import { MemberTable, type Transition } from '../../src/core/members.js'
import { heartbeat, MEMBER_OPTS, seeded, service } from './fixtures.js'

const SELF = 'self'

function table (): MemberTable {
  return new MemberTable(SELF, MEMBER_OPTS)
}

/** Tick every `stepMs` from `from` to `to` inclusive; returns the transitions with the time they happened. */
function tickRange (t: MemberTable, from: number, to: number, stepMs = 100): Array<Transition & { at: number }> {
  const out: Array<Transition & { at: number }> = []
  for (let now = from; now <= to; now += stepMs) for (const tr of t.tick(now)) out.push({ ...tr, at: now })
  return out
}

/** Direct heartbeats from `id` every second, from `from` (inclusive) to `to` (exclusive); returns the next counter. */
function beat (t: MemberTable, id: string, from: number, to: number, counter = 1, over: Partial<Heartbeat> = {}): number {
  for (let now = from; now < to; now += 1000) {
    t.observe(heartbeat(id, { counter: counter++, ...over }), now, true)
    t.tick(now)
  }
  return counter
}

describe('heartbeat factory', () => {
  it('builds heartbeats that isHeartbeat accepts', () => {
    expect(isHeartbeat(heartbeat('a'))).toBe(true)
    expect(isHeartbeat(heartbeat('a', { status: 'left', generation: 3, counter: 0 }))).toBe(true)
    expect(isHeartbeat(heartbeat('a', { services: [service({ name: 'web' }), service({ name: 'db', id: 'db-1', tags: ['primary'], health: 'critical' })] }))).toBe(true)
  })

  it.each<[string, Record<string, unknown>]>([
    ['v 2', { v: 2 }],
    ['empty id', { id: '' }],
    ['negative generation', { generation: -1 }],
    ['fractional counter', { counter: 1.5 }],
    ['status failed', { status: 'failed' }],
    ['addrs not an array', { addrs: 'x' }],
    ['a bad service', { services: [{ ...service({ name: 'web' }), port: 0 }] }],
    ['a NaN metric', { metrics: { ...heartbeat('a').metrics, cpu: NaN } }],
    ['no sentAt', { sentAt: undefined }]
  ])('isHeartbeat rejects a heartbeat with %s', (_what, over) => {
    expect(isHeartbeat({ ...heartbeat('a'), ...over })).toBe(false)
  })
})

describe('MemberTable', () => {
  it('a first heartbeat creates an alive member (transition from none)', () => {
    const t = table()
    expect(t.observe(heartbeat('a'), 1000, true)).toEqual([{ id: 'a', name: 'node-a', from: 'none', to: 'alive' }])
    expect(t.get('a')).toMatchObject({ status: 'alive', lastSeen: 1000, since: 1000 })
    expect(t.versions()).toEqual([['a', 1, 1]])
  })

  it('ignores stale and duplicate heartbeats', () => {
    const t = table()
    t.observe(heartbeat('a', { generation: 2, counter: 5 }), 0, true)
    const stale = [
      heartbeat('a', { generation: 2, counter: 5 }), // duplicate
      heartbeat('a', { generation: 2, counter: 4 }),
      heartbeat('a', { generation: 1, counter: 999 }), // older generation
      heartbeat('a', { generation: 2, counter: 5, status: 'left' })
    ]
    for (const hb of stale) expect(t.observe(hb, 500, true)).toEqual([])
    expect(t.get('a')).toMatchObject({ status: 'alive', lastSeen: 0 })
    expect(t.get('a')?.hb.counter).toBe(5)
    // The duplicates did not count as arrivals: phi is as if only the first one arrived.
    const ref = table()
    ref.observe(heartbeat('a', { generation: 2, counter: 5 }), 0, true)
    expect(t.phi('a', 3000)).toBe(ref.phi('a', 3000))
  })

  it('silence makes a member suspect, then failed after suspicionMs', () => {
    const t = table()
    const c = beat(t, 'a', 0, 10_000)
    expect(c).toBe(11)
    const last = 9000
    const trs = tickRange(t, last, last + 20_000)
    expect(trs.map(x => [x.from, x.to])).toEqual([['alive', 'suspect'], ['suspect', 'failed']])
    const [suspect, failed] = trs
    expect(suspect.at - last).toBeGreaterThan(3000)
    expect(suspect.at - last).toBeLessThanOrEqual(3600)
    expect(failed.at - suspect.at).toBe(MEMBER_OPTS.suspicionMs)
    expect(t.get('a')).toMatchObject({ status: 'failed', since: failed.at, lastSeen: last })
  })

  it.each([
    ['suspect', 4000],
    ['failed', 10_000]
  ])('a newer heartbeat revives a %s member', (status, silenceMs) => {
    const t = table()
    let c = beat(t, 'a', 0, 5000)
    tickRange(t, 4000, 4000 + silenceMs)
    expect(t.get('a')?.status).toBe(status)
    const now = 4000 + silenceMs + 50
    expect(t.observe(heartbeat('a', { counter: c++ }), now, true)).toEqual([{ id: 'a', name: 'node-a', from: status, to: 'alive' }])
    expect(t.get('a')).toMatchObject({ status: 'alive', since: now, lastSeen: now })
    // Regular heartbeats from here on keep it alive.
    beat(t, 'a', now + 1000, now + 60_000, c)
    expect(t.get('a')?.status).toBe('alive')
  })

  it('a left heartbeat moves the member to left; it is never failed, and is reaped after reapMs', () => {
    const t = table()
    const c = beat(t, 'a', 0, 5000)
    expect(t.observe(heartbeat('a', { counter: c, status: 'left' }), 5000, true)).toEqual([{ id: 'a', name: 'node-a', from: 'alive', to: 'left' }])
    const trs = tickRange(t, 5000, 5000 + MEMBER_OPTS.reapMs, 10_000)
    expect(trs).toEqual([{ id: 'a', name: 'node-a', from: 'left', to: 'reaped', at: 5000 + MEMBER_OPTS.reapMs }])
    expect(t.get('a')).toBeUndefined()
    expect(t.list()).toEqual([])
  })

  it('a member first seen as left is left, from none', () => {
    const t = table()
    expect(t.observe(heartbeat('a', { status: 'left' }), 0, false)).toEqual([{ id: 'a', name: 'node-a', from: 'none', to: 'left' }])
    expect(tickRange(t, 0, 60_000).length).toBe(0)
  })

  it('reaps a failed member reapMs after it failed; a heartbeat after that re-adds it from none', () => {
    const t = table()
    beat(t, 'a', 0, 3000)
    const trs = tickRange(t, 2000, 2000 + 10_000 + MEMBER_OPTS.reapMs, 1000)
    expect(trs.map(x => x.to)).toEqual(['suspect', 'failed', 'reaped'])
    expect(trs[2].at - trs[1].at).toBe(MEMBER_OPTS.reapMs)
    expect(t.observe(heartbeat('a', { counter: 100 }), trs[2].at + 1, true)).toEqual([{ id: 'a', name: 'node-a', from: 'none', to: 'alive' }])
  })

  it('a higher generation (restart) is accepted with a reset counter, shows alive and resets the detector', () => {
    const t = table()
    // Generation 1 beat slowly (every 5 s): its detector learned to tolerate long gaps.
    for (let i = 0; i < 20; i++) {
      t.observe(heartbeat('a', { counter: 100 + i }), i * 5000, true)
      t.tick(i * 5000)
    }
    tickRange(t, 95_000, 200_000, 1000)
    expect(t.get('a')?.status).toBe('failed')
    const now = 200_500
    expect(t.observe(heartbeat('a', { generation: 2, counter: 0 }), now, true)).toEqual([{ id: 'a', name: 'node-a', from: 'failed', to: 'alive' }])
    expect(t.get('a')?.hb.generation).toBe(2)
    // Old-generation heartbeats arriving late change nothing.
    expect(t.observe(heartbeat('a', { generation: 1, counter: 1000 }), now + 10, true)).toEqual([])
    // The new process is judged on the expected interval, not the old 5 s history.
    expect(t.phi('a', now + 4000)).toBeGreaterThanOrEqual(MEMBER_OPTS.phiSuspect)
    const fresh = table()
    fresh.observe(heartbeat('a', { generation: 2, counter: 0 }), now, true)
    for (const s of [500, 2000, 3300, 4000]) expect(t.phi('a', now + s)).toBe(fresh.phi('a', now + s))
  })

  it('a restart seen while alive needs no transition', () => {
    const t = table()
    const c = beat(t, 'a', 0, 3000)
    expect(t.observe(heartbeat('a', { generation: 2, counter: 0 }), 3000, true)).toEqual([])
    expect(t.get('a')?.hb).toMatchObject({ generation: 2, counter: 0 })
    expect(c).toBeGreaterThan(0)
  })

  it('a relayed heartbeat updates the record but is not an arrival for the detector', () => {
    const t = table()
    const c = beat(t, 'a', 0, 5000)
    const before = t.phi('a', 6500)
    expect(t.observe(heartbeat('a', { counter: c, address: '10.0.0.9' }), 6000, false)).toEqual([])
    expect(t.get('a')).toMatchObject({ lastSeen: 6000 })
    expect(t.get('a')?.hb.address).toBe('10.0.0.9')
    expect(t.phi('a', 6500)).toBe(before)
  })

  it('never suspects itself', () => {
    const t = table()
    t.observe(heartbeat(SELF), 0, true)
    expect(tickRange(t, 0, 2 * MEMBER_OPTS.reapMs, 5000)).toEqual([])
    expect(t.get(SELF)?.status).toBe('alive')
    expect(t.phi(SELF, 1e9)).toBe(0)
  })

  it('phi is 0 for unknown members, and list() is sorted by name', () => {
    const t = table()
    expect(t.phi('nobody', 1000)).toBe(0)
    for (const id of ['c', 'a', 'b']) t.observe(heartbeat(id, { name: `node-${id}` }), 0, true)
    expect(t.list().map(m => m.hb.name)).toEqual(['node-a', 'node-b', 'node-c'])
  })

  it('replays an hour of 1 Hz heartbeats from 10 members, with jitter and lost heartbeats, in milliseconds and without suspicion', () => {
    const rand = seeded(2024)
    const ids = Array.from({ length: 10 }, (_, i) => `m${i}`)
    // Each member sends every 1000 ms from its own phase; arrivals jitter by ±200 ms and 1 % are lost.
    const events: Array<{ at: number, hb: Heartbeat }> = []
    for (const [i, id] of ids.entries()) {
      const phase = rand() * 1000
      for (let k = 0; k < 3600; k++) {
        if (k > 0 && rand() < 0.01) continue
        events.push({ at: phase + k * 1000 + (rand() * 2 - 1) * 200 + 200, hb: heartbeat(id, { counter: k, generation: i }) })
      }
    }
    events.sort((a, b) => a.at - b.at)
    const t = table()
    t.observe(heartbeat(SELF), 0, true)
    const transitions: Transition[] = []
    const started = performance.now()
    let next = 0
    for (let now = 0; now <= 3_600_000 + 2000; now += 100) {
      while (next < events.length && events[next].at <= now) {
        transitions.push(...t.observe(events[next].hb, events[next].at, true))
        next++
      }
      transitions.push(...t.tick(now))
    }
    const elapsed = performance.now() - started
    expect(next).toBe(events.length)
    expect(transitions.map(x => `${x.from}>${x.to}`)).toEqual(ids.map(() => 'none>alive'))
    expect(t.list().every(m => m.status === 'alive')).toBe(true)
    expect(elapsed).toBeLessThan(2000)
  })
})
