// The simulator's wire: loss drops datagrams, but a message over a connection (the stream
// fallback probe, a message too big for a datagram, a publication) is sent again as TCP would,
// and arrives late instead of never. Modelled otherwise, the simulator took 5 % loss for lost
// probes over TCP and reported false suspicions the agent does not make.
import { describe, expect, it } from 'vitest'
import { MemoryNetwork } from '../../src/net/memory-transport.js'

/** Sends `count` messages a → b at 30 % loss; returns how many arrived and when. */
async function send (count: number, bytes: number, mode?: 'stream'): Promise<{ arrived: number[], tries: number }> {
  const net = new MemoryNetwork({ seed: 11, loss: 0.3 })
  const a = net.add('a', '/memory/a')
  const b = net.add('b', '/memory/b')
  const arrived: number[] = []
  b.on('message', () => { arrived.push(net.now) })
  for (let i = 0; i < count; i++) a.send('swim', 'b', new Uint8Array(bytes), [], mode)
  await net.run(60_000)
  return { arrived, tries: a.counters.msgsOut }
}

describe('MemoryNetwork loss', () => {
  it('drops datagrams at the loss rate', async () => {
    const { arrived, tries } = await send(1000, 100)
    expect(tries).toBe(1000)
    expect(arrived.length).toBeGreaterThan(600)
    expect(arrived.length).toBeLessThan(800)
  })

  it('delivers every message over a connection, the lost tries late and counted', async () => {
    for (const [bytes, mode] of [[100, 'stream'], [2000, undefined]] as const) {
      const { arrived, tries } = await send(1000, bytes, mode)
      expect(arrived.length).toBe(1000)
      expect(tries).toBeGreaterThan(1300)
      expect(arrived.filter(t => t >= 200).length).toBeGreaterThan(200)
    }
  })

  it('delivers nothing across a partition, over a connection either', async () => {
    const net = new MemoryNetwork({ seed: 12 })
    const a = net.add('a', '/memory/a')
    const b = net.add('b', '/memory/b')
    b.group = 1
    let got = 0
    b.on('message', () => { got++ })
    a.send('swim', 'b', new Uint8Array(10), [], 'stream')
    a.send('swim', 'b', new Uint8Array(2000))
    await net.run(60_000)
    expect(got).toBe(0)
  })

  it('a datagram to a crashed node costs its sender; a connection to it is refused before anything is sent', async () => {
    const net = new MemoryNetwork({ seed: 13 })
    const a = net.add('a', '/memory/a')
    const b = net.add('b', '/memory/b')
    let unreachable = 0
    a.on('unreachable', () => { unreachable++ })
    b.crash()
    a.send('swim', 'b', new Uint8Array(100))
    a.send('swim', 'b', new Uint8Array(100), [], 'stream')
    a.send('swim', 'b', new Uint8Array(2000))
    await net.run(1000)
    expect(a.counters).toMatchObject({ msgsOut: 1, bytesOut: 100 })
    expect(unreachable).toBe(3)
  })
})
