// The control round with a stand-in host: it reads the member table (O(N) objects a second on
// every agent) only when the round needs it: a rule to evaluate, a history sample (one per
// historyEveryMs), or a change of members or services for the arrival estimates.
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MemberMetrics } from '../../src/core/aggregate.js'
import { Controller, type ControlHost } from '../../src/agent/controller.js'

function host (): { host: ControlHost, reads: () => number, change: (alive: boolean) => void } {
  let reads = 0
  let servicesIndex = 1
  let alive = true
  const member = (): MemberMetrics => ({ memberId: 'm1', name: 'm1', generation: 0, alive, services: [{ id: 'web-1', name: 'web', tags: [] }], metrics: { lat: 5 }, at: Date.now() })
  return {
    host: {
      id: 'self',
      node: 'self',
      members: () => { reads++; return [member()] },
      servicesIndex: () => servicesIndex,
      get: () => undefined,
      list: () => [],
      set: async () => { throw new Error('no writes here') },
      del: async () => {},
      logger: () => {}
    },
    reads: () => reads,
    change: (to: boolean) => { alive = to; servicesIndex++ }
  }
}

describe('control round', () => {
  afterEach(() => { vi.useRealTimers() })

  it('reads the member table for a history sample every historyEveryMs and on a change of members, not every round', () => {
    const t0 = Date.UTC(2026, 0, 1)
    vi.useFakeTimers({ now: t0 })
    const h = host()
    const c = new Controller(h.host, { historyEveryMs: 10_000 })
    c.round(t0)
    expect(h.reads()).toBe(1) // the first sample and the first look at the instances
    for (let s = 1; s < 10; s++) c.round(t0 + s * 1000)
    expect(h.reads()).toBe(1)
    h.change(false)
    c.round(t0 + 9500)
    expect(h.reads()).toBe(2)
    c.round(t0 + 10_000)
    expect(h.reads()).toBe(3)
    vi.setSystemTime(t0 + 20_000)
    const arrivals = c.arrivalsOf('web')
    expect(arrivals.leaves).toBe(1) // the instance seen leaving when its member stopped being alive
  })
})
