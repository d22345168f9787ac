// The libp2p adapter of the transport seam. A message that fits travels as a datagram to a
// peer that advertises a UDP address (datagram.ts), unless the sender asks for a stream; the
// rest travel as length-prefixed frames on one long-lived stream per peer and direction
// (`/murmur/C/msg/1`): opening a stream per message would cost a yamux round trip and a
// protocol negotiation each time, a stream kept open costs nothing while idle. Publications
// are gossipsub messages on the cluster's config topic.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_MESSAGE_BYTES } from './codec.js'
import { HELLO_CHANNEL, type DatagramSocket, type UdpAddress } from './datagram.js'
import { Hellos } from './hello.js'
import type { Host } from './host.js'
import type { Channel, Transport, TransportEvents } from './transport.js'

/** Frame tag per channel. ONLY APPEND TO THIS LIST. */
const CHANNELS: readonly Channel[] = ['swim', 'sync']

/** Peers whose UDP address is remembered (the member table's default cap). */
const MAX_UDP_PEERS = 10_000

/** Frames waiting for a stream to open, per peer; beyond this the oldest are dropped (best effort). */
const MAX_QUEUED = 256

/**
 * A connection this agent dialled only to send a message (a push-pull too big for datagrams,
 * a stream ping) is closed once nothing was sent on it for this long, if it is spare (see
 * `spare`), as memberlist closes its TCP push-pull: otherwise the contact of a cluster whose
 * state takes a stream stays connected to every agent that ever joined through it.
 */
const LINGER_MS = 10_000

interface Outbound {
  queue: Uint8Array[]
  writing: boolean
  stream?: ReturnType<typeof lpStream>
  raw?: Stream
  /** The stream's connection was opened for it (no connection to the peer before). */
  dialled?: boolean
  linger?: NodeJS.Timeout
}

type Handlers = { [E in keyof TransportEvents]: Set<TransportEvents[E]> }

export class Libp2pTransport implements Transport {
  readonly counters = { framesOut: 0, framesIn: 0, bytesOut: 0, bytesIn: 0, dropped: 0 }
  private readonly out = new Map<string, Outbound>()
  private readonly handlers: Handlers = { message: new Set(), publication: new Set(), up: new Set(), down: new Set(), unreachable: new Set() }
  private stopped = false
  /** UDP addresses peers advertised (their records' `/udp/` address), by peer id. */
  private readonly udp = new Map<string, UdpAddress>()

  /**
   * The addresses a member announced (set by the agent from its member table): a reply or a
   * digest sent without addresses still finds the peer's UDP address, instead of opening a
   * connection to it.
   */
  addressesOf: (peer: string) => readonly string[] = () => []

  /**
   * Whether the connection to `peer` may be closed: the agent has more than the links it wants
   * without it (set by the agent from its Links).
   */
  spare: (peer: string) => boolean = () => false

  /** Peers whose connections this agent is closing itself (not a hint that they are gone). */
  private readonly closing = new Set<string>()

  private readonly hellos: Hellos | undefined

  /** `datagrams`: the bound UDP socket and the address this agent advertises for it. */
  constructor (private readonly host: Host, private readonly datagrams?: { socket: DatagramSocket, advertise: UdpAddress }) {
    this.hellos = datagrams === undefined ? undefined : new Hellos(datagrams.socket)
  }

  get self (): string { return this.host.peerId }

  addresses (): string[] {
    const a = this.datagrams?.advertise
    return a === undefined ? this.host.addresses() : [...this.host.addresses(), udpMultiaddr(a)]
  }

  /** A datagram arrived (see datagram.ts): deliver it like a framed message. */
  receiveDatagram (channel: number, from: string, data: Uint8Array, source: UdpAddress): void {
    if (channel === HELLO_CHANNEL) {
      if (!this.stopped) this.hellos?.receive(from, data, source)
      return
    }
    const c = CHANNELS[channel]
    if (c === undefined || this.stopped) return
    // The answer goes back where the datagram came from while nothing better is known, as
    // memberlist acks to a packet's source: in a mass start, members ping and sync with
    // agents that have not yet got their records, and without an address those answers took
    // a stream, a dial to nowhere, and the pinger suspected a live member.
    if (!this.udp.has(from)) this.rememberUdp(from, source)
    this.counters.framesIn++
    this.counters.bytesIn += data.byteLength
    for (const h of this.handlers.message) h(c, from, data)
  }

  async start (): Promise<void> {
    this.host.on('message', (topic, from, data) => { for (const h of this.handlers.publication) h(topic, from, data) })
    this.host.on('open', (peer, outbound) => { for (const h of this.handlers.up) h(peer, outbound) })
    this.host.on('disconnect', peer => {
      this.closeOutbound(peer)
      if (this.closing.delete(peer)) return
      for (const h of this.handlers.down) h(peer)
    })
    await this.host.handleMessages((stream, peer) => { this.readLoop(stream, peer).catch(() => {}) })
  }

  stop (): void {
    this.stopped = true
    this.datagrams?.socket.close()
    this.closing.clear()
    for (const peer of [...this.out.keys()]) this.closeOutbound(peer)
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    (this.handlers[event] as Set<TransportEvents[E]>).add(handler)
  }

  off<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    (this.handlers[event] as Set<TransportEvents[E]>).delete(handler)
  }

  send (channel: Channel, to: string, data: Uint8Array, addrs: readonly string[] = [], mode?: 'stream' | 'probe'): void {
    if (this.stopped || to === this.self) return
    if (mode !== 'stream' && this.datagrams !== undefined) {
      const addr = this.udpAddress(to, addrs.length > 0 ? addrs : this.addressesOf(to))
      const refused = mode === 'probe' ? () => { if (!this.stopped) for (const h of this.handlers.unreachable) h(to) } : undefined
      if (addr !== undefined && this.datagrams.socket.send(to, addr, CHANNELS.indexOf(channel), data, refused)) {
        this.counters.framesOut++
        this.counters.bytesOut += data.byteLength
        return
      }
    }
    const frame = new Uint8Array(data.byteLength + 1)
    frame[0] = CHANNELS.indexOf(channel)
    frame.set(data, 1)
    let o = this.out.get(to)
    if (o === undefined) {
      o = { queue: [], writing: false }
      this.out.set(to, o)
    }
    o.queue.push(frame)
    if (o.queue.length > MAX_QUEUED) { o.queue.shift(); this.counters.dropped++ }
    if (!o.writing) this.flush(to, o, addrs).catch(() => {})
  }

  /** Whether a message to `peer` needs no dial first: a connection is open, or it takes datagrams. */
  connected (peer: string): boolean {
    return this.udp.has(peer) || this.host.isConnected(peer)
  }

  async dial (addr: string, signal?: AbortSignal): Promise<string> {
    return await this.host.dial(multiaddr(addr), signal)
  }

  /** Whether `locate` can ask (datagrams are on). */
  get locates (): boolean { return this.hellos !== undefined }

  /**
   * Who takes datagrams at the UDP twin of a TCP address (an agent's listen port serves both):
   * its peer id and the UDP multiaddr it answered from, without a connection (see hello.ts).
   * Undefined when nobody answered before `signal` aborted, or datagrams are off here.
   */
  async locate (addr: Multiaddr, signal: AbortSignal): Promise<{ peer: string, addrs: string[] } | undefined> {
    const target = tcpTarget(addr)
    if (this.hellos === undefined || target === undefined) return undefined
    const got = await this.hellos.ask(target, signal)
    if (got === undefined) return undefined
    return { peer: got.peer, addrs: [udpMultiaddr(got.address)] }
  }

  publish (topic: string, data: Uint8Array): void {
    this.host.publish(topic, data).catch(() => {})
  }

  /**
   * A peer found by mDNS did not answer datagrams at the UDP twin of its address (it runs
   * --no-udp): send it nothing more by datagram until it advertises a UDP address.
   */
  forgetUdp (peer: string): void {
    this.udp.delete(peer)
  }

  /**
   * The UDP address in `addrs` (remembered for sends without addresses), or the one
   * remembered; none when `addrs` are given without one (the peer's record: an agent with
   * --no-udp advertises none, whatever was tried at its UDP twin before).
   */
  private udpAddress (peer: string, addrs: readonly string[]): UdpAddress | undefined {
    for (const a of addrs) {
      const m = UDP_MULTIADDR.exec(a)
      if (m === null) continue
      return this.rememberUdp(peer, { host: m[2], port: Number(m[3]) })
    }
    if (addrs.length === 0) return this.udp.get(peer)
    this.udp.delete(peer)
    return undefined
  }

  private rememberUdp (peer: string, addr: UdpAddress): UdpAddress {
    // Bounded like the member table: ids of members long gone are dropped wholesale.
    if (this.udp.size >= MAX_UDP_PEERS) this.udp.clear()
    this.udp.set(peer, addr)
    return addr
  }

  private async flush (peer: string, o: Outbound, addrs: readonly string[]): Promise<void> {
    o.writing = true
    try {
      while (o.queue.length > 0 && !this.stopped) {
        if (o.stream === undefined) {
          o.dialled = !this.host.isConnected(peer)
          o.raw = await this.host.openMessages(peer, addrs, AbortSignal.timeout(3000))
          o.stream = lpStream(o.raw, { maxDataLength: MAX_MESSAGE_BYTES })
        }
        const frame = o.queue.shift() as Uint8Array
        await o.stream.write(frame, { signal: AbortSignal.timeout(5000) })
        this.counters.framesOut++
        this.counters.bytesOut += frame.byteLength
      }
      if (o.dialled === true && !this.stopped) this.linger(peer, o)
    } catch {
      // The peer is unreachable or the stream broke: what was queued is lost, like datagrams.
      this.counters.dropped += o.queue.length
      o.queue.length = 0
      o.raw?.abort(new Error('send failed'))
      o.stream = undefined
      o.raw = undefined
      if (!this.stopped) for (const h of this.handlers.unreachable) h(peer)
    } finally {
      o.writing = false
    }
  }

  private closeOutbound (peer: string): void {
    const o = this.out.get(peer)
    if (o === undefined) return
    this.out.delete(peer)
    clearTimeout(o.linger)
    o.raw?.abort(new Error('peer gone'))
  }

  /** Close the connection `o` dialled once it has been idle for LINGER_MS, if it is spare then. */
  private linger (peer: string, o: Outbound): void {
    clearTimeout(o.linger)
    o.linger = setTimeout(() => {
      if (this.stopped || o.writing || o.queue.length > 0 || this.out.get(peer) !== o || !this.spare(peer)) return
      this.closeOutbound(peer)
      this.closing.add(peer)
      // The disconnect comes while hanging up; should none come (the connection had closed
      // already), the mark must not swallow a later, real one.
      this.host.hangUp(peer).catch(() => {}).finally(() => { setTimeout(() => this.closing.delete(peer), 1000).unref() })
    }, LINGER_MS)
    o.linger.unref()
  }

  private async readLoop (stream: Stream, peer: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    for (;;) {
      const buf = (await lp.read()).subarray()
      this.counters.framesIn++
      this.counters.bytesIn += buf.byteLength
      const channel = CHANNELS[buf[0]]
      if (channel === undefined) continue
      const data = buf.subarray(1)
      for (const h of this.handlers.message) h(channel, peer, data)
    }
  }
}


/** `/ip4/HOST/udp/PORT` or `/ip6/HOST/udp/PORT`: where an agent takes membership datagrams. */
const UDP_MULTIADDR = /^\/(ip4|ip6)\/([^/]+)\/udp\/(\d{1,5})$/

/**
 * Where the agents at `addrs` (TCP multiaddrs, as mDNS gives them) take datagrams: the same
 * hosts and ports over UDP, other hosts' addresses before loopback ones (an agent listening on
 * every interface lists 127.0.0.1 too, which is this host from here).
 */
export function udpTwins (addrs: readonly Multiaddr[]): string[] {
  const twins = addrs.flatMap(a => { const t = tcpTarget(a); return t === undefined ? [] : [udpMultiaddr(t)] })
  const loop = (a: string): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a)
  return [...twins.filter(a => !loop(a)), ...twins.filter(loop)]
}

/** HOST and PORT of `/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/p2p/ID]`; the dgram socket resolves names. */
function tcpTarget (addr: Multiaddr): UdpAddress | undefined {
  const [host, tcp] = addr.getComponents()
  if (host === undefined || tcp?.name !== 'tcp' || host.value === undefined || tcp.value === undefined) return undefined
  if (!['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(host.name)) return undefined
  return { host: host.value, port: Number(tcp.value) }
}

function udpMultiaddr (a: UdpAddress): string {
  return `/${a.host.includes(':') ? 'ip6' : 'ip4'}/${a.host}/udp/${a.port}`
}
