// The membership component: drives the SWIM state machine (src/core/swim.ts) with a clock,
// a random source and a transport, and reports what changes. One job; the agent and the
// simulator both use it unchanged.
import { EventEmitter } from 'node:events'
import type { Heartbeat } from '../core/heartbeat.js'
import type { Member, Transition } from '../core/members.js'
import { Swim, type Effect, type RecordCodec } from '../core/swim.js'
import type { SwimOptions } from '../core/swim-options.js'
import { decode, encode } from '../net/codec.js'
import type { Clock, Rng, Timer, Transport } from '../net/transport.js'

export interface MembershipEvents {
  transition: [t: Transition]
  /** A member's record changed (or appeared): services, health, metrics, addresses. */
  record: [id: string, before: Heartbeat | undefined, after: Heartbeat]
  note: [level: 'info' | 'warn' | 'error', what: string, fields: Record<string, unknown>]
}

export interface MembershipDeps {
  transport: Transport
  clock: Clock
  rng: Rng
  records: RecordCodec
}

/** Lateness of our own timers that counts against local health (event-loop delay). */
const SLOW_MS = 250
/** An armed timer this much earlier than the next deadline is moved to it. */
const REARM_MS = 100

export class Membership extends EventEmitter<MembershipEvents> {
  readonly swim: Swim
  /** Malformed or badly signed input, dropped. */
  rejected = 0
  /** Records of new members dropped at --max-members. */
  dropped = 0
  private timer: Timer | undefined
  private retry: Timer | undefined
  private slowAt = Number.NEGATIVE_INFINITY
  private timerAt = Number.POSITIVE_INFINITY
  private stopped = false

  constructor (self: Heartbeat, private readonly opts: SwimOptions, private readonly deps: MembershipDeps) {
    super()
    this.setMaxListeners(0)
    const t = deps.transport
    this.swim = new Swim(self, opts, { rng: deps.rng, records: deps.records, encode, decode, connected: t.connected === undefined ? undefined : peer => t.connected?.(peer) ?? true }, deps.clock.now())
  }

  start (): void {
    const t = this.deps.transport
    t.on('message', this.onMessage)
    t.on('up', this.onUp)
    t.on('down', this.onDown)
    t.on('unreachable', this.onUnreachable)
    this.schedule()
  }

  stop (): void {
    this.stopped = true
    this.timer?.cancel()
    this.retry?.cancel()
    const t = this.deps.transport
    t.off('message', this.onMessage)
    t.off('up', this.onUp)
    t.off('down', this.onDown)
    t.off('unreachable', this.onUnreachable)
  }

  get id (): string { return this.swim.selfId }
  members (): Member[] { return this.swim.list() }
  /** Whether a member besides this agent is alive or suspect. */
  get joined (): boolean { return this.swim.liveCount > 1 }
  get (id: string): Member | undefined { return this.swim.get(id) }

  /**
   * Full state exchange with a peer we are connected to or can dial (a join contact). While
   * this agent knows no other member, the exchange is retried with backoff (1 s doubling to
   * 30 s): the contact may not be serving yet, or the message may have been lost.
   */
  pushPull (peer: string, addrs: readonly string[] = [], backoffMs = 1000): void {
    this.perform(this.swim.pushPull(peer, addrs))
    if (this.retry !== undefined) return
    this.retry = this.deps.clock.timer(backoffMs, () => {
      this.retry = undefined
      if (!this.stopped && this.swim.size <= 1 && this.swim.get(peer) === undefined) this.pushPull(peer, addrs, Math.min(30_000, backoffMs * 2))
    })
  }

  /** Mark a failed member left cluster-wide (force-leave); false when it is not failed. */
  forceLeave (id: string): boolean {
    const effects = this.swim.forceLeave(id, this.deps.clock.now())
    this.perform(effects)
    return effects.length > 0
  }

  /** Publish a new version of our own record. */
  update (fields: Partial<Omit<Heartbeat, 'v' | 'id' | 'generation' | 'counter'>>): void {
    this.perform(this.swim.updateSelf(fields, this.deps.clock.now()))
  }

  private readonly onMessage = (channel: string, from: string, data: Uint8Array): void => {
    if (channel !== 'swim' || this.stopped) return
    const now = this.deps.clock.now()
    this.checkStall(now)
    this.perform(this.swim.handle(from, decode(data), now))
  }

  /** A connection we opened to a peer we do not know yet (a contact, a discovered agent): exchange state. */
  private readonly onUp = (peer: string, outbound: boolean): void => {
    if (this.stopped || !outbound || this.swim.get(peer) !== undefined) return
    this.pushPull(peer)
  }

  private readonly onDown = (peer: string): void => {
    if (this.stopped) return
    const now = this.deps.clock.now()
    this.checkStall(now)
    this.perform(this.swim.connectionLost(peer, now))
  }

  private readonly onUnreachable = (peer: string): void => {
    if (this.stopped) return
    const now = this.deps.clock.now()
    this.checkStall(now)
    this.perform(this.swim.unreachable(peer, now))
  }

  /**
   * A message can be handled before our overdue timer gets to run (both were queued while the
   * process was stopped): judge the stall by the timer's lateness first, or the first message
   * would find every probe in flight timed out.
   */
  private checkStall (now: number): void {
    const late = now - this.timerAt
    if (late > this.opts.stallMs) {
      this.timerAt = now
      this.perform(this.swim.stalled(late, now))
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    if (this.stopped) return
    const now = this.deps.clock.now()
    const late = now - this.timerAt
    this.timerAt = Number.POSITIVE_INFINITY
    if (late > this.opts.stallMs) this.perform(this.swim.stalled(late, now))
    else if (late > SLOW_MS && now - this.slowAt >= this.opts.probeIntervalMs) {
      this.slowAt = now
      this.swim.slow()
    }
    this.perform(this.swim.tick(now))
  }

  private perform (effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send':
          this.deps.transport.send('swim', e.to, encode(e.packet), e.addrs, e.stream === true ? 'stream' : e.probe === true ? 'probe' : undefined)
          break
        case 'transition':
          this.emit('transition', e.t)
          break
        case 'record':
          this.emit('record', e.id, e.before, e.after)
          break
        case 'note':
          this.emit('note', e.level, e.what, e.fields)
          break
        case 'rejected':
          this.rejected++
          break
        case 'full':
          this.dropped++
          break
      }
    }
    this.schedule()
  }

  /** Keep one timer armed for the state machine's next deadline. */
  private schedule (): void {
    if (this.stopped) return
    const at = this.swim.nextDeadline()
    // An armed timer is kept unless it is due after the next deadline, or well before it: an
    // ack that ends a probe moves the deadline to the next probe, and the timer armed for the
    // ack's timeout would wake the agent for nothing (half of an idle agent's wake-ups).
    if (this.timer !== undefined && at >= this.timerAt && at - this.timerAt < REARM_MS) return
    this.timer?.cancel()
    // A deadline already past runs now: its lateness counts from now, not from the deadline,
    // or every message read before this timer runs would count the same stall again (and push
    // every probe and suspicion back by it once more).
    const now = this.deps.clock.now()
    this.timerAt = Math.max(at, now)
    this.timer = this.deps.clock.timer(Math.max(0, at - now), this.onTimer)
  }
}
