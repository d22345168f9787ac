// Config anti-entropy between two replicas over the simulator's in-memory network: what a peer
// sends is checked before it is applied (stamps in range, entries only in the buckets the
// exchange named, messages that decode), and big maps travel in messages under the size limit.
import { describe, expect, it } from 'vitest'
import { AntiEntropy } from '../../src/agent/anti-entropy.js'
import { ConfigReplica } from '../../src/agent/config-replica.js'
import { bucketOf, type Entry } from '../../src/core/lww.js'
import { DEFAULT_QUOTA } from '../../src/core/quota.js'
import { decode, encode } from '../../src/net/codec.js'
import { MemoryNetwork, type MemoryNode } from '../../src/net/memory-transport.js'
import { wireEntry } from '../../src/net/wire.js'
import { entry } from './fixtures.js'

const T = 1_700_000_000_000

interface Side { node: MemoryNode, replica: ConfigReplica, ae: AntiEntropy, garbage: string[], rounds: () => number }

function side (net: MemoryNetwork, id: string, peer: () => string, intervalMs = 3_600_000): Side {
  const node = net.add(id, `/mem/${id}`)
  const replica = new ConfigReplica(id, node.clock.wall, 60_000, DEFAULT_QUOTA, undefined, { changed: () => {}, drift: () => {}, persistFailed: () => {}, refused: () => {} })
  const garbage: string[] = []
  let rounds = 0
  const ae = new AntiEntropy({
    transport: node,
    clock: node.clock,
    rng: net.rng,
    replica,
    topic: 'config',
    randomPeer: () => { rounds++; return [peer(), []] },
    garbage: p => garbage.push(p)
  }, intervalMs)
  ae.start()
  return { node, replica, ae, garbage, rounds: () => rounds }
}

async function pair (intervalMs?: number): Promise<{ net: MemoryNetwork, a: Side, b: Side }> {
  const net = new MemoryNetwork({ seed: 1 })
  const a = side(net, 'a', () => 'b', intervalMs)
  const b = side(net, 'b', () => 'a', intervalMs)
  return { net, a, b }
}

/** Settle everything in flight: virtual time runs on, and the replicas' async applies (no disk: microtasks only) finish between runs. */
async function settle (net: MemoryNetwork): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await net.run(net.now + 1000)
    await new Promise(resolve => setImmediate(resolve))
  }
}

describe('config anti-entropy', () => {
  it('sends config entries only over streams (encrypted), digests and empty replies as whatever the transport picks', async () => {
    const { net, a, b } = await pair()
    const sent: Array<{ t: unknown, entries: number, mode: unknown }> = []
    for (const s of [a, b]) {
      const send = s.node.send.bind(s.node)
      s.node.send = (channel, to, data, addrs, mode) => {
        const m = decode(data) as { t?: unknown, e?: unknown[] }
        sent.push({ t: m.t, entries: Array.isArray(m.e) ? m.e.length : 0, mode })
        send(channel, to, data, addrs, mode)
      }
    }
    await a.replica.applyRemote([entry('secret/a', T, 1, 'a')])
    await b.replica.applyRemote([entry('secret/b', T, 1, 'b')])
    a.ae.syncWith('b')
    await settle(net)
    expect(a.replica.map.get('secret/b')).toBeDefined()
    expect(b.replica.map.get('secret/a')).toBeDefined()
    expect(sent.filter(m => m.entries > 0).length).toBeGreaterThan(0)
    for (const m of sent) expect(m.mode).toBe(m.entries > 0 ? 'stream' : undefined)
    expect(sent.some(m => m.t === 'cdig')).toBe(true)
  })

  it('converges both ways, and drops and counts entries with an unsafe counter or a wall past year 9999', async () => {
    const { net, a, b } = await pair()
    const good = entry('good', T, 1, 'peer')
    await b.replica.applyRemote([good])
    await a.replica.applyRemote([entry('mine', T, 1, 'a')])
    // What a peer with a broken clock could hold; restore() trusts the disk, so plant it there.
    const bad: Entry[] = [entry('unsafe', T, 2 ** 53 - 1, 'peer'), entry('far', 9e15, 0, 'peer')]
    for (const e of bad) b.replica.map.apply(e)
    a.ae.syncWith('b')
    await settle(net)
    expect(a.replica.get('good')).toEqual(good)
    expect(b.replica.get('mine')?.value).toEqual(a.replica.get('mine')?.value)
    expect(a.replica.get('unsafe')).toBeUndefined()
    expect(a.replica.get('far')).toBeUndefined()
    expect(a.ae.counters.configRejected).toBe(2)
    expect(a.garbage).toEqual([])
  })

  it('carries 3,000 entries of 10 KiB, more than fits one message, to a late joiner', async () => {
    const { net, a, b } = await pair()
    const big = 'x'.repeat(10_000)
    await b.replica.applyRemote(Array.from({ length: 3000 }, (_, i) => entry(`k${i}`, T, i, 'peer', big)))
    a.ae.syncWith('b')
    await settle(net)
    expect(a.replica.map.liveSize).toBe(3000)
    expect(a.garbage).toEqual([])
  })

  it('reports a peer that sends entries outside the buckets of the exchange, and applies none of them', async () => {
    const { net, a, b } = await pair()
    await a.replica.applyRemote([entry('asked', T, 1, 'a')])
    const asked = bucketOf('asked')
    let stray = 0
    while (bucketOf(`stray${stray}`) === asked) stray++
    // b answers a digest naming only the bucket of 'asked', but slips in another key.
    b.ae.stop()
    b.node.send('sync', 'a', encode({ t: 'cdif', k: [asked], e: [wireEntry(entry(`stray${stray}`, T, 1, 'evil'))] }))
    await settle(net)
    expect(a.replica.get(`stray${stray}`)).toBeUndefined()
    expect(a.garbage).toEqual(['b'])
  })

  it('backs off while rounds find the maps equal, and rounds quickly again after a write or a difference', async () => {
    const { net, a, b } = await pair(1000)
    await settle(net)
    const idleFrom = a.rounds()
    await net.run(net.now + 60_000)
    // Without backoff, 60 rounds; backed off to 3 s, about 20.
    expect(a.rounds() - idleFrom).toBeLessThanOrEqual(25)
    // A delta lost on its way (planted at b, never published) is still found by a round.
    const lost = entry('lost', T, 1, 'b')
    b.replica.map.apply(lost)
    await net.run(net.now + 4000)
    await settle(net)
    expect(a.replica.get('lost')).toEqual(lost)
    // A local write (published) brings the next round within the base period.
    await net.run(net.now + 20_000)
    const before = a.rounds()
    a.ae.publish([await a.replica.set('mine', 1)])
    await net.run(net.now + 1300)
    expect(a.rounds()).toBeGreaterThan(before)
    a.ae.stop()
    b.ae.stop()
  })

  it('reports a peer whose sync message does not decode', async () => {
    const { net, a, b } = await pair()
    b.ae.stop()
    b.node.send('sync', 'a', new Uint8Array([0xc1, 0xc1]))
    await settle(net)
    expect(a.garbage).toEqual(['b'])
    expect(a.ae.counters.garbage).toBe(1)
  })
})
