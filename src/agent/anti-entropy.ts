// Config anti-entropy: deltas are published as they are written (gossipsub in the agent),
// and every `intervalMs` this agent compares bucket digests with one random member, so a lost
// delta, a late joiner or a healed partition converges anyway. Message based, over the
// transport's 'sync' channel:
//
//   initiator                     responder
//   cdig {h: bucket hashes}   ─►
//                             ◄─  cdif {k: differing buckets, e: its entries in them} (+ cent chunks)
//   cent {e: ours in k}       ─►  (only when there is something to send)
//
// Equal maps cost one digest (BUCKETS * 4 bytes) and an empty reply.
import { isEntry } from '../core/config.js'
import { BUCKETS, type Entry } from '../core/lww.js'
import { decode, encode } from '../net/codec.js'
import type { Clock, Rng, Timer, Transport } from '../net/transport.js'
import { decodeGossip, encodeConfigMessage, wireEntry } from '../net/wire.js'
import type { ConfigReplica } from './config-replica.js'

const CHUNK = 500

export interface AntiEntropyDeps {
  transport: Transport
  clock: Clock
  rng: Rng
  replica: ConfigReplica
  /** The topic config deltas are published on. */
  topic: string
  /** A random live member to sync with: [id, addrs]. */
  randomPeer: () => [string, readonly string[]] | undefined
  /** A sync round with `peer` completed (a reply was received or sent). */
  synced?: (peer: string, received: number) => void
  /** Entries a gossip delta applied (for logs). */
  applied?: (entries: Entry[], from: string) => void
}

export class AntiEntropy {
  readonly counters = { syncs: 0, configRejected: 0, gossipDropped: 0 }
  private timer: Timer | undefined
  private stopped = false

  constructor (private readonly deps: AntiEntropyDeps, private readonly intervalMs: number) {}

  start (): void {
    this.deps.transport.on('message', this.onMessage)
    this.deps.transport.on('publication', this.onPublication)
    this.loop()
  }

  stop (): void {
    this.stopped = true
    this.timer?.cancel()
    this.deps.transport.off('message', this.onMessage)
    this.deps.transport.off('publication', this.onPublication)
  }

  /** Publish local writes at once; anti-entropy carries them too if this is lost. */
  publish (entries: readonly Entry[]): void {
    this.deps.transport.publish(this.deps.topic, encodeConfigMessage(entries))
  }

  /** Start a round with `peer` now (a new connection, a member back from failed). */
  syncWith (peer: string, addrs: readonly string[] = []): void {
    const h = this.deps.replica.map.digest()
    this.send(peer, { t: 'cdig', h: new Uint8Array(h.buffer, h.byteOffset, h.byteLength) }, addrs)
  }

  private loop (): void {
    if (this.stopped) return
    this.timer = this.deps.clock.timer(this.intervalMs * (0.8 + 0.4 * this.deps.rng()), () => {
      const peer = this.deps.randomPeer()
      if (peer !== undefined) this.syncWith(peer[0], peer[1])
      this.loop()
    })
  }

  private send (to: string, msg: Record<string, unknown>, addrs?: readonly string[]): void {
    this.deps.transport.send('sync', to, encode(msg), addrs)
  }

  private sendEntries (to: string, first: Record<string, unknown>, entries: Entry[]): void {
    this.send(to, { ...first, e: entries.slice(0, CHUNK).map(wireEntry) })
    for (let i = CHUNK; i < entries.length; i += CHUNK) this.send(to, { t: 'cent', e: entries.slice(i, i + CHUNK).map(wireEntry) })
  }

  private readonly onMessage = (channel: string, from: string, data: Uint8Array): void => {
    if (channel !== 'sync' || this.stopped) return
    const m = decode(data) as Record<string, unknown> | undefined
    if (typeof m !== 'object' || m === null) { this.counters.gossipDropped++; return }
    const map = this.deps.replica.map
    if (m.t === 'cdig' && m.h instanceof Uint8Array && m.h.byteLength === BUCKETS * 4) {
      const copy = new Uint8Array(m.h)
      const differ = map.differingBuckets(new Uint32Array(copy.buffer))
      this.sendEntries(from, { t: 'cdif', k: [...differ] }, differ.size > 0 ? map.inBuckets(differ) : [])
      this.counters.syncs++
      this.deps.synced?.(from, 0)
    } else if (m.t === 'cdif' && Array.isArray(m.k)) {
      const k = new Set(m.k.filter((b): b is number => Number.isInteger(b) && b >= 0 && b < BUCKETS))
      const received = this.apply(m.e)
      if (k.size > 0) {
        const ours = map.inBuckets(k)
        if (ours.length > 0) this.sendEntries(from, { t: 'cent' }, ours)
      }
      this.counters.syncs++
      this.deps.synced?.(from, received)
    } else if (m.t === 'cent') {
      this.apply(m.e)
    } else {
      this.counters.gossipDropped++
    }
  }

  private apply (raw: unknown): number {
    if (!Array.isArray(raw)) return 0
    const entries = raw.filter(isEntry)
    this.counters.configRejected += raw.length - entries.length
    if (entries.length > 0) this.deps.replica.applyRemote(entries).catch(() => {})
    return entries.length
  }

  private readonly onPublication = (topic: string, from: string, data: Uint8Array): void => {
    if (topic !== this.deps.topic || this.stopped) return
    const msg = decodeGossip(data)
    if (msg?.t !== 'cfg') { this.counters.gossipDropped++; return }
    this.counters.configRejected += msg.rejected
    this.deps.replica.applyRemote(msg.entries).then(applied => { if (applied.length > 0) this.deps.applied?.(applied, from) }).catch(() => {})
  }
}
