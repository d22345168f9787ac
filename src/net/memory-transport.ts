// An in-memory network for the simulator and tests (after quickwit chitchat's ChannelTransport):
// a virtual clock with an event queue, seeded loss and latency, partitions, crashes and stalls,
// and per-node message and byte counters. Agents on it run the real membership and config
// code; only the wire is simulated. Publications flood over a random mesh, as in gossipsub.
// As on the agent's wire, small messages are datagrams, which loss drops, and the rest
// (publications, large messages, the stream fallback probe) go over connections, where TCP
// sends a lost segment again: loss makes those late, not lost.
import type { Channel, Clock, Rng, Timer, Transport, TransportEvents } from './transport.js'
import { seededRng } from './transport.js'
import { fitsDatagram } from './datagram.js'

export interface MemoryNetworkOptions {
  seed: number
  /** Probability that a datagram, or one try of a message over a connection, is lost. @default 0 */
  loss?: number
  /** One-way latency, uniform in [min, max] ms. @default [1, 5] */
  latencyMs?: [number, number]
  /** Mesh links each agent makes for publications (degree about twice this). @default 3 */
  fanout?: number
  /** Wall-clock epoch of virtual time 0, for HLC stamps. @default 1_700_000_000_000 */
  epoch?: number
}

export interface Counters { msgsOut: number, msgsIn: number, bytesOut: number, bytesIn: number }

interface Event { node: MemoryNode | undefined, fn: () => void }

/**
 * A binary min-heap of events by (at, seq). The keys sit in typed arrays beside the events, so
 * that sifting compares numbers in one block of memory instead of reading an object per
 * comparison (at N = 1,000 the queue holds ~10,000 events, and each runs every few µs).
 */
export class EventQueue {
  private events: Array<Event | undefined> = []
  private at = new Float64Array(1024)
  private seq = new Float64Array(1024)
  private n = 0

  get size (): number { return this.n }
  /** When the first event is due; Infinity when there is none. */
  firstAt (): number { return this.n > 0 ? this.at[0] : Number.POSITIVE_INFINITY }

  push (at: number, seq: number, e: Event): void {
    if (this.n === this.at.length) this.grow()
    let i = this.n++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.at[p] < at || (this.at[p] === at && this.seq[p] < seq)) break
      this.put(i, this.at[p], this.seq[p], this.events[p] as Event)
      i = p
    }
    this.put(i, at, seq, e)
  }

  /** The first event (the queue must not be empty). */
  pop (): Event {
    const top = this.events[0] as Event
    const n = --this.n
    const at = this.at[n]
    const seq = this.seq[n]
    const e = this.events[n] as Event
    this.events[n] = undefined
    if (n === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const m = r < n && (this.at[r] < this.at[l] || (this.at[r] === this.at[l] && this.seq[r] < this.seq[l])) ? r : l
      if (at < this.at[m] || (at === this.at[m] && seq < this.seq[m])) break
      this.put(i, this.at[m], this.seq[m], this.events[m] as Event)
      i = m
    }
    this.put(i, at, seq, e)
    return top
  }

  private put (i: number, at: number, seq: number, e: Event): void {
    this.at[i] = at
    this.seq[i] = seq
    this.events[i] = e
  }

  private grow (): void {
    const at = new Float64Array(this.at.length * 2)
    const seq = new Float64Array(this.seq.length * 2)
    at.set(this.at)
    seq.set(this.seq)
    this.at = at
    this.seq = seq
  }
}

export class MemoryNetwork {
  now = 0
  readonly rng: Rng
  private readonly queue = new EventQueue()
  private seq = 0
  private readonly nodes = new Map<string, MemoryNode>()
  private readonly byAddr = new Map<string, MemoryNode>()
  private readonly loss: number
  private readonly latency: [number, number]
  readonly fanout: number
  readonly epoch: number
  private pubSeq = 0
  private meshBuilt = false
  private held: Array<Promise<unknown>> = []

  constructor (opts: MemoryNetworkOptions) {
    this.rng = seededRng(opts.seed)
    this.loss = opts.loss ?? 0
    this.latency = opts.latencyMs ?? [1, 5]
    this.fanout = opts.fanout ?? 3
    this.epoch = opts.epoch ?? 1_700_000_000_000
  }

  /** Add an agent's endpoint; `id` is its peer id, `addr` where others dial it. */
  add (id: string, addr: string): MemoryNode {
    const n = new MemoryNode(this, id, addr)
    this.nodes.set(id, n)
    this.byAddr.set(addr, n)
    return n
  }

  node (id: string): MemoryNode | undefined { return this.nodes.get(id) }
  all (): MemoryNode[] { return [...this.nodes.values()] }

  schedule (delayMs: number, fn: () => void, node?: MemoryNode): void {
    this.queue.push(this.now + Math.max(0, delayMs), this.seq++, { node, fn })
  }

  /** Virtual time stands still until `p` settles (async work an event started, like a write). */
  hold (p: Promise<unknown>): void {
    this.held.push(p.catch(() => {}))
  }

  /**
   * Run events up to virtual time `until`. Held promises settle before the next event; the
   * loop also yields to the event loop every `yieldEvery` events.
   */
  async run (until: number, yieldEvery = 2000): Promise<void> {
    let n = 0
    for (;;) {
      const at = this.queue.firstAt()
      if (at > until) break
      const e = this.queue.pop()
      if (e.node !== undefined) {
        if (e.node.crashed) continue
        if (e.node.pausedUntil > at) {
          // A stopped process runs nothing; everything it would have done happens on resume.
          this.queue.push(e.node.pausedUntil, this.seq++, e)
          continue
        }
      }
      this.now = at
      e.fn()
      if (this.held.length > 0) {
        const held = this.held
        this.held = []
        await Promise.all(held)
      }
      if (++n % yieldEvery === 0) await new Promise(resolve => setImmediate(resolve))
    }
    this.now = Math.max(this.now, until)
    await new Promise(resolve => setImmediate(resolve))
  }

  /**
   * One hop from `from` to `to`: counted, delayed, and lost with the network's loss rate, or,
   * `overConnection`, sent again after a retransmission timeout as TCP does (each try counted),
   * so that it arrives late rather than never, unless the tries run out.
   */
  deliver (from: MemoryNode, to: MemoryNode, bytes: number, fn: () => void, overConnection = false): void {
    let delay = 0
    for (let tries = 0; ; tries++) {
      from.counters.msgsOut++
      from.counters.bytesOut += bytes
      if (this.rng() >= this.loss) break
      if (!overConnection || tries === TCP_TRIES - 1) return
      delay += TCP_RTO_MS << tries
    }
    if (to.crashed || from.group !== to.group) return
    const [lo, hi] = this.latency
    this.schedule(delay + lo + (hi - lo) * this.rng(), () => {
      if (to.crashed || from.group !== to.group) return
      to.counters.msgsIn++
      to.counters.bytesIn += bytes
      fn()
    }, to)
  }

  byAddress (addr: string): MemoryNode | undefined { return this.byAddr.get(addr) }

  nextPublicationId (): number { return this.pubSeq++ }

  /**
   * The publication mesh: each node links to `fanout` random others, both ways (so about
   * 2 * fanout neighbours each), built on first use like a gossipsub mesh after its first
   * heartbeat. A publication floods over it; duplicates are dropped by id.
   */
  neighbours (node: MemoryNode): MemoryNode[] {
    if (!this.meshBuilt) {
      this.meshBuilt = true
      const all = [...this.nodes.values()]
      for (const a of all) {
        for (let k = 0; k < this.fanout && all.length > 1; k++) {
          const b = all[Math.floor(this.rng() * all.length)]
          if (b === a || a.mesh.includes(b)) continue
          a.mesh.push(b)
          b.mesh.push(a)
        }
      }
    }
    // Like gossipsub's heartbeat, graft live peers in place of crashed ones.
    const live = node.mesh.filter(n => !n.crashed)
    if (live.length < this.fanout) {
      const all = [...this.nodes.values()]
      for (let draws = 0; live.length < this.fanout && draws < 32; draws++) {
        const b = all[Math.floor(this.rng() * all.length)]
        if (b === node || b.crashed || live.includes(b)) continue
        live.push(b)
        b.mesh.push(node)
      }
      node.mesh.splice(0, node.mesh.length, ...live)
    }
    return node.mesh
  }
}

const IDLE_MS = 30_000

/**
 * TCP's first retransmission timeout (Linux's minimum; a LAN's round trip is far below it),
 * doubled at each try, and the tries before the connection is given up (Linux tries 15 times
 * over ~15 minutes; the simulator's runs are shorter than that anyway).
 */
const TCP_RTO_MS = 200
const TCP_TRIES = 8

/** A connection, one object for both ends: a message either way marks it used. */
interface Link { used: number }

type Handlers = { [E in keyof TransportEvents]: Set<TransportEvents[E]> }

export class MemoryNode implements Transport {
  readonly counters: Counters = { msgsOut: 0, msgsIn: 0, bytesOut: 0, bytesIn: 0 }
  crashed = false
  pausedUntil = 0
  /** Nodes in different groups cannot reach each other (a partition). */
  group = 0
  /**
   * Peers we hold a "connection" with, and when it was last used. A crash closes them and the
   * other side hears of it, as with TCP; connections idle longer than IDLE_MS count as closed
   * quietly (a connection manager prunes them), so that news reaches only recent contacts.
   */
  readonly connections = new Map<MemoryNode, Link>()
  private readonly seen = new Set<number>()
  /** Publication mesh neighbours (see MemoryNetwork.neighbours). */
  readonly mesh: MemoryNode[] = []
  private readonly handlers: Handlers = { message: new Set(), publication: new Set(), up: new Set(), down: new Set(), unreachable: new Set() }
  readonly clock: Clock

  constructor (private readonly net: MemoryNetwork, readonly self: string, readonly addr: string) {
    this.clock = {
      now: () => net.now,
      wall: () => net.epoch + net.now,
      timer: (ms: number, fn: () => void): Timer => {
        let live = true
        net.schedule(ms, () => { if (live) fn() }, this)
        return { cancel: () => { live = false } }
      }
    }
  }

  addresses (): string[] { return [this.addr] }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    (this.handlers[event] as Set<TransportEvents[E]>).add(handler)
  }

  off<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    (this.handlers[event] as Set<TransportEvents[E]>).delete(handler)
  }

  send (channel: Channel, to: string, data: Uint8Array, _addrs?: readonly string[], mode?: 'stream' | 'probe'): void {
    if (this.crashed) return
    const peer = this.net.node(to)
    if (peer === undefined) return
    // Over a connection as the agent sends it: in 'stream' mode, or too big for a datagram.
    const overConnection = mode === 'stream' || !fitsDatagram(this.self.length, to.length, data.byteLength)
    if (peer.crashed && peer.group === this.group) {
      // Nothing listens at its address any more: the dial is refused (a partition or a stopped
      // process would be silent instead). A datagram goes out all the same, and costs its sender.
      if (!overConnection) {
        this.counters.msgsOut++
        this.counters.bytesOut += data.byteLength
      }
      this.net.schedule(1, () => { for (const h of this.handlers.unreachable) h(to) }, this)
      return
    }
    this.connect(peer, true)
    this.net.deliver(this, peer, data.byteLength, () => {
      for (const h of peer.handlers.message) h(channel, this.self, data)
    }, overConnection)
  }

  async dial (addr: string): Promise<string> {
    const peer = this.net.byAddress(addr)
    if (peer === undefined || peer.crashed || peer.group !== this.group) throw new Error(`cannot reach ${addr}`)
    this.connect(peer, true)
    return peer.self
  }

  publish (topic: string, data: Uint8Array): void {
    if (this.crashed) return
    const id = this.net.nextPublicationId()
    this.seen.add(id)
    this.forward(topic, this.self, id, data)
  }

  /** kill -9: nothing more runs here; peers with a connection see it close. */
  crash (): void {
    this.crashed = true
    for (const [peer, link] of this.connections) {
      peer.connections.delete(this)
      if (peer.group === this.group && this.net.now - link.used < IDLE_MS) this.net.schedule(1, () => { for (const h of peer.handlers.down) h(this.self) }, peer)
    }
    this.connections.clear()
  }

  /** SIGSTOP for `ms`: timers and deliveries wait until it resumes. */
  pause (ms: number): void {
    this.pausedUntil = this.net.now + ms
  }

  private connect (peer: MemoryNode, outbound: boolean): void {
    const link = this.connections.get(peer)
    const now = this.net.now
    if (link === undefined) {
      const fresh = { used: now }
      this.connections.set(peer, fresh)
      peer.connections.set(this, fresh)
    } else {
      const idle = now - link.used >= IDLE_MS
      link.used = now
      if (!idle) return
    }
    this.net.schedule(0, () => { for (const h of this.handlers.up) h(peer.self, outbound) }, this)
    this.net.schedule(1, () => { for (const h of peer.handlers.up) h(this.self, !outbound) }, peer)
  }

  private forward (topic: string, origin: string, id: number, data: Uint8Array): void {
    for (const peer of this.net.neighbours(this)) {
      this.net.deliver(this, peer, data.byteLength + 48, () => {
        if (peer.seen.has(id)) return
        peer.seen.add(id)
        for (const h of peer.handlers.publication) h(topic, origin, data)
        peer.forward(topic, origin, id, data)
      }, true)
    }
  }
}
