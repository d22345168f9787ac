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
// Equal maps cost one digest (BUCKETS * 4 bytes) and an empty reply. Entries are split over
// as many messages as it takes to keep each under MAX_MESSAGE_BYTES (see `frames`). A side takes
// entries only in buckets a `cdif` of this exchange named; a peer that sends others, or a
// message that does not decode, is reported as `garbage` (the agent hangs up on it).
import { IdlePace } from '../core/idle-pace.js'
import { isEntry } from '../core/config.js'
import { BUCKETS, bucketOf, entryBytes, type Entry } from '../core/lww.js'
import { decode, encode, MAX_MESSAGE_BYTES } from '../net/codec.js'
import type { Clock, Rng, Timer, Transport } from '../net/transport.js'
import { decodeGossip, encodeConfigMessage, wireEntry } from '../net/wire.js'
import type { ConfigReplica } from './config-replica.js'

/** A message holds at most this many entries, and about FRAME_BYTES of keys and values as JSON. */
const CHUNK = 500
/**
 * msgpack can take more room than JSON (a float is 9 bytes, `0.1` is 3), up to about 3x: a
 * quarter of the message limit as JSON keeps every message under it.
 */
const FRAME_BYTES = MAX_MESSAGE_BYTES / 4
/** How long the buckets named in a `cdif` admit entries from that peer. */
const EXCHANGE_MS = 30_000

/** `cent` messages held per peer while its `cdif` is awaited. */
const MAX_EARLY = 64

/**
 * Rounds that find the maps equal stretch the period up to this multiple of `intervalMs`
 * (3 s to 9 s by default). A write here, a delta received, or a round that finds a difference
 * brings it back at once (see IdlePace).
 */
const BACKOFF_MAX = 3

/**
 * An exchange with one peer: the buckets named by its recent `cdif`s (sent or received), which
 * admit its entries until `until`; `early` holds its entries that arrived before the `cdif` we
 * await from it.
 */
interface Exchange { buckets: Set<number>, until: number, early?: unknown[] }

/** Entries cut into messages of at most CHUNK entries and about FRAME_BYTES. */
export function frames (entries: readonly Entry[]): Entry[][] {
  const out: Entry[][] = []
  let cur: Entry[] = []
  let bytes = 0
  for (const e of entries) {
    const size = entryBytes(e) + 64
    if (cur.length > 0 && (cur.length >= CHUNK || bytes + size > FRAME_BYTES)) {
      out.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(e)
    bytes += size
  }
  if (cur.length > 0) out.push(cur)
  return out
}

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
  /** Entries a gossip delta or a sync applied here (for logs). */
  applied?: (entries: Entry[], from: string) => void
  /** `peer` broke the protocol: entries it was not asked for, a message that does not decode. */
  garbage?: (peer: string) => void
}

export class AntiEntropy {
  readonly counters = { syncs: 0, configRejected: 0, gossipDropped: 0, garbage: 0 }
  private timer: Timer | undefined
  /** When the armed timer fires (clock time). */
  private dueAt = 0
  private readonly pace = new IdlePace(BACKOFF_MAX)
  private stopped = false
  /** Per peer, the exchanges in progress (see Exchange). */
  private readonly exchanges = new Map<string, Exchange>()

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
    this.quicken()
  }

  /** Start a round with `peer` now (a new connection, a member back from failed). */
  syncWith (peer: string, addrs: readonly string[] = []): void {
    // Its entries may overtake its `cdif` (the simulator's network reorders): hold them till then.
    this.exchange(peer).early ??= []
    const h = this.deps.replica.map.digest()
    this.send(peer, { t: 'cdig', h: new Uint8Array(h.buffer, h.byteOffset, h.byteLength) }, addrs)
  }

  private loop (): void {
    if (this.stopped) return
    const delay = this.pace.next() * this.intervalMs * (0.8 + 0.4 * this.deps.rng())
    this.dueAt = this.deps.clock.now() + delay
    this.timer = this.deps.clock.timer(delay, () => {
      const peer = this.deps.randomPeer()
      if (peer !== undefined) this.syncWith(peer[0], peer[1])
      this.loop()
    })
  }

  /** Config changed or differs somewhere: rounds at the base period again, the next one soon. */
  private quicken (): void {
    if (this.stopped || !this.pace.news()) return
    // The armed round comes within a base period anyway: it is the first at the base pace.
    if (this.dueAt - this.deps.clock.now() <= this.intervalMs) this.pace.next()
    else {
      this.timer?.cancel()
      this.loop()
    }
  }

  /**
   * Digests and replies without entries may go as datagrams (no connection needed: an idle
   * round with a random member costs two datagrams). Entries always take a stream: config
   * values may be secrets, and a stream is encrypted (Noise) where a datagram is only
   * authenticated unless the cluster has a key.
   */
  private send (to: string, msg: Record<string, unknown>, addrs?: readonly string[], entries = false): void {
    this.deps.transport.send('sync', to, encode(msg), addrs, entries ? 'stream' : undefined)
  }

  private sendEntries (to: string, first: Record<string, unknown>, entries: Entry[]): void {
    const [head = [], ...rest] = frames(entries)
    this.send(to, { ...first, e: head.map(wireEntry) }, undefined, head.length > 0)
    for (const chunk of rest) this.send(to, { t: 'cent', e: chunk.map(wireEntry) }, undefined, true)
  }

  /** The exchange with `peer`, opened (or kept open) for EXCHANGE_MS from now. */
  private exchange (peer: string): Exchange {
    const now = this.deps.clock.now()
    for (const [p, x] of this.exchanges) if (x.until < now) this.exchanges.delete(p)
    let x = this.exchanges.get(peer)
    if (x === undefined) this.exchanges.set(peer, x = { buckets: new Set(), until: 0 })
    x.until = now + EXCHANGE_MS
    return x
  }

  private readonly onMessage = (channel: string, from: string, data: Uint8Array): void => {
    if (channel !== 'sync' || this.stopped) return
    const m = decode(data) as Record<string, unknown> | undefined
    if (typeof m !== 'object' || m === null || Array.isArray(m)) { this.garbage(from); return }
    const map = this.deps.replica.map
    if (m.t === 'cdig' && m.h instanceof Uint8Array && m.h.byteLength === BUCKETS * 4) {
      const copy = new Uint8Array(m.h)
      const differ = map.differingBuckets(new Uint32Array(copy.buffer))
      if (differ.size > 0) {
        const x = this.exchange(from)
        for (const b of differ) x.buckets.add(b)
        this.quicken()
      }
      this.sendEntries(from, { t: 'cdif', k: [...differ] }, differ.size > 0 ? map.inBuckets(differ) : [])
      this.counters.syncs++
      this.deps.synced?.(from, 0)
    } else if (m.t === 'cdif' && Array.isArray(m.k)) {
      const k = new Set(m.k.filter((b): b is number => Number.isInteger(b) && b >= 0 && b < BUCKETS))
      if (k.size > 0) this.quicken()
      const x = this.exchange(from)
      for (const b of k) x.buckets.add(b)
      const early = x.early ?? []
      x.early = undefined
      let received = 0
      for (const e of [m.e, ...early]) {
        const n = this.apply(from, e)
        if (n === undefined) return
        received += n
      }
      if (k.size > 0) {
        const ours = map.inBuckets(k)
        if (ours.length > 0) this.sendEntries(from, { t: 'cent' }, ours)
      }
      this.counters.syncs++
      this.deps.synced?.(from, received)
    } else if (m.t === 'cent') {
      // Without an exchange open (its `cdif` was lost, or it expired) the entries are dropped:
      // the next round carries them.
      const x = this.exchanges.get(from)
      if (x === undefined) this.counters.gossipDropped++
      else if (x.early !== undefined && !this.within(x, m.e)) {
        if (x.early.length < MAX_EARLY) x.early.push(m.e)
        else this.counters.gossipDropped++
      } else this.apply(from, m.e)
    } else {
      this.counters.gossipDropped++
    }
  }

  /** Well-formed entries in the buckets open with `from` are applied; undefined when `from` broke the protocol. */
  private apply (from: string, raw: unknown): number | undefined {
    if (raw === undefined) return 0
    if (!Array.isArray(raw)) { this.garbage(from); return undefined }
    const entries = raw.filter(isEntry)
    this.counters.configRejected += raw.length - entries.length
    if (entries.length === 0) return 0
    const x = this.exchanges.get(from)
    if (x === undefined || !this.within(x, entries)) { this.garbage(from); return undefined }
    this.applyRemote(entries, from)
    return entries.length
  }

  /** True when `raw` holds only entries (or junk, dropped later) in the exchange's buckets. */
  private within (x: Exchange, raw: unknown): boolean {
    return Array.isArray(raw) && raw.every(e => !isEntry(e) || x.buckets.has(bucketOf(e.key)))
  }

  private garbage (from: string): void {
    this.counters.garbage++
    this.exchanges.delete(from)
    this.deps.garbage?.(from)
  }

  private readonly onPublication = (topic: string, from: string, data: Uint8Array): void => {
    if (topic !== this.deps.topic || this.stopped) return
    const msg = decodeGossip(data)
    if (msg?.t !== 'cfg') { this.counters.gossipDropped++; return }
    this.counters.configRejected += msg.rejected
    this.applyRemote(msg.entries, from)
    this.quicken()
  }

  private applyRemote (entries: Entry[], from: string): void {
    this.deps.replica.applyRemote(entries).then(applied => { if (applied.length > 0) this.deps.applied?.(applied, from) }).catch(() => {})
  }
}
