// SWIM membership with Lifeguard (Das et al., "SWIM: Scalable Weakly-consistent Infection-style
// Process Group Membership Protocol", 2002; Dadgar et al., "Lifeguard", 2018), modelled on
// hashicorp/memberlist state.go. Pure: time comes in as `now`, randomness from an injected
// Rng, and every input returns the effects to perform (messages to send, transitions to
// report). The Membership component (src/agent/membership.ts) drives it over a Transport.
//
// Per probe interval an agent pings one member (round-robin over a shuffled list). No ack in
// time: it asks `indirectChecks` others to ping it. Still nothing by the end of the interval:
// the member becomes suspect, and that news spreads piggybacked on probes and gossip. A
// suspect that hears of it refutes with a newer version of its signed record; otherwise,
// after a timeout that grows with log N and shrinks with independent confirmations, it is
// declared failed. Every message an agent sends per interval goes to a constant number of
// members, so the cost per agent does not grow with N.
import { Awareness } from './awareness.js'
import { IdlePace } from './idle-pace.js'
import { BroadcastQueue, retransmitLimit } from './broadcasts.js'
import { fnv1a } from './hash.js'
import type { Heartbeat } from './heartbeat.js'
import { isLive, type Member, type MemberStatus, type Transition } from './members.js'
import { Suspicion } from './suspicion.js'
import { suspicionBounds, type SwimOptions } from './swim-options.js'
import { DIGEST_BUCKETS, FINE_BUCKETS, isPacket, isStateEntry, SUB_BUCKETS, type Packet, type SignedRecord, type StateEntry, type VersionLine } from './swim-wire.js'

export type { SignedRecord } from './swim-wire.js'

/** Record (de)coding and signatures, injected so the core stays free of crypto and codecs. */
export interface RecordCodec {
  /** The record in `body`, if well formed (no signature check). */
  decode: (body: Uint8Array) => Heartbeat | undefined
  /** True when `sig` is the signature of `id`'s key over `body`. */
  verify: (id: string, body: Uint8Array, sig: Uint8Array) => boolean
  sign: (rec: Heartbeat) => SignedRecord
  /**
   * The bytes of a verified record, to store: decoded byte fields are views into the whole
   * message they came in (a full state push-pull can be hundreds of KB), which a stored view
   * would keep alive.
   */
  keep: (signed: SignedRecord) => SignedRecord
}

export interface SwimDeps {
  rng: () => number
  records: RecordCodec
  /** Encode a broadcast item (its bytes count against the packet budget). */
  encode: (x: unknown) => Uint8Array
  decode: (b: Uint8Array) => unknown
  /** Whether a connection to a member is open (no dial needed before a message gets there); absent: always. */
  connected?: (id: string) => boolean
}

export type Effect =
  /**
   * `stream`: over a connection even where a datagram would do (the fallback probe). `probe`:
   * a ping whose refusal (nothing listens at the target's port) the transport reports as
   * unreachable at once, so a kill -9 shows within a round trip rather than at the timeout.
   */
  | { kind: 'send', to: string, addrs: readonly string[], packet: Packet, stream?: true, probe?: true }
  | { kind: 'transition', t: Transition }
  /** A member's record changed (services, health, metrics, addresses). */
  | { kind: 'record', id: string, before: Heartbeat | undefined, after: Heartbeat }
  /** Something worth a log line: a refused newcomer, a refusal of us, a refutation. */
  | { kind: 'note', level: 'info' | 'warn' | 'error', what: string, fields: Record<string, unknown> }
  /** A record failed its signature check or was malformed. */
  | { kind: 'rejected', from: string }
  /** A new member's record was dropped: the table holds `maxMembers` already. */
  | { kind: 'full', from: string }

type Version = readonly [generation: number, counter: number]

interface Row {
  rec: Heartbeat
  signed: SignedRecord
  status: MemberStatus
  /** Version the status refers to: an accusation at v is refuted only by a record newer than v. */
  sv: Version
  since: number
  lastSeen: number
  suspicion?: Suspicion
  /**
   * The member's id hashed once, mod FINE_BUCKETS: its fine bucket; mod DIGEST_BUCKETS, its
   * digest bucket (digest answers look it up for every row).
   */
  readonly fine: number
}

interface Probe {
  seq: number
  target: string
  ackBy: number
  endAt: number
  indirect: boolean
  /**
   * A ping of the target went over a stream (the indirect probe's fallback): 'pending' while
   * it may still be answered, 'lost' once the transport could not hand it over (the dial was
   * refused or failed). Until then the probe waits for it, whatever the relays say.
   */
  stream?: 'pending' | 'lost'
  expectedNacks: number
  nacks: number
  /** Started by a connection-loss hint rather than the round-robin. */
  hint: boolean
}

/** A ping-req we relay: the ack or nack goes back to `origin` under its sequence number. */
interface Relay { origin: string, originSeq: number, target: string, nackAt: number }

/**
 * A digest answer names differing buckets by their fine hashes (`sub`) instead of all their
 * version lines when the buckets hold more than this many members each on average (clusters
 * beyond ~256). A bucket then holds N / 64 members, and with load versions arriving all the time
 * some bucket differs in most rounds: at N = 1,000 its 16 lines of ~68 bytes were the largest
 * part of an agent's traffic. Its 16 fine hashes take 64 bytes, and the lines that follow are
 * those of the fine buckets that differ, one member each or so, for one more message.
 */
const SUB_ABOVE = 4

const ST_ALIVE = 0
const ST_SUSPECT = 1
const ST_FAILED = 2
/** Left by force (`murmur force-leave`): the member's own record never said so. */
const ST_LEFT = 3

/** A datagram ping whose refusal (nothing listens at the target's port) the transport reports as unreachable. */
function watchedPing (to: string, addrs: readonly string[], seq: number): Effect {
  return { kind: 'send', to, addrs, packet: { t: 'ping', s: seq, to }, probe: true }
}

function cmp (a: Version, b: Version): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1]
}

function versionOf (h: Heartbeat): Version {
  return [h.generation, h.counter]
}

function latest (a: Version, b: Version): Version {
  return cmp(a, b) >= 0 ? a : b
}

/**
 * Record fields whose change alone is no news worth a broadcast (see Swim.updateSelf). The
 * service's own metrics (`custom`) are news: control rules act on them, and a rule's actor
 * that heard of only some members' new values would judge on a stale aggregate.
 */
const QUIET_FIELDS = new Set(['counter', 'metrics', 'sentAt'])

/**
 * Digest rounds that find nothing to exchange stretch the sync period, doubling up to this
 * factor (1 s to 8 s by default); any change of the table, or a round that finds a
 * difference, brings it back at once (see IdlePace; memberlist push-pulls every 30 s).
 */
const SYNC_BACKOFF_MAX = 8

/**
 * While members are arriving (one this agent did not list before arrived in the last
 * ARRIVALS_MS), a digest round follows news (a change of the table, or a member that found a
 * difference with this one) after this share of syncIntervalMs once rounds had stretched:
 * 0.24-0.36 s by default, against 0.8-1.2 s otherwise; the first round after the start comes
 * as soon (0.15-0.45 s). Digest rounds carry most of a join burst. In the simulator (8 seeds),
 * agents that all join at once all see all after a median of 0.80 s at N = 30 and 1.03 s at
 * N = 100 this way, against 1.63 s and 2.10 s before. Only while members arrive: an idle
 * cluster's news is records that changed (load metrics, which digest rounds carry at their
 * base period), and 50 real agents sent 11 % more messages when every change brought a round
 * forward this much.
 */
const NEWS_SYNC_SHARE = 0.3
const ARRIVALS_MS = 5000

/**
 * In a cluster of up to JOIN_GOSSIP_MAX_LIVE members, a newcomer's record, heard first hand (its
 * join) or relayed, goes out within JOIN_GOSSIP_MS instead of at the next gossip round: while a
 * burst of joins keeps the broadcast queue busy, rounds come every gossipIntervalMs and each
 * hop of a join waited half of one. In the simulator (8 seeds, all joining within 100 ms), all
 * see all after a median of 0.43 s at N = 10 (was 0.60), 0.62 s at N = 30 (0.77) and 0.94 s
 * at N = 100 (1.07), at the same cost per agent. Not in larger clusters: there, a 1,000-join
 * burst then travelled by gossip more than by digest sync, every agent that heard a join by
 * gossip relayed it its full retransmits, and join records were still queued 30-60 s later
 * (+15-22 % bytes per agent in the simulator's steady window, 2 seeds). An idle queue needs
 * none of this: its first item goes out at once.
 */
const JOIN_GOSSIP_MS = 20
const JOIN_GOSSIP_MAX_LIVE = 256

/** True when `b` differs from `a` only in load metrics (and the stamp and counter every version has). */
function metricsOnly (a: Heartbeat, b: Heartbeat): boolean {
  const x = a as unknown as Record<string, unknown>
  const y = b as unknown as Record<string, unknown>
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (!QUIET_FIELDS.has(k) && x[k] !== y[k] && JSON.stringify(x[k]) !== JSON.stringify(y[k])) return false
  }
  return true
}

/** An effect of accepting a record that is worth a broadcast: a new member, a transition, a change beyond load metrics. */
function isNews (e: Effect): boolean {
  return e.kind === 'transition' || (e.kind === 'record' && (e.before === undefined || !metricsOnly(e.before, e.after)))
}

export class Swim {
  private readonly rows = new Map<string, Row>()
  private readonly broadcasts = new BroadcastQueue()
  readonly awareness: Awareness
  private readonly digest = new Uint32Array(DIGEST_BUCKETS)
  private readonly fineDigest = new Uint32Array(FINE_BUCKETS)
  private probeList: string[] = []
  private probeIndex = 0
  private nextProbeAt: number
  private nextGossipAt: number
  private nextSyncAt: number
  private readonly syncPace = new IdlePace(SYNC_BACKOFF_MAX)
  /** The digest changed since the sync pace last looked: the next round should come soon. */
  private digestChanged = false
  /** When a member this agent did not list before was last added (this agent itself at the start). */
  private lastArrivalAt = Number.NEGATIVE_INFINITY
  private nextReapAt: number
  private readonly probes = new Map<number, Probe>()
  private readonly relays = new Map<number, Relay>()
  private seq = 0
  /** Members alive or suspect, this agent included. */
  private live = 1
  private readonly refused = new Set<string>()
  /**
   * Members reaped here: the record version reaped, remembered for twice `reapMs`. Without it,
   * two agents that reap one departed member at different times (one learnt of it later: a
   * late joiner, a healed partition) hand its row back and forth by digest sync forever.
   * Only a newer record (the member started again) brings it back.
   */
  private readonly reaped = new Map<string, { v: Version, until: number }>()
  /** The table reached maxMembers and that was logged; cleared when a row is removed. */
  private fullNoted = false
  private readonly self: Row
  /** Rows under suspicion, so timers need not scan the whole table. */
  private readonly suspects = new Set<Row>()
  /** Failed rows: candidates for a reconnect attempt (a healed partition, a resumed process). */
  private readonly failed = new Set<Row>()
  private nextReconnectAt: number
  /** Member ids by name, for the name-ownership rule. */
  private readonly names = new Map<string, Set<string>>()
  /** Member ids in an array, for O(1) random picks. */
  private readonly ids: string[] = []
  private readonly idIndex = new Map<string, number>()

  constructor (self: Heartbeat, private readonly opts: SwimOptions, private readonly deps: SwimDeps, now: number) {
    this.awareness = new Awareness(opts.awarenessMax)
    this.self = this.newRow(self, deps.records.sign(self), 'alive', now)
    this.addRow(this.self, now)
    this.nextProbeAt = now + opts.probeIntervalMs * deps.rng()
    this.nextGossipAt = now + opts.gossipIntervalMs
    this.nextSyncAt = now + opts.syncIntervalMs * NEWS_SYNC_SHARE * (0.5 + deps.rng())
    this.nextReapAt = now + 10_000
    this.nextReconnectAt = now + opts.reconnectIntervalMs
  }

  get selfId (): string { return this.self.rec.id }

  /** Members that are alive or suspect, this agent included: SWIM's estimate of N. */
  get size (): number { return this.live }

  get (id: string): Member | undefined {
    const r = this.rows.get(id)
    return r === undefined ? undefined : { hb: r.rec, status: r.status, lastSeen: r.lastSeen, since: r.since }
  }

  list (): Member[] {
    const out: Member[] = []
    for (const r of this.rows.values()) out.push({ hb: r.rec, status: r.status, lastSeen: r.lastSeen, since: r.since })
    return out.sort((a, b) => (a.hb.name < b.hb.name ? -1 : a.hb.name > b.hb.name ? 1 : 0))
  }

  /** Members alive or suspect, this agent included. */
  get liveCount (): number { return this.live }

  /** A random live member other than this agent, in O(1): a partner for anti-entropy. */
  randomPeer (): Member | undefined {
    const r = this.randomMembers(1, new Set([this.selfId]), 'alive')[0]
    return r === undefined ? undefined : this.get(r.rec.id)
  }

  signedRecord (id: string): SignedRecord | undefined {
    return this.rows.get(id)?.signed
  }

  suspicionCount (): number {
    let n = 0
    for (const r of this.suspects) if (r.suspicion !== undefined) n++
    return n
  }

  // ---- inputs from the shell -------------------------------------------------------------

  /**
   * Publish a new version of our own record (services, health, metrics, or leaving). News
   * (services, health, addresses, leaving, the service's own metrics) is broadcast at once. A
   * version that differs only in its load metrics is not: every member would relay it about log N times, which
   * made metrics the largest share of an idle cluster's messages (O(N) per agent, since each
   * agent refreshes its metrics every 30 s at most). It spreads by the digest exchange instead,
   * one member per sync interval, at a cost per agent that does not grow with N.
   */
  updateSelf (fields: Partial<Omit<Heartbeat, 'v' | 'id' | 'generation' | 'counter'>>, now: number): Effect[] {
    const me = this.self
    const rec: Heartbeat = { ...me.rec, ...fields, counter: me.rec.counter + 1 }
    const signed = this.deps.records.sign(rec)
    const out: Effect[] = [{ kind: 'record', id: rec.id, before: me.rec, after: rec }]
    const news = !metricsOnly(me.rec, rec)
    this.setRecord(me, rec, signed)
    me.sv = versionOf(rec)
    if (rec.status === 'left') out.push(...this.move(me, 'left', now))
    if (news) this.queueAlive(me)
    this.paceSync(now)
    return out
  }

  /** Exchange full state with a contact: on join, and with any new connection we know nothing of. */
  pushPull (to: string, addrs: readonly string[] = []): Effect[] {
    return this.sendState(to, addrs, true)
  }

  /**
   * Serf's force-leave: a failed member is marked left, so it is no longer retried. The news
   * is broadcast, and the state travels in push-pull and digest sync like a failure does
   * (ST_LEFT), so that agents the broadcast missed (partitioned, down, joining later) learn it
   * too. It comes back by starting again (a newer record refutes it). Idempotent: a member
   * already left is left alone.
   */
  forceLeave (id: string, now: number): Effect[] {
    const r = this.rows.get(id)
    if (r === undefined || r.status !== 'failed') return []
    const out = this.forcedLeft(r, r.sv, this.selfId, now)
    this.paceSync(now)
    return out
  }

  /** A connection to `peer` closed. For a live member that is a hint: probe it now. */
  connectionLost (peer: string, now: number): Effect[] {
    const r = this.rows.get(peer)
    if (r === undefined || r.status !== 'alive' || peer === this.selfId) return []
    for (const p of this.probes.values()) if (p.target === peer) return []
    return this.startProbe(r, now, true)
  }

  /**
   * A message to `peer` could not be handed over (refused, reset, another identity at its
   * address). A direct probe of it has failed now rather than at its timeout: ask others at
   * once. A probe we relay to it is answered with a nack at once. Like a closed connection,
   * this is a hint: the peer is suspected only if the others cannot reach it either.
   */
  unreachable (peer: string, now: number): Effect[] {
    const out: Effect[] = []
    for (const p of [...this.probes.values()]) {
      if (p.target !== peer) continue
      // A refused datagram still leaves the stream ping of the indirect probe to try: the
      // member may advertise a UDP address that does not reach it (a wrong --advertise, NAT)
      // while its TCP address does. A refused stream ping is not tried again.
      if (p.stream === 'pending') p.stream = 'lost'
      if (!p.indirect) out.push(...this.indirectProbe(p, now))
      // Nothing left that could be answered: every relay nacked and no stream ping is pending.
      // A kill -9 shows here within a round trip: the dials are refused (the host answers RST).
      if (this.settled(p)) out.push(...this.probeFailed(p, now))
    }
    for (const [seq, r] of [...this.relays]) {
      if (r.target !== peer) continue
      this.relays.delete(seq)
      out.push({ kind: 'send', to: r.origin, addrs: this.rows.get(r.origin)?.rec.addrs ?? [], packet: { t: 'nack', s: r.originSeq } })
    }
    return out
  }

  /**
   * This agent's timers ran `lateMs` late: it was stalled (SIGSTOP, CPU starvation, a long
   * GC). Lifeguard: its own health is suspect, not its peers'. Worsen the local health score
   * and push every deadline in flight (probes, relays, suspicions) back by the stall, so that
   * nothing times out on time this agent did not see; acks that arrived meanwhile still count.
   */
  stalled (lateMs: number, now: number): Effect[] {
    this.awareness.apply(this.opts.awarenessMax)
    for (const p of this.probes.values()) { p.ackBy += lateMs; p.endAt += lateMs }
    for (const r of this.relays.values()) r.nackAt += lateMs
    for (const r of this.suspects) if (r.suspicion !== undefined) r.suspicion = r.suspicion.shift(lateMs)
    this.nextProbeAt = Math.max(this.nextProbeAt, now + this.opts.probeIntervalMs)
    return [{ kind: 'note', level: 'warn', what: 'timers ran late: this agent was stalled; its deadlines are extended by the stall', fields: { lateMs: Math.round(lateMs) } }]
  }

  /** A timer ran a little late (event-loop delay): count it against local health. */
  slow (): void {
    this.awareness.apply(1)
  }

  /** The earliest time `tick` has something to do. */
  nextDeadline (): number {
    let t = Math.min(this.nextProbeAt, this.nextSyncAt, this.nextReapAt, this.nextReconnectAt)
    if (this.broadcasts.size > 0) t = Math.min(t, this.nextGossipAt)
    for (const p of this.probes.values()) t = Math.min(t, p.indirect ? p.endAt : p.ackBy)
    for (const r of this.relays.values()) t = Math.min(t, r.nackAt)
    for (const r of this.suspects) if (r.suspicion !== undefined) t = Math.min(t, r.suspicion.deadline())
    return t
  }

  tick (now: number): Effect[] {
    const out: Effect[] = []
    for (const p of [...this.probes.values()]) {
      if (!p.indirect && now >= p.ackBy) out.push(...this.indirectProbe(p, now))
      if (p.indirect && now >= p.endAt) out.push(...this.probeFailed(p, now))
    }
    for (const [seq, r] of this.relays) {
      if (now >= r.nackAt) {
        this.relays.delete(seq)
        const o = this.rows.get(r.origin)
        out.push({ kind: 'send', to: r.origin, addrs: o?.rec.addrs ?? [], packet: { t: 'nack', s: r.originSeq } })
      }
    }
    for (const r of [...this.suspects]) {
      if (r.suspicion !== undefined && now >= r.suspicion.deadline()) out.push(...this.declareFailed(r, r.sv, this.selfId, now))
    }
    if (now >= this.nextProbeAt) {
      this.nextProbeAt = now + this.awareness.scale(this.opts.probeIntervalMs)
      const target = this.nextTarget()
      if (target !== undefined) out.push(...this.startProbe(target, now, false))
    }
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.opts.gossipIntervalMs
      this.broadcasts.round(retransmitLimit(this.opts.retransmitMult, this.live))
      out.push(...this.gossip())
    }
    if (now >= this.nextSyncAt) {
      this.nextSyncAt = now + this.syncPace.next() * this.opts.syncIntervalMs * (0.8 + 0.4 * this.deps.rng())
      const peer = this.randomMembers(1, new Set([this.selfId]))[0]
      if (peer !== undefined) out.push({ kind: 'send', to: peer.rec.id, addrs: peer.rec.addrs, packet: { t: 'dig', h: new Uint8Array(this.digest.slice().buffer), s: 1 } })
    }
    if (now >= this.nextReconnectAt) {
      // Serf's reconnect: a failed member may be back (a healed partition, a resumed process);
      // a push-pull with it makes it refute, and brings both sides' news across. As in Serf,
      // each agent tries with probability failed / live, so that the cluster makes about one
      // attempt per failed member per interval, whatever N. With every agent trying, a member
      // back from a partition got N full states within one interval, and each agent sent a full
      // state every interval for as long as any member stayed failed (an hour, until reaped):
      // in the simulator, 100 agents with one member crashed sent 5.8 KB/s each, against 1.5
      // with none. A side that lost most of the cluster (failed >= live) tries every interval.
      this.nextReconnectAt = now + this.opts.reconnectIntervalMs * (0.8 + 0.4 * this.deps.rng())
      if (this.failed.size > 0 && this.deps.rng() < this.failed.size / Math.max(1, this.live)) {
        const pick = [...this.failed][Math.floor(this.deps.rng() * this.failed.size)]
        out.push(...this.sendState(pick.rec.id, pick.rec.addrs, true))
      }
    }
    if (now >= this.nextReapAt) {
      this.nextReapAt = now + 10_000
      out.push(...this.reap(now))
    }
    this.paceSync(now)
    return out
  }

  /** A packet from `from` (the transport's authenticated peer id). Malformed input is dropped. */
  handle (from: string, raw: unknown, now: number): Effect[] {
    if (!isPacket(raw)) return [{ kind: 'rejected', from }]
    const p = raw
    const out: Effect[] = []
    const sender = this.rows.get(from)
    if (sender !== undefined) sender.lastSeen = now
    if ('b' in p && p.b !== undefined) for (const b of p.b) out.push(...this.applyBroadcast(from, b, now))
    switch (p.t) {
      case 'ping':
        // A ping meant for an earlier incarnation of this address (another peer id) is not ours.
        if (p.to !== this.selfId) break
        // The fallback ping came over a stream: its ack must too, datagrams may not get through.
        out.push(this.reply(from, { t: 'ack', s: p.s }, p.r === 1))
        break
      case 'ack': {
        const relay = this.relays.get(p.s)
        if (relay !== undefined) {
          this.relays.delete(p.s)
          const o = this.rows.get(relay.origin)
          out.push({ kind: 'send', to: relay.origin, addrs: o?.rec.addrs ?? [], packet: { t: 'ack', s: relay.originSeq } })
          break
        }
        const probe = this.probes.get(p.s)
        if (probe !== undefined) {
          this.probes.delete(p.s)
          if (!probe.hint) this.awareness.apply(-1)
          const r = this.rows.get(probe.target)
          if (r !== undefined) r.lastSeen = now
        }
        break
      }
      case 'nack': {
        const probe = this.probes.get(p.s)
        if (probe === undefined) break
        probe.nacks++
        if (this.settled(probe)) out.push(...this.probeFailed(probe, now))
        break
      }
      case 'preq': {
        const seq = ++this.seq
        this.relays.set(seq, { origin: from, originSeq: p.s, target: p.to, nackAt: now + this.opts.probeTimeoutMs + this.dialAllowance(p.to) })
        const known = this.rows.get(p.to)?.rec.addrs ?? []
        const addrs = known.length > 0 ? known : p.a
        // After a hint the prober asks for a ping over a stream; a watched datagram goes too
        // (see startProbe).
        if (p.r === 1) out.push({ kind: 'send', to: p.to, addrs, packet: { t: 'ping', s: seq, to: p.to, r: 1 }, stream: true })
        out.push(watchedPing(p.to, addrs, seq))
        break
      }
      case 'gossip':
        break
      case 'pp':
        out.push(...this.mergeState(from, p.e, now))
        if (p.r) out.push(...this.sendState(from, this.rows.get(from)?.rec.addrs ?? [], false))
        break
      case 'dig':
        out.push(...this.answerDigest(from, p.h, p.s === 1, now))
        break
      case 'dif':
        this.syncFound(now)
        out.push(...this.answerDiff(from, p.v, p.k, p.n ?? DIGEST_BUCKETS))
        break
      case 'sub':
        out.push(...this.answerSub(from, p.k, p.h, now))
        break
      case 'st': {
        const merged = this.mergeState(from, p.e, now)
        // The exchange brought news: others may still lack it, or have more; sync again soon
        // (syncIntervalMs documents this follow-up), so a join spreads in a few quick rounds.
        if (merged.some(e => e.kind === 'record')) this.nextSyncAt = Math.min(this.nextSyncAt, now + this.opts.syncIntervalMs / 4)
        out.push(...merged)
        if (p.w !== undefined && p.w.length > 0) {
          const e = p.w.flatMap(id => { const r = this.rows.get(id); return r === undefined ? [] : [this.stateEntry(r)] })
          if (e.length > 0) for (const part of packed(e, entryBytes, this.opts.packetBudget)) out.push(this.reply(from, { t: 'st', e: part }))
        }
        break
      }
      case 'refuse':
        out.push({ kind: 'note', level: 'error', what: 'refused by a member: another live agent owns this node name', fields: { by: from, reason: p.reason } })
        break
    }
    this.paceSync(now)
    return out
  }

  // ---- probing ---------------------------------------------------------------------------

  private nextTarget (): Row | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.probeIndex < this.probeList.length) {
        const r = this.rows.get(this.probeList[this.probeIndex++])
        if (r !== undefined && r.rec.id !== this.selfId && isLive(r)) return r
      }
      // End of the list: reshuffle (Fisher-Yates), so every member is probed once per round.
      this.probeList = [...this.rows.keys()].filter(id => id !== this.selfId)
      for (let i = this.probeList.length - 1; i > 0; i--) {
        const j = Math.floor(this.deps.rng() * (i + 1))
        const t = this.probeList[i]; this.probeList[i] = this.probeList[j]; this.probeList[j] = t
      }
      this.probeIndex = 0
    }
    return undefined
  }

  /**
   * Extra time for a message to `id` that needs a connection opened first: a dial (TCP, Noise,
   * identify) can take longer than the probe timeout on a busy host, and a probe must not take
   * that for silence. Members are probed round-robin, so this is the first probe of each one.
   */
  private dialAllowance (id: string): number {
    return this.deps.connected?.(id) === false ? this.opts.probeIntervalMs : 0
  }

  private startProbe (target: Row, now: number, hint: boolean): Effect[] {
    const seq = ++this.seq
    const dial = this.dialAllowance(target.rec.id)
    this.probes.set(seq, {
      seq,
      target: target.rec.id,
      ackBy: now + this.awareness.scale(this.opts.probeTimeoutMs) + dial,
      endAt: now + this.awareness.scale(this.opts.probeIntervalMs) + dial,
      indirect: false,
      expectedNacks: 0,
      nacks: 0,
      hint
    })
    // A hint (the connection closed) is checked by a watched datagram too, not over a stream:
    // a dead process's host refuses it within a round trip (the transport reports that as
    // unreachable, as it would a refused dial), and a live member that closed a connection it
    // had opened for one message (libp2p-transport.ts) just answers, where a stream ping would
    // dial it again. Without datagrams the ping takes a stream anyway.
    const ping = this.packetTo(target, { t: 'ping', s: seq, to: target.rec.id })
    return ping.kind === 'send' ? [{ ...ping, probe: true }] : []
  }

  private indirectProbe (p: Probe, now: number): Effect[] {
    p.indirect = true
    // Relays wait probeTimeoutMs before they nack: leave them that, and a little more, even
    // when the direct probe failed early.
    const target = this.rows.get(p.target)
    if (target === undefined) return []
    const relays = this.randomMembers(this.opts.indirectChecks, new Set([this.selfId, p.target]), 'alive')
    // A relay we must dial first may have to dial the target too.
    const dial = relays.some(r => this.dialAllowance(r.rec.id) > 0) ? 2 * this.opts.probeIntervalMs : 0
    p.endAt = Math.max(p.endAt, now + this.awareness.scale(this.opts.probeTimeoutMs) + this.opts.probeTimeoutMs / 2 + dial)
    p.expectedNacks = relays.length
    // After a hint, relays ping over a stream too, so that they also learn of a refusal at once.
    const out = relays.map(r => this.packetTo(r, p.hint && this.opts.streamFallback
      ? { t: 'preq', s: p.seq, to: p.target, a: [...target.rec.addrs], r: 1 }
      : { t: 'preq', s: p.seq, to: p.target, a: [...target.rec.addrs] }))
    if (this.opts.streamFallback && p.stream !== 'lost') {
      // memberlist's TCP fallback: where datagrams are dropped between two hosts but
      // connections pass, the target still answers, and is not taken for dead.
      p.stream = 'pending'
      out.push({ kind: 'send', to: target.rec.id, addrs: target.rec.addrs, packet: { t: 'ping', s: p.seq, to: target.rec.id, r: 1 }, stream: true })
    }
    return out
  }

  /**
   * An indirect probe with nothing more to wait for: every relay nacked (it could not reach
   * the target either) and no stream ping may still be answered. No need to wait for the end
   * of the interval (memberlist does; it has no refusals to go by).
   */
  private settled (p: Probe): boolean {
    return p.indirect && p.stream !== 'pending' && p.nacks >= p.expectedNacks
  }

  private probeFailed (p: Probe, now: number): Effect[] {
    this.probes.delete(p.seq)
    // Lifeguard: relays that did not even nack point at our own network or process, not theirs.
    if (!p.hint) this.awareness.apply(p.expectedNacks > 0 ? (p.expectedNacks - p.nacks > 0 ? 1 : 0) : 1)
    const r = this.rows.get(p.target)
    // A suspect we could not reach either: our own accusation confirms the suspicion (memberlist).
    if (r === undefined || (r.status !== 'alive' && r.status !== 'suspect')) return []
    return this.suspect(r, r.sv, this.selfId, now)
  }

  // ---- state transitions (memberlist state.go) ---------------------------------------------

  private suspect (r: Row, v: Version, by: string, now: number): Effect[] {
    if (r.status === 'failed' || r.status === 'left') return []
    if (cmp(v, r.sv) < 0) return this.staleAccusation(r, now)
    if (r === this.self) return this.refute(v, 'suspect', by)
    if (r.status === 'suspect' && r.suspicion !== undefined) {
      // It names a version this agent has not seen (one that changed only load metrics is
      // not gossiped, QUIET_FIELDS): those who hold it ignore accusations of older ones, this
      // agent's own included, so that one is sent again naming it.
      const newer = cmp(v, r.sv) > 0
      if (newer) r.sv = v
      const counted = r.suspicion.confirm(by)
      // One accusation per member waits in the queue: an agent that accused the member itself
      // spreads its own, not the others' it hears (relaying them replaced its own before it
      // went out, and after a kill -9 seen by six agents at once only two accusations went
      // round: the timeout shrank for two confirmations, not three). Those who did not accuse
      // relay what they hear.
      const own = r.suspicion.accused(this.selfId)
      if (counted && (by === this.selfId || !own)) this.queueAccusation('s', r, by)
      else if (newer && own) this.queueAccusation('s', r, this.selfId)
      return []
    }
    const { min, max } = suspicionBounds(this.opts, this.live)
    const k = this.live - 2 < this.opts.suspicionConfirmations ? 0 : this.opts.suspicionConfirmations
    r.sv = v
    // The floor, reached with k confirmations, is stretched by this agent's local health score
    // (never past the ceiling): confirmations from members as starved as this one (agents
    // started together on one host) are no evidence, and the suspect may simply not have had
    // the CPU to refute yet. A healthy agent keeps memberlist's floor.
    r.suspicion = new Suspicion(now, k, Math.min(max, this.awareness.scale(min)), max, by)
    this.queueAccusation('s', r, by)
    const out = this.move(r, 'suspect', now)
    // Heard from another: a few of those who hear it (k on average) probe the suspect at once
    // rather than at its turn in their round-robin, up to N seconds away. A dead member is then
    // confirmed within about a probe interval and declared failed at the floor of the timeout,
    // not at its ceiling; a live one gets the accusation piggybacked on those pings, and refutes.
    if (by !== this.selfId && k > 0 && this.deps.rng() * Math.max(1, this.live - 2) < k) out.push(...this.verify(r, now))
    return out
  }

  /**
   * An accusation (suspect, failed) naming an older version of a member than this agent holds:
   * no evidence, as the newer version may be the member's refutation, but a reason to look.
   * A few of those who hear it (k on average, as for a new suspicion) probe the member now: if
   * it is gone, their own accusations name the version they hold, and count where it is held.
   */
  private staleAccusation (r: Row, now: number): Effect[] {
    if (r === this.self || !isLive(r)) return []
    const k = this.opts.suspicionConfirmations
    return this.deps.rng() * Math.max(1, this.live - 2) < k ? this.verify(r, now) : []
  }

  /** Probe a suspect now, unless a probe of it is in flight. */
  private verify (r: Row, now: number): Effect[] {
    for (const p of this.probes.values()) if (p.target === r.rec.id) return []
    return this.startProbe(r, now, true)
  }

  private declareFailed (r: Row, v: Version, by: string, now: number): Effect[] {
    if (r.status === 'failed' || r.status === 'left') return []
    if (cmp(v, r.sv) < 0) return this.staleAccusation(r, now)
    if (r === this.self) return this.refute(v, 'failed', by)
    r.sv = v
    r.suspicion = undefined
    this.queueAccusation('d', r, by)
    return this.move(r, 'failed', now)
  }

  /** `spread`: broadcast it on (a force-leave here, or its broadcast); state merges do not. */
  private forcedLeft (r: Row, v: Version, by: string, now: number, spread = true): Effect[] {
    if (cmp(v, r.sv) < 0 || r.status === 'left') return []
    if (r === this.self) return this.refute(v, 'left by force', by)
    r.sv = v
    if (spread) this.queueAccusation('l', r, by)
    return this.move(r, 'left', now)
  }

  /** Someone accuses us: outbid the accusation with a newer version of our record. */
  private refute (v: Version, what: string, by: string): Effect[] {
    const me = this.self
    if (me.status === 'left') return []
    const counter = Math.max(me.rec.counter, v[1]) + 1
    const rec: Heartbeat = { ...me.rec, counter }
    this.setRecord(me, rec, this.deps.records.sign(rec))
    me.sv = versionOf(rec)
    this.awareness.apply(1)
    this.queueAlive(me)
    return [{ kind: 'note', level: 'info', what: `refuted: a member declared this agent ${what}`, fields: { by, counter } }]
  }

  /**
   * A signed record. Newer than ours: verified (once per member and version), stored, spread
   * on (`rebroadcast`), and it refutes any accusation made against an older version.
   */
  private acceptRecord (from: string, signed: SignedRecord, now: number, rebroadcast: boolean, failedAt?: Version, forced = false): { row?: Row, fresh: boolean, out: Effect[] } {
    const rec = this.deps.records.decode(signed.body)
    if (rec === undefined) return { fresh: false, out: [{ kind: 'rejected', from }] }
    const r = this.rows.get(rec.id)
    if (r !== undefined && r === this.self) {
      // A record of ours newer than ours (a replay, or our own previous life's counter): outbid it.
      if (cmp(versionOf(rec), versionOf(r.rec)) > 0 && rec.generation === r.rec.generation) return { row: r, fresh: false, out: this.refute(versionOf(rec), 'alive elsewhere', from) }
      return { row: r, fresh: false, out: [] }
    }
    if (r !== undefined && cmp(versionOf(rec), versionOf(r.rec)) <= 0) return { row: r, fresh: false, out: [] }
    if (r === undefined && this.refused.has(`${rec.id}/${rec.generation}/${rec.counter}`)) return { fresh: false, out: [] }
    if (r === undefined && this.forgotten(rec.id, versionOf(rec))) return { fresh: false, out: [] }
    if (r === undefined && this.rows.size >= this.opts.maxMembers) return { fresh: false, out: this.full(from) }
    if (!this.deps.records.verify(rec.id, signed.body, signed.sig)) return { fresh: false, out: [{ kind: 'rejected', from }] }
    signed = this.deps.records.keep(signed)
    const out: Effect[] = []
    if (r === undefined) {
      const owner = this.nameOwner(rec, now, out)
      if (owner === 'refuse') {
        this.refused.add(`${rec.id}/${rec.generation}/${rec.counter}`)
        return { fresh: false, out }
      }
      // A member we never saw, relayed as failed (or left by force): list it so, never alive
      // and passing. A late joiner thus learns a force-leave made before it came.
      const ended = rec.status !== 'left' && failedAt !== undefined && cmp(failedAt, versionOf(rec)) >= 0
      const status = rec.status === 'left' ? 'left' : ended ? (forced ? 'left' : 'failed') : 'alive'
      const row = this.newRow(rec, signed, status, now)
      if (ended) row.sv = failedAt as Version
      this.addRow(row, now)
      if (row.status === 'alive') this.live++
      // A newcomer goes into the probe list at a random place (memberlist does the same).
      const at = this.probeIndex + Math.floor(this.deps.rng() * (this.probeList.length - this.probeIndex + 1))
      this.probeList.push(rec.id)
      const swap = this.probeList[at]; this.probeList[at] = rec.id; this.probeList[this.probeList.length - 1] = swap
      out.push({ kind: 'record', id: rec.id, before: undefined, after: rec })
      out.push({ kind: 'transition', t: { id: rec.id, name: rec.name, from: 'none', to: row.status } })
      if (rebroadcast) {
        this.queueAlive(row)
        this.gossipSoon(now)
      }
      return { row, fresh: true, out }
    }
    const before = r.rec
    this.setRecord(r, rec, signed)
    r.lastSeen = now
    out.push({ kind: 'record', id: rec.id, before, after: rec })
    if (rec.status === 'left') {
      r.sv = versionOf(rec)
      r.suspicion = undefined
      out.push(...this.move(r, 'left', now))
    } else if (r.status === 'alive' || cmp(versionOf(rec), r.sv) > 0 || rec.generation > before.generation) {
      r.sv = versionOf(rec)
      r.suspicion = undefined
      out.push(...this.move(r, 'alive', now))
    }
    if (rebroadcast) this.queueAlive(r)
    return { row: r, fresh: false, out }
  }

  /** A newcomer dropped at `maxMembers`: counted each time, said once until the table has room again. */
  private full (from: string): Effect[] {
    const out: Effect[] = [{ kind: 'full', from }]
    if (!this.fullNoted) {
      this.fullNoted = true
      out.push({ kind: 'note', level: 'warn', what: 'member table full: records of new members are dropped (--max-members)', fields: { members: this.rows.size, from } })
    }
    return out
  }

  /**
   * Names are owned. A new peer id with the name of a member we list replaces that member when
   * it is the same agent restarted without its data dir (a newer generation at one of the same
   * addresses), or when the old one is failed or left; otherwise it is refused and told why.
   */
  private nameOwner (rec: Heartbeat, now: number, out: Effect[]): 'accept' | 'refuse' {
    for (const oldId of this.names.get(rec.name) ?? []) {
      const old = this.rows.get(oldId) as Row
      if (old.rec.id === rec.id) continue
      const gone = old.status === 'failed' || old.status === 'left'
      const sameHost = old.rec.address === rec.address && old.rec.addrs.some(a => rec.addrs.includes(a))
      if (old !== this.self && (gone || (sameHost && rec.generation > old.rec.generation))) {
        this.remove(old)
        out.push({ kind: 'transition', t: { id: old.rec.id, name: old.rec.name, from: old.status, to: 'reaped' } })
        out.push({ kind: 'note', level: 'info', what: gone ? 'name taken over from a departed member' : 'member restarted with a new identity: old row replaced', fields: { name: rec.name, old: old.rec.id, id: rec.id } })
        return 'accept'
      }
      if (old !== this.self && sameHost && rec.generation < old.rec.generation) return 'refuse' // a stale record of a previous life
      const reason = `node name '${rec.name}' belongs to live member ${old.rec.id} at ${old.rec.address}; choose another --node or stop that agent`
      out.push({ kind: 'note', level: 'warn', what: 'refused a member: its name is taken', fields: { name: rec.name, id: rec.id, owner: old.rec.id } })
      out.push({ kind: 'send', to: rec.id, addrs: rec.addrs, packet: { t: 'refuse', reason } })
      return 'refuse'
    }
    void now
    return 'accept'
  }

  private applyBroadcast (from: string, bytes: Uint8Array, now: number): Effect[] {
    const item = this.deps.decode(bytes) as Record<string, unknown> | undefined
    if (typeof item !== 'object' || item === null) return [{ kind: 'rejected', from }]
    if (item.k === 'a' && item.s instanceof Uint8Array && item.g instanceof Uint8Array) {
      return this.acceptRecord(from, { body: item.s, sig: item.g }, now, true).out
    }
    if ((item.k === 's' || item.k === 'd' || item.k === 'l') && typeof item.id === 'string' && typeof item.by === 'string' &&
      Number.isSafeInteger(item.gen) && Number.isSafeInteger(item.c)) {
      const r = this.rows.get(item.id)
      if (r === undefined) return []
      const v: Version = [item.gen as number, item.c as number]
      return item.k === 's' ? this.suspect(r, v, item.by, now) : item.k === 'd' ? this.declareFailed(r, v, item.by, now) : this.forcedLeft(r, v, item.by, now)
    }
    return [{ kind: 'rejected', from }]
  }

  /** Merge a peer's state entries (push-pull, digest sync): records, then their liveness. */
  private mergeState (from: string, entries: readonly unknown[], now: number): Effect[] {
    const out: Effect[] = []
    for (const e of entries) {
      if (!isStateEntry(e)) { out.push({ kind: 'rejected', from }); continue }
      const [body, sig, st, g, c] = e
      // Only the peer's own record is spread on: relaying everyone's would flood on each join.
      const v: Version = [g, c]
      const got = this.acceptRecord(from, { body, sig }, now, false, st === ST_FAILED || st === ST_LEFT ? v : undefined, st === ST_LEFT)
      out.push(...got.out)
      const r = got.row
      if (r === undefined) continue
      // A version that differs only in load metrics is not news (see updateSelf): relaying it
      // would turn each digest sync that carries it into a cluster-wide broadcast. The relay
      // expires (broadcasts.ts): a contact gets a burst of them when agents start together.
      // Records relayed from gossip keep their full retransmits: at 5 % loss, N = 1,000 in the
      // simulation, expiring those too sent more, not less (32.6 against 28.4 messages a second
      // per agent, seed 1).
      if (r.rec.id === from && got.out.some(isNews)) {
        this.queueAlive(r, true)
        if (got.fresh) this.gossipSoon(now)
      }
      if (st === ST_ALIVE || got.fresh || r.status === 'left') continue
      if (r.status === 'failed') {
        // Failed here, forced out there, and not back since (the record we hold is no newer
        // than the one forced out): left here too, without a broadcast (the sync carries it).
        if (st === ST_LEFT && cmp(v, versionOf(r.rec)) >= 0) out.push(...this.forcedLeft(r, latest(v, r.sv), from, now, false))
        continue
      }
      // Someone saw it fail, suspects it, or forced it out: suspect it here, and let it refute
      // if alive; once failed here, the next sync brings the forced leave.
      out.push(...this.suspect(r, v, from, now))
    }
    return out
  }

  private move (r: Row, to: MemberStatus, now: number): Effect[] {
    if (r.status === to) return []
    const from = r.status
    const wasLive = isLive({ status: from })
    const nowLive = isLive({ status: to })
    if (wasLive && !nowLive) this.live--
    if (!wasLive && nowLive) this.live++
    this.bucketXor(r)
    r.status = to
    r.since = now
    if (to !== 'suspect') r.suspicion = undefined
    if (from === 'suspect') this.suspects.delete(r)
    if (to === 'suspect') this.suspects.add(r)
    if (from === 'failed') this.failed.delete(r)
    if (to === 'failed') this.failed.add(r)
    this.bucketXor(r)
    return [{ kind: 'transition', t: { id: r.rec.id, name: r.rec.name, from, to } }]
  }

  private reap (now: number): Effect[] {
    const out: Effect[] = []
    for (const [id, x] of this.reaped) if (now >= x.until) this.reaped.delete(id)
    for (const r of [...this.rows.values()]) {
      if ((r.status === 'failed' || r.status === 'left') && now - r.since >= this.opts.reapMs) {
        this.remove(r)
        this.reaped.set(r.rec.id, { v: versionOf(r.rec), until: now + 2 * this.opts.reapMs })
        out.push({ kind: 'transition', t: { id: r.rec.id, name: r.rec.name, from: r.status, to: 'reaped' } })
      }
    }
    return out
  }

  /** Reaped here at version `v` or later: not to be taken back from a peer (see `reaped`). */
  private forgotten (id: string, v: Version): boolean {
    const x = this.reaped.get(id)
    return x !== undefined && cmp(v, x.v) <= 0
  }

  private remove (r: Row): void {
    this.fullNoted = false
    this.bucketXor(r)
    if (isLive(r)) this.live--
    this.rows.delete(r.rec.id)
    this.suspects.delete(r)
    this.failed.delete(r)
    const i = this.idIndex.get(r.rec.id) as number
    const last = this.ids.pop() as string
    if (last !== r.rec.id) { this.ids[i] = last; this.idIndex.set(last, i) }
    this.idIndex.delete(r.rec.id)
    const named = this.names.get(r.rec.name)
    named?.delete(r.rec.id)
    if (named?.size === 0) this.names.delete(r.rec.name)
  }

  private addRow (r: Row, now: number): void {
    this.lastArrivalAt = now
    this.rows.set(r.rec.id, r)
    if (r.status === 'failed') this.failed.add(r)
    this.idIndex.set(r.rec.id, this.ids.length)
    this.ids.push(r.rec.id)
    const named = this.names.get(r.rec.name) ?? new Set<string>()
    named.add(r.rec.id)
    this.names.set(r.rec.name, named)
    this.bucketXor(r)
  }

  // ---- dissemination -----------------------------------------------------------------------

  private queueAlive (r: Row, expires = false): void {
    this.broadcasts.queue({ key: r.rec.id, bytes: this.deps.encode({ k: 'a', s: r.signed.body, g: r.signed.sig }), expires })
  }

  /** A newcomer's record was queued: the next gossip round comes soon (see JOIN_GOSSIP_MS). */
  private gossipSoon (now: number): void {
    if (this.live <= JOIN_GOSSIP_MAX_LIVE) this.nextGossipAt = Math.min(this.nextGossipAt, now + JOIN_GOSSIP_MS)
  }

  private queueAccusation (k: 's' | 'd' | 'l', r: Row, by: string): void {
    this.broadcasts.queue({ key: r.rec.id, bytes: this.deps.encode({ k, id: r.rec.id, gen: r.sv[0], c: r.sv[1], by }) })
  }

  private gossip (): Effect[] {
    const out: Effect[] = []
    for (const r of this.randomMembers(this.opts.gossipNodes, new Set([this.selfId]))) {
      const b = this.broadcasts.take(this.opts.packetBudget, retransmitLimit(this.opts.retransmitMult, this.live))
      if (b.length === 0) break
      out.push({ kind: 'send', to: r.rec.id, addrs: r.rec.addrs, packet: { t: 'gossip', b } })
    }
    return out
  }

  /** A packet to a member, with whatever broadcasts fit piggybacked. */
  private packetTo (r: Row, packet: Packet): Effect {
    return { kind: 'send', to: r.rec.id, addrs: r.rec.addrs, packet: this.piggyback(packet) }
  }

  private reply (to: string, packet: Packet, stream = false): Effect {
    const e: Effect = { kind: 'send', to, addrs: this.rows.get(to)?.rec.addrs ?? [], packet: this.piggyback(packet) }
    if (stream) e.stream = true
    return e
  }

  private piggyback (packet: Packet): Packet {
    if (packet.t !== 'ping' && packet.t !== 'ack' && packet.t !== 'preq') return packet
    const b = this.broadcasts.take(this.opts.packetBudget - 64, retransmitLimit(this.opts.retransmitMult, this.live))
    return b.length > 0 ? { ...packet, b } : packet
  }

  private randomMembers (k: number, exclude: ReadonlySet<string>, only?: 'alive'): Row[] {
    // Sample by random index with a bounded number of draws: O(k), not O(N), per call.
    const ids = this.ids
    const out: Row[] = []
    const picked = new Set<string>()
    for (let draws = 0; out.length < k && draws < k * 8 + 8 && ids.length > 0; draws++) {
      const r = this.rows.get(ids[Math.floor(this.deps.rng() * ids.length)]) as Row
      if (exclude.has(r.rec.id) || picked.has(r.rec.id)) continue
      if (only === 'alive' ? r.status !== 'alive' : r.status !== 'alive' && r.status !== 'suspect') continue
      picked.add(r.rec.id)
      out.push(r)
    }
    return out
  }

  // ---- state exchange ----------------------------------------------------------------------

  private stateEntry (r: Row): StateEntry {
    const end = this.ending(r)
    const st = end === 2 ? ST_LEFT : end === 1 ? ST_FAILED : r.status === 'suspect' ? ST_SUSPECT : ST_ALIVE
    return [r.signed.body, r.signed.sig, st, r.sv[0], r.sv[1]]
  }

  /**
   * Our full state to `to`, asking for theirs in return (`ask`) or answering. In parts that each
   * fit a datagram: a joiner that reached us by a hello, or an agent found by mDNS, has no
   * connection to us, and a message too big for a datagram would need one (a dial, or nothing
   * when only the UDP address is known: a cluster's push-pull to an agent it found by mDNS was
   * lost that way once its state outgrew one datagram). Our own record comes first, in the
   * part that asks for the answer: the other side needs our addresses to send it. A large
   * cluster's state goes whole over a stream instead (memberlist's TCP push-pull): hundreds of
   * datagrams at once would overflow the other side's socket buffer, and most would be lost.
   */
  private sendState (to: string, addrs: readonly string[], ask: boolean): Effect[] {
    const entries = [this.stateEntry(this.self)]
    for (const r of this.rows.values()) if (r !== this.self) entries.push(this.stateEntry(r))
    const parts = packed(entries, entryBytes, this.opts.packetBudget)
    if (parts.length > MAX_STATE_DATAGRAMS) return [{ kind: 'send', to, addrs, packet: { t: 'pp', e: parts.flat(), r: ask }, stream: true }]
    return parts.map((e, i) => ({ kind: 'send', to, addrs, packet: { t: 'pp', e, r: ask && i === 0 } }))
  }

  private versionLine (r: Row): VersionLine {
    return [r.rec.id, r.rec.generation, r.rec.counter, this.ending(r)]
  }

  /**
   * Digest from a peer: answer with our version lines in the buckets that differ (or nothing),
   * or, when it reads them (`sub`) and those buckets are crowded, with their fine hashes.
   */
  private answerDigest (from: string, h: Uint8Array, sub: boolean, now: number): Effect[] {
    if (h.byteLength !== DIGEST_BUCKETS * 4) return [{ kind: 'rejected', from }]
    const theirs = new DataView(h.buffer, h.byteOffset, h.byteLength)
    const mine = new DataView(this.digest.buffer)
    const differ: number[] = []
    for (let i = 0; i < DIGEST_BUCKETS; i++) if (theirs.getUint32(i * 4, true) !== mine.getUint32(i * 4, true)) differ.push(i)
    if (differ.length === 0) return []
    this.syncFound(now)
    // While members arrive (a join burst), most fine buckets differ too, and hashes would only
    // delay the lines by a round trip: in the simulator, 1,000 agents joining at once took
    // ~0.3 s longer to see all (median of 4 seeds) with hashes during the burst.
    const arriving = now - this.lastArrivalAt < ARRIVALS_MS
    if (!sub || arriving || this.rows.size <= SUB_ABOVE * DIGEST_BUCKETS) return this.linesOf(from, new Set(differ), DIGEST_BUCKETS)
    // Lines for the buckets it has nothing in (a newcomer lacks them all), 16 fine hashes for
    // the others, each at fine index bucket + 64 m.
    const empty = new Set(differ.filter(b => theirs.getUint32(b * 4, true) === 0))
    const crowded = differ.filter(b => !empty.has(b))
    const size = (): number => 2 + SUB_BUCKETS * 4
    return [
      ...this.linesOf(from, empty, DIGEST_BUCKETS),
      ...(crowded.length === 0 ? [] : packed(crowded, size, this.opts.packetBudget)).map(k => {
        const h = new DataView(new ArrayBuffer(k.length * SUB_BUCKETS * 4))
        k.forEach((b, i) => { for (let m = 0; m < SUB_BUCKETS; m++) h.setUint32((i * SUB_BUCKETS + m) * 4, this.fineDigest[b + m * DIGEST_BUCKETS], true) })
        return this.reply(from, { t: 'sub', k, h: new Uint8Array(h.buffer) })
      })
    ]
  }

  /** Fine hashes of the buckets that differed from our digest: our lines in the fine buckets that differ. */
  private answerSub (from: string, buckets: readonly number[], h: Uint8Array, now: number): Effect[] {
    const theirs = new DataView(h.buffer, h.byteOffset, h.byteLength)
    const differ = new Set<number>()
    buckets.forEach((b, i) => {
      for (let m = 0; m < SUB_BUCKETS; m++) {
        const fine = b + m * DIGEST_BUCKETS
        if (theirs.getUint32((i * SUB_BUCKETS + m) * 4, true) !== this.fineDigest[fine]) differ.add(fine)
      }
    })
    if (differ.size === 0) return []
    this.syncFound(now)
    return this.linesOf(from, differ, FINE_BUCKETS)
  }

  /**
   * Our version lines in `differ`, buckets of `of` (DIGEST_BUCKETS or FINE_BUCKETS), packed into
   * replies that each fit a datagram: a reply lists every line of the buckets it names (the other
   * side sends what a bucket has beyond them).
   */
  private linesOf (to: string, differ: ReadonlySet<number>, of: number): Effect[] {
    if (differ.size === 0) return []
    const byBucket = new Map<number, VersionLine[]>()
    for (const b of differ) byBucket.set(b, [])
    for (const r of this.rows.values()) byBucket.get(r.fine % of)?.push(this.versionLine(r))
    const size = ([, lines]: [number, VersionLine[]]): number => 8 + lines.reduce((n, l) => n + l[0].length + 16, 0)
    return packed([...byBucket], size, this.opts.packetBudget).map(part => {
      const v = part.flatMap(([, lines]) => lines)
      const k = part.map(([b]) => b)
      return this.reply(to, of === FINE_BUCKETS ? { t: 'dif', v, k, n: of } : { t: 'dif', v, k })
    })
  }

  /** Their version lines for the differing buckets (of `of`): send what is newer here, ask for what is newer there. */
  private answerDiff (from: string, lines: readonly VersionLine[], differ: readonly number[], of: number): Effect[] {
    const theirs = new Map<string, VersionLine>()
    for (const l of lines) theirs.set(l[0], l)
    const want: string[] = []
    const send: StateEntry[] = []
    for (const l of lines) {
      const r = this.rows.get(l[0])
      if (r === undefined) { if (!this.forgotten(l[0], [l[1], l[2]])) want.push(l[0]); continue }
      // At one record version an end outranks none, and a forced leave outranks a failure.
      const c = cmp([l[1], l[2]], versionOf(r.rec))
      const mine = this.ending(r)
      if (c > 0 || (c === 0 && l[3] > mine)) want.push(l[0])
      else if (c < 0 || (c === 0 && l[3] < mine)) send.push(this.stateEntry(r))
    }
    // Ours in the same buckets that they do not list at all.
    const buckets = new Set(differ)
    for (const r of this.rows.values()) {
      if (buckets.has(r.fine % of) && !theirs.has(r.rec.id)) send.push(this.stateEntry(r))
    }
    if (send.length === 0 && want.length === 0) return []
    // Ids wanted and records, split over replies that fit a datagram each (a join's exchange
    // carries many of both): an id counts toward a reply's size as a record does.
    const items: Array<string | StateEntry> = [...want, ...send]
    const size = (x: string | StateEntry): number => typeof x === 'string' ? x.length + 2 : entryBytes(x)
    return packed(items, size, this.opts.packetBudget).map(part => {
      const e = part.filter((x): x is StateEntry => typeof x !== 'string')
      const w = part.filter((x): x is string => typeof x === 'string')
      return this.reply(from, w.length > 0 ? { t: 'st', e, w } : { t: 'st', e })
    })
  }

  private rowHash (r: Row): number {
    return fnv1a(`${r.rec.id}.${r.rec.generation}.${r.rec.counter}.${this.ending(r)}`)
  }

  /**
   * How a member ended, as the wire tells it beside its record: 0 not (alive, suspect, or a
   * leave its own record announces), 1 failed, 2 left by force (its own record never said so).
   */
  private ending (r: Row): 0 | 1 | 2 {
    if (r.status === 'failed') return 1
    return r.status === 'left' && r.rec.status !== 'left' ? 2 : 0
  }

  private bucketXor (r: Row): void {
    const h = this.rowHash(r)
    this.digest[r.fine % DIGEST_BUCKETS] ^= h
    this.fineDigest[r.fine] ^= h
    this.digestChanged = true
  }

  /** After a call that may have changed the table: a change is news to sync quickly. */
  private paceSync (now: number): void {
    if (!this.digestChanged) return
    this.digestChanged = false
    this.syncFound(now)
  }

  /** Something differs between members: digest rounds at the base period again, the next one soon. */
  private syncFound (now: number): void {
    if (!this.syncPace.news()) return
    const share = now - this.lastArrivalAt < ARRIVALS_MS ? NEWS_SYNC_SHARE : 1
    this.nextSyncAt = Math.min(this.nextSyncAt, now + this.opts.syncIntervalMs * share * (0.8 + 0.4 * this.deps.rng()))
  }

  private setRecord (r: Row, rec: Heartbeat, signed: SignedRecord): void {
    this.bucketXor(r)
    if (rec.name !== r.rec.name) {
      // Same peer id, new name (a data dir reused under another --node).
      this.names.get(r.rec.name)?.delete(r.rec.id)
      this.names.set(rec.name, (this.names.get(rec.name) ?? new Set<string>()).add(rec.id))
    }
    r.rec = rec
    r.signed = signed
    this.bucketXor(r)
  }

  private newRow (rec: Heartbeat, signed: SignedRecord, status: MemberStatus, now: number): Row {
    return { rec, signed, status, sv: versionOf(rec), since: now, lastSeen: now, fine: fnv1a(rec.id) % FINE_BUCKETS }
  }
}

/**
 * A push-pull (either way) that takes more datagrams than this goes over a stream (see
 * sendState): 64 datagrams hold about 128 records, so clusters up to about that size join
 * without a connection to the contact. Each connection costs the contact a handshake (~60 ms
 * of CPU here) and ~1 MiB for as long as it stays open; at 16, the contact of 50 agents started
 * at once ended up connected to 20 of them (the datagram socket's buffer is sized for 64).
 */
const MAX_STATE_DATAGRAMS = 64

/** Bytes a state entry takes on the wire, about: its signed record plus a few of framing. */
function entryBytes (e: StateEntry): number {
  return e[0].byteLength + e[1].byteLength + 24
}

/**
 * Items in order, cut into groups of about `budget` bytes (an item larger than that goes alone),
 * so each message fits one datagram. Always at least one group, empty when there are no items.
 */
export function packed<T> (items: readonly T[], size: (item: T) => number, budget: number): T[][] {
  const out: T[][] = [[]]
  let bytes = 0
  for (const item of items) {
    const n = size(item)
    if (out[out.length - 1].length > 0 && bytes + n > budget) { out.push([]); bytes = 0 }
    out[out.length - 1].push(item)
    bytes += n
  }
  return out
}
