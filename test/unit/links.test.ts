// The links keeper with stand-in deps (fake timers): it opens links only once no new member has
// arrived for SETTLE_MS, so agents started together do their joins before their handshakes;
// a config write opens them at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Member } from '../../src/core/members.js'
import { LINKS, Links, SETTLE_MS, SPREAD_MS } from '../../src/agent/links.js'
import { heartbeat } from './fixtures.js'

const members: Member[] = Array.from({ length: 10 }, (_, i) => ({ hb: heartbeat(`m${i}`), status: 'alive', lastSeen: 0, since: 0 }))

function keeper (share = 0): { links: Links, dialled: string[] } {
  const dialled: string[] = []
  const links = new Links({
    connected: () => dialled,
    randomMember: () => members[Math.floor(Math.random() * members.length)],
    dial: async peer => { dialled.push(peer) },
    isLive: () => true,
    rng: () => share
  })
  return { links, dialled }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

describe('links', () => {
  it('wait until members have stopped arriving for SETTLE_MS, then open LINKS', () => {
    const { links, dialled } = keeper()
    links.arrived()
    links.check()
    vi.advanceTimersByTime(SETTLE_MS - 100)
    links.arrived()
    links.check()
    vi.advanceTimersByTime(SETTLE_MS - 100)
    links.check()
    expect(dialled).toEqual([])
    vi.advanceTimersByTime(200)
    links.check()
    expect(new Set(dialled).size).toBe(LINKS)
  })

  it('wait a further share of SPREAD_MS, so that agents settled together do not all dial at once', () => {
    const { links, dialled } = keeper(0.5)
    links.arrived()
    vi.advanceTimersByTime(SETTLE_MS + SPREAD_MS / 2 - 100)
    links.check()
    expect(dialled).toEqual([])
    vi.advanceTimersByTime(200)
    expect(new Set(dialled).size).toBe(LINKS)
  })

  it('dial none when other agents have already linked to this one', () => {
    const inbound = ['m1', 'm2', 'm3', 'm4']
    const dialled: string[] = []
    const links = new Links({
      connected: () => [...inbound, ...dialled],
      randomMember: () => members[Math.floor(Math.random() * members.length)],
      dial: async peer => { dialled.push(peer) },
      isLive: () => true,
      rng: () => 0
    })
    links.arrived()
    vi.advanceTimersByTime(SETTLE_MS + 100)
    expect(dialled).toEqual([])
  })

  it('call a connection spare only while the others make up LINKS live members', () => {
    const connected = ['m1', 'm2', 'm3', 'm4', 'm5']
    const gone = new Set(['m5'])
    const links = new Links({ connected: () => connected, randomMember: () => undefined, dial: async () => {}, isLive: p => !gone.has(p) })
    // m1 ... m4 are live: a fifth connection, to a member or to a peer that is none, can go.
    expect(links.spare('m5')).toBe(true)
    expect(links.spare('m9')).toBe(true)
    // Without m4 only three live members would be left.
    expect(links.spare('m4')).toBe(false)
    connected.push('m6')
    expect(links.spare('m4')).toBe(true)
    expect(LINKS).toBe(4)
  })

  it('open at once when config is written here', () => {
    const { links, dialled } = keeper()
    links.arrived()
    links.wake()
    expect(new Set(dialled).size).toBe(LINKS)
  })
})
