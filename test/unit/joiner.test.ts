// The joiner with stand-in paths (fake timers): a contact that answers hellos but is slow to
// send its state (a loaded contact: every agent of a host that booted joined it at once) is
// asked for that state again later each time, not every second; one that stops answering is
// retried every second at first, like Serf's retry-join.
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Joiner } from '../../src/agent/joiner.js'

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

const addr = multiaddr('/ip4/127.0.0.1/tcp/7946')

describe('joiner', () => {
  it('asks a contact that answers but is not yet a member here for its state again at 1, 2, 4 and then every 8 s', async () => {
    const exchanges: number[] = []
    const t0 = Date.now()
    const joiner = new Joiner('self', {
      locate: async () => ({ peer: 'contact', addrs: ['/ip4/127.0.0.1/udp/7946'] }),
      dial: async () => { throw new Error('no dial expected') },
      exchange: () => { exchanges.push(Math.round((Date.now() - t0) / 500) * 500) },
      holds: () => false
    }, [addr], () => {})
    joiner.start()
    await vi.advanceTimersByTimeAsync(40_000)
    joiner.stop()
    expect(exchanges).toEqual([0, 1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000])
  })

  it('stops asking once the contact holds', async () => {
    let exchanges = 0
    const joiner = new Joiner('self', {
      locate: async () => ({ peer: 'contact', addrs: [] }),
      dial: async () => { throw new Error('no dial expected') },
      exchange: () => { exchanges++ },
      holds: () => exchanges >= 2
    }, [addr], () => {})
    joiner.start()
    await vi.advanceTimersByTimeAsync(30_000)
    joiner.stop()
    expect(exchanges).toBe(2)
  })
})
