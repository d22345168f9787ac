// Membership datagrams on real UDP sockets on 127.0.0.1: what arrives is exactly what its
// sender sent to this agent (tagged under the pair's key, or signed when it names nobody);
// anything forged, tampered with, sealed with another cluster key, meant for another agent or
// from outside --allow is dropped and reported.
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { DatagramSocket, HELLO_CHANNEL, MAX_DATAGRAM_BYTES, type DatagramOptions } from '../../src/net/datagram.js'
import { MAC_BYTES } from '../../src/net/pair-keys.js'
import { boundPeer } from './datagram-peer.js'

interface Peer { id: string, socket: DatagramSocket, got: Array<[number, string, string]>, refused: string[] }

const open: DatagramSocket[] = []
afterEach(() => { for (const s of open.splice(0)) s.close() })

async function peer (extra: Partial<DatagramOptions> = {}, pairKeys = true): Promise<Peer> {
  const { id, socket, refused } = await boundPeer(extra, 0, pairKeys)
  open.push(socket)
  const got: Array<[number, string, string]> = []
  socket.listen((channel, from, payload) => got.push([channel, from, Buffer.from(payload).toString()]))
  return { id, socket, got, refused }
}

const until = async (f: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (!f()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const addr = (p: Peer): { host: string, port: number } => p.socket.address as { host: string, port: number }

describe('membership datagrams', () => {
  it('delivers what the sender signed, with its id and channel', async () => {
    const [a, b] = [await peer(), await peer()]
    expect(a.socket.send(b.id, addr(b), 0, Buffer.from('ping'))).toBe(true)
    await until(() => b.got.length === 1)
    expect(b.got[0]).toEqual([0, a.id, 'ping'])
  })

  it('drops a datagram meant for another agent, or tampered with', async () => {
    const [a, b, c] = [await peer(), await peer(), await peer()]
    // Sent to c's id at b's address: a replay or a stale address.
    a.socket.send(c.id, addr(b), 0, Buffer.from('x'))
    await until(() => b.refused.length === 1)
    // A copy with one payload byte flipped: the tag no longer matches.
    const raw = createSocket('udp4')
    const tap = createSocket('udp4')
    await new Promise<void>(resolve => tap.bind(0, '127.0.0.1', resolve))
    const captured = new Promise<Buffer>(resolve => tap.once('message', m => resolve(m)))
    a.socket.send(b.id, { host: '127.0.0.1', port: (tap.address()).port }, 0, Buffer.from('hello'))
    const bytes = Buffer.from(await captured)
    bytes[bytes.length - MAC_BYTES - 1] ^= 1
    raw.send(bytes, addr(b).port, '127.0.0.1')
    await until(() => b.refused.length === 2)
    raw.send(Buffer.from('garbage'), addr(b).port, '127.0.0.1')
    await until(() => b.refused.length === 3)
    raw.close(); tap.close()
    expect(b.got).toEqual([])
    expect(b.refused).toEqual(['bad', 'bad', 'bad'])
  })

  it('tags a datagram to a named agent with the pair key (16 bytes), signs a hello to nobody (64), and refuses one tagged by another agent in a member\'s name', async () => {
    const [a, b, c] = [await peer(), await peer(), await peer()]
    const tap = createSocket('udp4')
    await new Promise<void>(resolve => tap.bind(0, '127.0.0.1', resolve))
    const to = { host: '127.0.0.1', port: (tap.address()).port }
    const next = async (send: () => void): Promise<Buffer> => {
      const m = new Promise<Buffer>(resolve => tap.once('message', resolve))
      send()
      return Buffer.from(await m)
    }
    const header = (from: string, dest: string): number => 4 + from.length + dest.length
    const tagged = await next(() => a.socket.send(b.id, to, 0, Buffer.from('ping')))
    expect([tagged[0], tagged.length]).toEqual([2, header(a.id, b.id) + 4 + MAC_BYTES])
    const hello = await next(() => a.socket.send('', to, HELLO_CHANNEL, Buffer.from('who')))
    expect([hello[0], hello.length]).toEqual([1, header(a.id, '') + 3 + 64])
    // c writes a datagram to b in a's name: tagged under c's key with b, which b does not hold for a.
    const forged = await next(() => c.socket.send(b.id, to, 0, Buffer.from('ping')))
    Buffer.from(a.id).copy(forged, 3)
    tap.send(forged, addr(b).port, '127.0.0.1')
    // A tagged hello to nobody: there is no pair key for it.
    const anon = Buffer.from(hello.subarray(0, hello.length - 64 + MAC_BYTES))
    anon[0] = 2
    tap.send(anon, addr(b).port, '127.0.0.1')
    await until(() => b.refused.length === 2)
    expect(b.got).toEqual([])
    tap.close()
  })

  it('signs a datagram to an agent it has no pair key with, and the agent takes it', async () => {
    const [plain, b] = [await peer({}, false), await peer()]
    plain.socket.send(b.id, addr(b), 3, Buffer.from('signed'))
    await until(() => b.got.length === 1)
    expect(b.got[0]).toEqual([3, plain.id, 'signed'])
    expect(b.refused).toEqual([])
  })

  it('with a cluster key: sealed, and unreadable for an agent with another key or none', async () => {
    const psk = Buffer.from('k'.repeat(64))
    const [a, b, other, none] = [await peer({ psk }), await peer({ psk }), await peer({ psk: Buffer.from('z'.repeat(64)) }), await peer()]
    a.socket.send(b.id, addr(b), 1, Buffer.from('secret'))
    await until(() => b.got.length === 1)
    expect(b.got[0]).toEqual([1, a.id, 'secret'])
    a.socket.send(other.id, addr(other), 1, Buffer.from('secret'))
    a.socket.send(none.id, addr(none), 1, Buffer.from('secret'))
    none.socket.send(b.id, addr(b), 1, Buffer.from('unsealed'))
    await until(() => other.refused.length === 1 && none.refused.length === 1 && b.refused.length === 1)
    expect([other.got, none.got, b.got.length]).toEqual([[], [], 1])
  })

  it('drops datagrams from addresses outside --allow', async () => {
    const a = await peer()
    const b = await peer({ allow: ip => ip !== '127.0.0.1' })
    a.socket.send(b.id, addr(b), 0, Buffer.from('x'))
    await until(() => b.refused.length === 1)
    expect(b.refused).toEqual(['denied'])
    expect(b.got).toEqual([])
  })

  it('a watched datagram to a port nothing listens on reports the refusal (kill -9); one to a live peer arrives and does not', async () => {
    const a = await peer()
    const b = await peer()
    const gone = addr(b).port
    const c = await peer()
    b.socket.close() // the process is gone: its port answers ICMP port unreachable
    let refused = 0
    expect(a.socket.send(b.id, { host: '127.0.0.1', port: gone }, 0, Buffer.from('ping'), () => refused++)).toBe(true)
    await until(() => refused === 1)
    let wrongly = 0
    a.socket.send(c.id, addr(c), 0, Buffer.from('ping'), () => wrongly++)
    await until(() => c.got.length === 1)
    expect(c.got[0]).toEqual([0, a.id, 'ping'])
    // A refusal comes back within a round trip: once a second one to the closed port is back,
    // one for the live peer would have come too.
    a.socket.send(b.id, { host: '127.0.0.1', port: gone }, 0, Buffer.from('ping'), () => refused++)
    await until(() => refused === 2)
    expect(wrongly).toBe(0)
  })

  it('watched datagrams, their sockets reused in turn, report each refusal of their own and none for a live peer', async () => {
    const a = await peer()
    const b = await peer()
    const c = await peer()
    const gone = addr(b).port
    b.socket.close()
    let refused = 0
    let wrongly = 0
    for (let i = 1; i <= 6; i++) {
      a.socket.send(b.id, { host: '127.0.0.1', port: gone }, 0, Buffer.from('ping'), () => refused++)
      await until(() => refused === i)
      a.socket.send(c.id, addr(c), 0, Buffer.from(`live ${i}`), () => wrongly++)
      await until(() => c.got.length === i)
    }
    // A refusal comes back within a round trip: once one more to the closed port is back, any
    // for the live peer would have come too.
    a.socket.send(b.id, { host: '127.0.0.1', port: gone }, 0, Buffer.from('ping'), () => refused++)
    await until(() => refused === 7)
    expect(wrongly).toBe(0)
    expect(c.got.map(g => g[2])).toEqual(['live 1', 'live 2', 'live 3', 'live 4', 'live 5', 'live 6'])
  })

  it('refuses to send what does not fit in one datagram (the caller uses a stream)', async () => {
    const [a, b] = [await peer(), await peer()]
    expect(a.socket.send(b.id, addr(b), 0, new Uint8Array(MAX_DATAGRAM_BYTES))).toBe(false)
    expect(a.socket.send(b.id, addr(b), 0, new Uint8Array(1000))).toBe(true)
    await until(() => b.got.length === 1)
  })

  it('reports a port it cannot bind instead of throwing', async () => {
    const a = await peer()
    const again = new DatagramSocket({ self: 'x', crypto: { sign: () => new Uint8Array(64), verify: () => false, tag: () => undefined, check: () => false } })
    expect(await again.bind('127.0.0.1', addr(a).port)).toBe(false)
  })
})
