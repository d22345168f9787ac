// The libp2p adapter: TCP + Noise + yamux + identify + gossipsub, optional mDNS. The agent sees
// only this class: publish/subscribe on the cluster's topics, connection events, and a stream
// protocol for anti-entropy.
import '../polyfill.js'
import { gossipsub, StrictSign, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { EventEmitter } from 'node:events'
import type { AddressCheck } from './allow.js'
import { MAX_MESSAGE_BYTES } from './codec.js'
import type { MdnsDiscovery, MdnsPacing } from './mdns-discovery.js'
import { fnv1a } from '../core/hash.js'
import { noiseCrypto } from './noise-crypto.js'
import { patchTcpWrites, patchYamuxWindowUpdates } from './stack-tuning.js'

/** A cheap content id for gossipsub's duplicate check (two FNV-1a hashes over the bytes). */
function fastMessageId (data: Uint8Array): string {
  const s = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1')
  return `${fnv1a(s).toString(36)}.${fnv1a(s, 0x01000193).toString(36)}.${data.byteLength}`
}

export interface HostOptions {
  privateKey: PrivateKey
  cluster: string
  listen: Multiaddr
  mdns: boolean
  /** mDNS query intervals while alone and, at most, once joined. @default 1 s, 60 s */
  mdnsPacing?: MdnsPacing
  /** Cluster key (pnet swarm key file bytes): only peers with the same key complete a connection. @default none */
  psk?: Uint8Array
  /** Peer addresses allowed; connections from or dials to others are refused. @default any */
  allow?: AddressCheck
  /** Whether to take (and relay) a gossip message from `author` on `topic`; false drops it. @default always */
  admit?: (topic: string, author: string) => boolean
  /** Called for each connection or dial refused by `allow`. */
  denied?: (addr: string) => void
  /** Called when mDNS cannot run (e.g. port 5353 taken). */
  mdnsWarn?: (message: string) => void
  /** Called when this agent dials an agent found by mDNS (at its answer, or after datagrams went unanswered; debug logs). */
  mdnsDial?: (peer: string) => void
  /**
   * An agent found by mDNS that this one should contact (see `found`): true when the caller
   * reaches it another way (membership datagrams), false to have it dialled. @default dial
   */
  mdnsReach?: (peer: string, addrs: Multiaddr[]) => boolean
  /** Agents this one already knows (listed in its mDNS queries, so they do not answer). @default connected peers */
  mdnsKnown?: () => Iterable<string>
}

export interface HostEvents {
  message: [topic: string, from: string, data: Uint8Array]
  /** A connection opened; `outbound` when we dialled it. */
  open: [peer: string, outbound: boolean]
  disconnect: [peer: string]
}

export type StreamHandler = (stream: Stream, peer: string) => void

export function topics (cluster: string): { config: string, messages: string } {
  return {
    config: `murmur/${cluster}/config/1`,
    /** Membership and anti-entropy messages (see libp2p-transport.ts). */
    messages: `/murmur/${cluster}/msg/1`
  }
}

type Node = Libp2p<{ pubsub: GossipSub, identify: unknown }>

/**
 * Bounds on what one gossipsub RPC may carry, checked while decoding, before anything is
 * allocated for it (the library's defaults allow 5,000 of each). A peer of this cluster
 * subscribes to two topics and sends a few control entries per topic per heartbeat; message id
 * lists keep the protocol's own caps, since an honest IHAVE may carry that many and an RPC over
 * any limit is dropped whole, messages included.
 */
const DECODE_LIMITS = {
  maxSubscriptions: 16,
  maxMessages: 1000,
  maxControlMessages: 64,
  maxIhaveMessageIDs: 5000,
  maxIwantMessageIDs: 5000,
  maxIdontwantMessageIDs: 512,
  maxPeerInfos: 16
}

/** The libp2p addresses among a member's advertised ones (its UDP address is for datagrams). */
function dialable (addrs: readonly string[]): Multiaddr[] {
  return addrs.flatMap(a => {
    if (a.includes('/udp/')) return []
    try { return [multiaddr(a)] } catch { return [] }
  })
}

/** The IP address of a multiaddr, if it has one. */
function ipOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
}

/** libp2p's connection gater for --allow: no dial to, and no connection from, elsewhere. */
function gater (allow: AddressCheck, denied?: (addr: string) => void): { denyDialMultiaddr: (ma: Multiaddr) => boolean, denyInboundConnection: (c: { remoteAddr: Multiaddr }) => boolean } {
  const deny = (ma: Multiaddr): boolean => {
    const ip = ipOf(ma)
    if (ip !== undefined && allow(ip)) return false
    denied?.(ma.toString())
    return true
  }
  return { denyDialMultiaddr: deny, denyInboundConnection: c => deny(c.remoteAddr) }
}

export class Host extends EventEmitter<HostEvents> {
  bytesIn = 0
  bytesOut = 0
  private discovery: MdnsDiscovery | undefined
  /** Peers found by mDNS that we are dialling (answers repeat; one dial at a time each). */
  private readonly dialing = new Set<string>()
  /** Told of each such dial (debug logs). */
  private onDial: ((peer: string) => void) | undefined
  private constructor (private readonly node: Node, readonly cluster: string) {
    super()
  }

  static async start (opts: HostOptions): Promise<Host> {
    const t = topics(opts.cluster)
    patchYamuxWindowUpdates()
    const node = await createLibp2p({
      privateKey: opts.privateKey,
      addresses: { listen: [opts.listen.toString()] },
      transports: [tcp()],
      connectionEncrypters: [noise({ crypto: noiseCrypto })],
      streamMuxers: [yamux()],
      // libp2p accepts 5 new connections a second per remote host and upgrades 10 at once by
      // default: agents that start together on one host (a test cluster, a container host
      // behind one address) were refused their join and retried seconds later, the last ones
      // joining 2-3 s late at N = 30. The bounds stay, at a cluster's scale.
      connectionManager: { maxConnections: 300, dialTimeout: 5000, inboundConnectionThreshold: 50, maxIncomingPendingConnections: 32 },
      // No libp2p ping of every connection every 10 s: membership probing is the failure
      // detector, and the monitor would also abort a connection whose ping is late on a busy
      // host, which the detector would then take for a hint that the peer is gone.
      connectionMonitor: { enabled: false },
      // The pre-shared key wraps the raw TCP stream before Noise: a peer without it is cut
      // off at the first bytes, before any libp2p protocol runs.
      ...(opts.psk !== undefined ? { connectionProtector: preSharedKey({ psk: opts.psk }) } : {}),
      ...(opts.allow !== undefined ? { connectionGater: gater(opts.allow, opts.denied) } : {}),
      services: {
        identify: identify(),
        pubsub: gossipsub({
          // Every message carries its author's signature (the library's default, stated here:
          // a config delta is accepted as its author's).
          globalSignaturePolicy: StrictSign,
          // Only this cluster's topics are tracked or relayed: a peer subscribing to any other
          // name costs nothing (GHSA-4f8r-922h-2vgv), and a small per-peer budget bounds the rest.
          allowedTopics: [t.config],
          maxTopicBytesPerPeer: 16 * 1024,
          decodeRpcLimits: DECODE_LIMITS,
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          // Flood our own messages to every subscribed peer: for a few dozen agents this is
          // the lowest-latency path, and the mesh still relays to peers we do not see.
          floodPublish: true,
          // Agents keep direct connections to up to 8 members and flood their own messages to
          // all of them, so the mesh only has to reach the rest: a smaller degree than the
          // default 6 cuts duplicate traffic (and CPU) several-fold for the same reach.
          D: 3,
          Dlo: 2,
          Dhi: 5,
          Dout: 1,
          Dlazy: 3,
          // Deduplicate by content before the signature check: without it gossipsub verifies
          // every duplicate copy of a message before noticing it has seen it.
          fastMsgIdFn: (msg) => fastMessageId(msg.data ?? new Uint8Array()),
          // Mesh membership needs no protection from the connection manager (maxConnections is
          // far above a cluster's size); tagging writes to the peer store on every graft and prune.
          tagMeshPeers: false,
          maxInboundDataLength: MAX_MESSAGE_BYTES
        })
      }
    }) as unknown as Node
    const host = new Host(node, opts.cluster)
    host.wire()
    if (opts.mdns) {
      // Loaded only here: an agent with --no-mdns (static joins) skips parsing the DNS code.
      const { MdnsDiscovery } = await import('./mdns-discovery.js')
      host.discovery = new MdnsDiscovery({ id: host.peerId, addresses: () => node.getMultiaddrs(), known: opts.mdnsKnown ?? (() => host.connectedPeers()) },
        `_murmur-${opts.cluster}._udp.local`, opts.mdnsWarn ?? (() => {}), opts.mdnsPacing)
      host.onDial = opts.mdnsDial
      host.discovery.on('peer', (id, addrs) => host.found(id, addrs, opts.mdnsReach))
    }
    const admit = opts.admit
    if (admit !== undefined) {
      // A validator runs before a message is delivered or relayed: Ignore drops it without
      // forwarding it and without penalising the relay that passed it on (it may be honest).
      node.services.pubsub.topicValidators.set(t.config, (_relay, msg) =>
        msg.type !== 'signed' || admit(t.config, msg.from.toString()) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore)
    }
    await node.start()
    node.services.pubsub.subscribe(t.config)
    return host
  }

  get peerId (): string { return this.node.peerId.toString() }

  addresses (): string[] {
    return this.node.getMultiaddrs().map(a => a.toString())
  }

  connectedPeers (): string[] {
    return [...new Set(this.node.getConnections().map(c => c.remotePeer.toString()))]
  }

  isConnected (peer: string): boolean {
    return this.node.getConnections().some(c => c.remotePeer.toString() === peer)
  }

  /** Start mDNS (when on): call once the agent serves its protocols, so that whoever finds us can talk. */
  startDiscovery (): void {
    this.discovery?.start()
  }

  /**
   * Whether the agent has a live member besides itself: mDNS (when on) backs its queries off
   * while it has, and queries every second while it has not (see mdns-discovery.ts).
   */
  setJoined (joined: boolean): void {
    this.discovery?.setJoined(joined)
  }

  async publish (topic: string, data: Uint8Array): Promise<void> {
    this.bytesOut += data.byteLength
    await this.node.services.pubsub.publish(topic, data)
  }

  /** Dial an address (peer id optional); resolves to the remote peer id. */
  async dial (addr: Multiaddr, signal?: AbortSignal): Promise<string> {
    const conn = await this.node.dial(addr, { signal })
    return conn.remotePeer.toString()
  }

  /** Dial a known peer at the addresses it announced. */
  async dialPeer (peer: string, addrs: readonly string[], signal?: AbortSignal): Promise<void> {
    const id = peerIdFromString(peer)
    const mas = dialable(addrs)
    if (mas.length > 0) await this.node.peerStore.merge(id, { multiaddrs: mas })
    await this.node.dial(id, { signal: signal ?? AbortSignal.timeout(5000) })
  }

  /** Close every connection to a peer. */
  async hangUp (peer: string): Promise<void> {
    await this.node.hangUp(peerIdFromString(peer))
  }

  /** Accept message streams from peers (one long-lived stream per peer and direction). */
  async handleMessages (handler: StreamHandler): Promise<void> {
    await this.node.handle(topics(this.cluster).messages, (stream, connection) => {
      handler(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
  }

  /** Open a message stream to a peer, dialling it at `addrs` when not connected. */
  async openMessages (peer: string, addrs: readonly string[], signal: AbortSignal): Promise<Stream> {
    const id = peerIdFromString(peer)
    if (!this.isConnected(peer)) {
      const mas = dialable(addrs)
      if (mas.length > 0) await this.node.peerStore.merge(id, { multiaddrs: mas })
    }
    return await this.node.dialProtocol(id, topics(this.cluster).messages, { signal })
  }

  async stop (): Promise<void> {
    await this.discovery?.stop()
    await this.node.stop()
  }

  private wire (): void {
    this.node.services.pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg } = evt.detail
      if (msg.type !== 'signed') return
      this.bytesIn += msg.data.byteLength
      this.emit('message', msg.topic, msg.from.toString(), msg.data)
    })
    this.node.addEventListener('connection:open', (evt) => {
      patchTcpWrites(evt.detail)
      this.emit('open', evt.detail.remotePeer.toString(), evt.detail.direction === 'outbound')
    })
    this.node.addEventListener('peer:disconnect', (evt) => this.emit('disconnect', evt.detail.toString()))
  }

  /**
   * Dial an agent found by mDNS at `addrs` (from its answer), unless a dial of it is under way
   * or it is connected already.
   */
  dialFound (id: string, addrs: Multiaddr[]): void {
    if (this.dialing.has(id) || this.isConnected(id)) return
    this.dialing.add(id)
    this.onDial?.(id)
    this.node.dial(addrs).catch(() => {}).finally(() => this.dialing.delete(id))
  }

  /**
   * An agent found by mDNS. Both sides of a pair see each other's answers; only the higher id
   * reaches out (by `reach`, or else a dial), so the pair ends with one exchange and at most one
   * connection (see agent.ts). Every answer seen is another chance: a dial that failed is tried
   * again at the next one.
   */
  private found (id: string, addrs: () => Multiaddr[], reach?: (peer: string, addrs: Multiaddr[]) => boolean): void {
    if (id >= this.peerId || this.dialing.has(id) || this.isConnected(id)) return
    const to = addrs()
    if (to.length === 0 || reach?.(id, to) === true) return
    this.dialFound(id, to)
  }
}
