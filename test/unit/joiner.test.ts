// The joiner with stand-in paths (fake timers): a contact that answers hellos but is slow to
// send its state (a loaded contact: every agent of a host that booted joined it at once) is
// asked for that state again later each time, not every second; one that does not answer is
// retried every 250 ms at first while this agent is alone, then every second, like Serf's
// retry-join; one lost while other members keep
// this agent joined is reached again at a random moment, not by every joiner at once.
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Joiner, type JoinPaths } from '../../src/agent/joiner.js'

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

const addr = multiaddr('/ip4/127.0.0.1/tcp/7946')

/** A joiner of `addr` whose contact answers hellos and never holds, unless `paths` says otherwise. */
function joiner (paths: Partial<JoinPaths>, rng?: () => number): Joiner {
  return new Joiner('self', {
    locate: async () => ({ peer: 'contact', addrs: [] }),
    dial: async () => { throw new Error('no dial expected') },
    exchange: () => {},
    holds: () => false,
    joined: () => false,
    ...paths
  }, [addr], () => {}, rng)
}

describe('joiner', () => {
  it('asks a contact that answers but is not yet a member here for its state again at 1, 2, 4 and then every 8 s', async () => {
    const exchanges: number[] = []
    const t0 = Date.now()
    const j = joiner({
      locate: async () => ({ peer: 'contact', addrs: ['/ip4/127.0.0.1/udp/7946'] }),
      exchange: () => { exchanges.push(Math.round((Date.now() - t0) / 500) * 500) }
    })
    j.start()
    await vi.advanceTimersByTimeAsync(40_000)
    j.stop()
    expect(exchanges).toEqual([0, 1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000])
  })

  it('stops asking once the contact holds', async () => {
    let exchanges = 0
    const j = joiner({ exchange: () => { exchanges++ }, holds: () => exchanges >= 2 })
    j.start()
    await vi.advanceTimersByTimeAsync(30_000)
    j.stop()
    expect(exchanges).toBe(2)
  })

  it('tries an address nobody answers at every 250 ms for 10 s while alone, then every second, then with backoff', async () => {
    for (const joined of [false, true]) {
      const tries: number[] = []
      const t0 = Date.now()
      const j = joiner({
        locate: async () => undefined,
        dial: async () => { tries.push(Date.now() - t0); throw new Error('connection refused') },
        exchange: () => { throw new Error('no exchange expected') },
        joined: () => joined
      })
      j.start()
      await vi.advanceTimersByTimeAsync(40_000)
      j.stop()
      const gaps = tries.slice(1).map((t, i) => t - tries[i])
      const after = (ms: number): number[] => gaps.filter((_g, i) => tries[i] >= ms && tries[i] < ms + 5000)
      if (!joined) {
        // A try is due 250 ms after the last failed one.
        expect(gaps.filter((_g, i) => tries[i] < 9500).every(g => g === 250)).toBe(true)
        expect(after(15_000).every(g => g === 1000)).toBe(true)
      } else {
        // Joined through other members: no hurry, a second apart from the start.
        expect(gaps.filter((_g, i) => tries[i] < 25_000).every(g => g === 1000)).toBe(true)
      }
      // Past 30 s of failing, the backoff doubles.
      expect(after(31_000).some(g => g >= 2000)).toBe(true)
    }
  })

  /** A joiner whose contact answered once; `state` says whether it holds and whether others keep this agent joined. */
  function joinedOnce (state: { holds: boolean, joined: boolean }, exchanges: number[], t0: number, rng?: () => number): Joiner {
    return joiner({
      exchange: () => { exchanges.push(Date.now() - t0); state.holds = true },
      holds: () => state.holds,
      joined: () => state.joined
    }, rng)
  }

  it('reaches a lost contact again at once when this agent has no other member', async () => {
    const exchanges: number[] = []
    const t0 = Date.now()
    const state = { holds: false, joined: false }
    const joiner = joinedOnce(state, exchanges, t0)
    joiner.start()
    await vi.advanceTimersByTimeAsync(5000)
    state.holds = false
    joiner.lost('contact')
    await vi.advanceTimersByTimeAsync(100)
    joiner.stop()
    expect(exchanges).toEqual([0, 5000])
  })

  it('while other members keep this agent joined, reaches a lost contact at a random moment within 5 s, and not if it is back by then', async () => {
    for (const back of [false, true]) {
      const exchanges: number[] = []
      const t0 = Date.now()
      const state = { holds: false, joined: true }
      const joiner = joinedOnce(state, exchanges, t0, () => 0.6)
      joiner.start()
      await vi.advanceTimersByTimeAsync(5000)
      state.holds = false
      joiner.lost('contact')
      await vi.advanceTimersByTimeAsync(2500)
      expect(exchanges).toEqual([0])
      // The contact refuted its failure meanwhile: it holds, and nothing is sent to it.
      if (back) state.holds = true
      await vi.advanceTimersByTimeAsync(10_000)
      joiner.stop()
      if (back) expect(exchanges).toEqual([0])
      else {
        expect(exchanges).toHaveLength(2)
        expect(exchanges[1] - 5000).toBeGreaterThanOrEqual(3000)
        expect(exchanges[1] - 5000).toBeLessThanOrEqual(3500)
      }
    }
  })
})
