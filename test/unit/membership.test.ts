// The membership component's timer and stall handling, driven by a fake clock whose timers run
// only when the test says so, and a transport that records what is sent.
import { describe, expect, it } from 'vitest'
import type { Heartbeat } from '../../src/core/heartbeat.js'
import type { RecordCodec } from '../../src/core/swim.js'
import { SWIM_DEFAULTS } from '../../src/core/swim-options.js'
import { Membership } from '../../src/agent/membership.js'
import { decode, encode } from '../../src/net/codec.js'
import type { Clock, Transport, TransportEvents } from '../../src/net/transport.js'
import { heartbeat, seeded } from './fixtures.js'

const fakeRecords: RecordCodec = {
  decode: body => decode(body) as Heartbeat,
  verify: (id, _body, sig) => Buffer.from(sig).toString() === id,
  sign: rec => ({ body: encode(rec), sig: Buffer.from(rec.id) }),
  keep: signed => ({ body: new Uint8Array(signed.body), sig: new Uint8Array(signed.sig) })
}

class FakeClock implements Clock {
  t = 1_000_000
  timers: Array<{ at: number, fn: () => void, live: boolean }> = []
  now = (): number => this.t
  wall = (): number => this.t
  timer = (ms: number, fn: () => void): { cancel: () => void } => {
    const t = { at: this.t + ms, fn, live: true }
    this.timers.push(t)
    return { cancel: () => { t.live = false } }
  }

  /** Run the timers due by now, in order. */
  fire (): void {
    for (const t of this.timers.filter(x => x.live && x.at <= this.t).sort((a, b) => a.at - b.at)) {
      t.live = false
      t.fn()
    }
  }
}

class FakeTransport implements Transport {
  readonly self = 'a'
  readonly handlers: { [E in keyof TransportEvents]?: TransportEvents[E] } = {}
  addresses = (): string[] => ['/memory/a']
  send = (): void => {}
  connected = (): boolean => true
  dial = async (): Promise<string> => 'b'
  publish = (): void => {}
  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void { this.handlers[event] = handler as never }
  off<E extends keyof TransportEvents>(event: E): void { this.handlers[event] = undefined }
}

describe('Membership timers', () => {
  it('counts a stall once: messages handled after it, before the overdue timer runs, are no new stall', () => {
    const clock = new FakeClock()
    const transport = new FakeTransport()
    const m = new Membership(heartbeat('a'), SWIM_DEFAULTS, { transport, clock, rng: seeded(1), records: fakeRecords })
    const stalls: number[] = []
    m.on('note', (_level, what, fields) => { if (what.startsWith('timers ran late')) stalls.push(fields.lateMs as number) })
    m.start()
    clock.fire()
    // The process stops for 5 s; on resuming, messages are read before the overdue timer runs.
    clock.t += 5000
    const message = encode({ t: 'gossip', b: [] })
    transport.handlers.message?.('swim', 'b', message)
    expect(stalls).toHaveLength(1)
    expect(stalls[0]).toBeGreaterThan(4000)
    for (let i = 0; i < 5; i++) {
      clock.t += 100
      transport.handlers.message?.('swim', 'b', message)
    }
    clock.fire()
    expect(stalls).toHaveLength(1)
    m.stop()
  })
})
