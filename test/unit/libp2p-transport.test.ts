// Where the libp2p adapter sends a membership message: as a datagram when it knows where the
// peer takes them, else over a stream (a dial). Real UDP sockets on 127.0.0.1; the libp2p host
// is a stand-in that only counts the streams asked for, since none should be.
import { afterEach, describe, expect, it } from 'vitest'
import type { Host } from '../../src/net/host.js'
import { Libp2pTransport } from '../../src/net/libp2p-transport.js'
import type { DatagramSocket, UdpAddress } from '../../src/net/datagram.js'
import { boundPeer } from './datagram-peer.js'

const open: DatagramSocket[] = []
afterEach(() => { for (const s of open.splice(0)) s.close() })

const until = async (f: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (!f()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

async function agent (): Promise<{ id: string, socket: DatagramSocket, address: UdpAddress, transport: Libp2pTransport, streams: string[], got: string[] }> {
  const { id, socket } = await boundPeer()
  open.push(socket)
  const address = socket.address as UdpAddress
  const streams: string[] = []
  const host = {
    peerId: id,
    addresses: () => [],
    isConnected: () => false,
    openMessages: async (peer: string) => { streams.push(peer); throw new Error('no connection in this test') }
  } as unknown as Host
  const transport = new Libp2pTransport(host, { socket, advertise: address })
  socket.listen((channel, from, data, source) => transport.receiveDatagram(channel, from, data, source))
  const got: string[] = []
  transport.on('message', (_channel, from, data) => got.push(`${from === id ? 'self' : from}:${Buffer.from(data).toString()}`))
  return { id, socket, address, transport, streams, got }
}

describe('libp2p transport', () => {
  it('answers a datagram from a peer it has no record of where it came from, without a dial', async () => {
    const [a, b] = [await agent(), await agent()]
    // b pings a, which has not got b's record (its addresses) yet: a mass start does this.
    expect(b.socket.send(a.id, a.address, 0, Buffer.from('ping'))).toBe(true)
    await until(() => a.got.length === 1)
    a.transport.send('swim', b.id, Buffer.from('ack'))
    await until(() => b.got.length === 1)
    expect(b.got).toEqual([`${a.id}:ack`])
    expect(a.streams).toEqual([])
  })

  it('takes a stream for a peer it has neither a record nor a datagram of', async () => {
    const [a, b] = [await agent(), await agent()]
    a.transport.send('swim', b.id, Buffer.from('ping'))
    await until(() => a.streams.length === 1)
    expect(a.streams).toEqual([b.id])
  })
})
