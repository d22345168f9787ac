// Shared builders for the unit tests: valid heartbeats, members, entries and a seeded PRNG.
import type { Heartbeat } from '../../src/core/heartbeat.js'
import type { Member, MemberStatus } from '../../src/core/members.js'
import type { ServiceRecord } from '../../src/core/service.js'
import type { Entry } from '../../src/core/lww.js'

/** Deterministic PRNG (mulberry32): returns floats in [0, 1). */
export { seededRng as seeded } from '../../src/net/transport.js'

export function service (over: Partial<ServiceRecord> & { name: string }): ServiceRecord {
  return {
    id: over.name,
    address: '10.0.0.1',
    port: 8080,
    tags: [],
    meta: {},
    weight: 1,
    health: 'passing',
    output: '',
    since: 0,
    ...over
  }
}

/** A valid heartbeat (isHeartbeat accepts it) for node `id`; override any field. */
export function heartbeat (id: string, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    v: 1,
    id,
    name: `node-${id}`,
    generation: 1,
    counter: 1,
    status: 'alive',
    address: '10.0.0.1',
    addrs: ['/ip4/10.0.0.1/tcp/4001'],
    services: [],
    metrics: { cpu: 0.1, rss: 50e6, memFree: 1e9, memTotal: 4e9, load1: 0.2, netTx: 1000, netRx: 2000 },
    sentAt: 1_700_000_000_000,
    ...over
  }
}

export function member (hb: Heartbeat, status: MemberStatus = 'alive'): Member {
  return { hb, status, lastSeen: 0, since: 0 }
}

export function entry (key: string, wall: number, logical = 0, origin = 'n1', value: unknown = `${key}@${wall}.${logical}.${origin}`): Entry {
  return { key, value, deleted: false, hlc: { wall, logical }, origin }
}

export function tombstone (key: string, wall: number, logical = 0, origin = 'n1'): Entry {
  return { key, deleted: true, hlc: { wall, logical }, origin }
}
