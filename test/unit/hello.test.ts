// Hellos on real UDP sockets on 127.0.0.1: a joiner learns who listens at its contact's address
// without a connection; a question that names nobody is taken on the hello channel only, an
// answer nobody asked for is dropped, and a port where nothing listens is told at once.
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { DatagramSocket, HELLO_CHANNEL, type UdpAddress } from '../../src/net/datagram.js'
import { Hellos } from '../../src/net/hello.js'
import { boundPeer } from './datagram-peer.js'

interface Agent { id: string, socket: DatagramSocket, hellos: Hellos, got: number[], refused: string[] }

const open: DatagramSocket[] = []
afterEach(() => { for (const s of open.splice(0)) s.close() })

async function agent (port = 0): Promise<Agent> {
  const { id, socket, refused } = await boundPeer({}, port)
  open.push(socket)
  const hellos = new Hellos(socket)
  const got: number[] = []
  socket.listen((channel, from, payload, source) => {
    got.push(channel)
    if (channel === HELLO_CHANNEL) hellos.receive(from, payload, source)
  })
  return { id, socket, hellos, got, refused }
}

const addr = (a: Agent): UdpAddress => a.socket.address as UdpAddress

describe('hellos', () => {
  it('tell the asker the peer id and address of the agent at an address', async () => {
    const [joiner, contact] = [await agent(), await agent()]
    const got = await joiner.hellos.ask(addr(contact), AbortSignal.timeout(10_000))
    expect(got).toEqual({ peer: contact.id, address: addr(contact) })
  })

  it('end at once when nothing listens on the port (an agent with --no-udp, or none yet)', async () => {
    const joiner = await agent()
    const closed = await freeUdpPort()
    const started = Date.now()
    expect(await joiner.hellos.ask({ host: '127.0.0.1', port: closed }, AbortSignal.timeout(20_000))).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('ask again while waiting, and give up when nobody answers before the signal', async () => {
    const joiner = await agent()
    const silent = await silentSocket()
    expect(await joiner.hellos.ask(silent.address, AbortSignal.timeout(1200))).toBeUndefined()
    // The first question twice (see Hellos.ask), then again at 250, 750 ms.
    expect(silent.received()).toBeGreaterThanOrEqual(3)
    silent.close()
  })

  it('take a datagram that names nobody only on the hello channel', async () => {
    const [a, b] = [await agent(), await agent()]
    expect(a.socket.send('', addr(b), 0, Buffer.from('membership for whoever is there'))).toBe(true)
    const deadline = Date.now() + 10_000
    while (b.refused.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
    expect(b.refused).toEqual(['bad'])
    expect(b.got).toEqual([])
  })

  it('drop an answer nobody asked for', async () => {
    const [a, stray] = [await agent(), await agent()]
    const silent = await silentSocket()
    const stop = new AbortController()
    let settled = false
    const asked = a.hellos.ask(silent.address, stop.signal).then(g => { settled = true; return g })
    // An answer with a nonce a never sent: a replay, or a stray.
    stray.socket.send(a.id, addr(a), HELLO_CHANNEL, Buffer.from([2, 1, 2, 3, 4, 5, 6, 7, 8]))
    const deadline = Date.now() + 10_000
    while (!a.got.includes(HELLO_CHANNEL) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
    expect(a.got).toEqual([HELLO_CHANNEL])
    expect(settled).toBe(false)
    stop.abort()
    expect(await asked).toBeUndefined()
    silent.close()
  })
})

/** A port nothing is bound to (bound once, then closed). */
async function freeUdpPort (): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', resolve))
  const port = s.address().port
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}

/** A bound UDP socket that reads and never answers: UDP dropped on the way, as the asker sees it. */
async function silentSocket (): Promise<{ address: UdpAddress, received: () => number, close: () => void }> {
  const s = createSocket('udp4')
  let n = 0
  s.on('message', () => { n++ })
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', resolve))
  return { address: { host: '127.0.0.1', port: s.address().port }, received: () => n, close: () => s.close() }
}
