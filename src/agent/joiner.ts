// Keeps this agent joined through its --join addresses: reaches each until it answers, and again
// whenever its member there fails or leaves (or, joined by a connection, the connection is
// lost; at a random moment within 5 s while other members keep it joined), with exponential
// backoff (1 s doubling to 30 s). Like Serf's retry-join, it never gives
// up: the peer may simply not be up yet. For the first FAST_TRY_MS of trying an address it
// retries every second instead (every FASTEST_RETRY_MS in the first FASTEST_TRY_MS, while the
// agent is in no cluster yet): agents started together with their contact (a host booting, a
// test cluster) would otherwise back off to 16 s while the contact loads, and join that much
// later.
//
// An address is reached by a hello datagram first (hello.ts): the contact answers with its peer
// id, and the state exchange that follows goes by datagram too, so the contact does no
// handshake per joiner. When the hello is refused (a contact with --no-udp) or goes unanswered
// (UDP dropped on the way), the same try goes on with a libp2p dial, as it always was.
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './log.js'

/** How the joiner reaches a contact; the agent wires these to its transport and membership. */
export interface JoinPaths {
  /** Who answers a hello at `addr`: its peer id and datagram addresses; undefined if nobody did. Absent with datagrams off. */
  locate?: (addr: Multiaddr, signal: AbortSignal) => Promise<{ peer: string, addrs: string[] } | undefined>
  /** A libp2p connection to `addr`; resolves the peer id (the agent then exchanges state on 'up'). */
  dial: (addr: Multiaddr, signal: AbortSignal) => Promise<string>
  /** Exchange full state with a located contact (it is not connected, so nothing else will). */
  exchange: (peer: string, addrs: string[]) => void
  /** Whether `peer` keeps this agent joined: a live member, or connected. */
  holds: (peer: string) => boolean
  /** Whether some member besides this agent is alive or suspect: it is in a cluster, contact or not. */
  joined: () => boolean
}

interface Target {
  addr: Multiaddr
  peer?: string
  nextTry: number
  backoffMs: number
  trying: boolean
  warned: boolean
  failingSince?: number
}

const FIRST_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 30_000
const FAST_TRY_MS = 30_000
/** The longest wait between exchanges with a contact that answers hellos but is not yet a member here. */
const MAX_EXCHANGE_BACKOFF_MS = 8000
/**
 * A lost contact is reached again within this long, at a random moment, while this agent is
 * still joined through other members. A contact declared failed because it was busy (every
 * agent of a host that booted joined it) refutes within a few seconds and then holds again;
 * reached by every one of them at the same moment, with a full state exchange each, it was
 * buried again: at N = 50 started at once, the contact was declared failed three times in 8 s.
 */
const LOST_SPREAD_MS = 5000
/**
 * An address that cannot be reached in its first seconds is tried again this soon. 30 agents
 * started at once with their contact share the CPU with it, which binds its ports 1-3 s after
 * its start: a joiner that came first waited up to a second more after that, at a second per
 * try, and the last of them joined that much later. A try whose contact is not up costs a
 * datagram and a refused connection.
 */
const FASTEST_RETRY_MS = 250
const FASTEST_TRY_MS = 10_000
/**
 * A hello's wait for its answer (it asks again meanwhile) before a dial: a loaded contact may
 * take a while, and a dial costs it a handshake.
 */
const HELLO_WAIT_MS = 3000
const DIAL_WAIT_MS = 5000

export class Joiner {
  private readonly targets: Target[]
  private timer: NodeJS.Timeout | undefined
  private readonly abort = new AbortController()

  constructor (private readonly self: string, private readonly paths: JoinPaths, addrs: Multiaddr[], private readonly logger: Logger,
    private readonly rng: () => number = Math.random) {
    this.targets = addrs.map(addr => ({ addr, nextTry: 0, backoffMs: FIRST_BACKOFF_MS, trying: false, warned: false }))
  }

  start (): void {
    if (this.targets.length === 0) return
    this.check()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.abort.abort()
  }

  /**
   * `peer` failed, left, or its connection closed: if it was a contact that no longer holds,
   * reach it again: now when this agent is alone, else within LOST_SPREAD_MS.
   */
  lost (peer: string): void {
    let again = false
    for (const t of this.targets) {
      if (t.peer !== peer || this.paths.holds(peer)) continue
      t.nextTry = this.paths.joined() ? Date.now() + this.rng() * LOST_SPREAD_MS : 0
      t.backoffMs = FIRST_BACKOFF_MS
      again = true
    }
    if (again) setImmediate(() => { if (!this.abort.signal.aborted) this.check() })
  }

  private holds (t: Target): boolean {
    return t.peer === this.self || (t.peer !== undefined && this.paths.holds(t.peer))
  }

  private check (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.abort.signal.aborted) return
    const now = Date.now()
    let wake = Number.POSITIVE_INFINITY
    for (const t of this.targets) {
      if (t.trying || this.holds(t)) continue
      if (now < t.nextTry) {
        wake = Math.min(wake, t.nextTry)
        continue
      }
      t.trying = true
      this.reach(t)
        .then(peer => {
          if (peer === this.self) {
            t.peer = peer
            return
          }
          if (t.peer === undefined) this.logger('info', 'join', 'joined', { addr: t.addr.toString(), peer })
          t.peer = peer
          t.warned = false
          t.failingSince = undefined
          // The exchange may be lost like any datagram, or still on its way from a loaded
          // contact: if the contact is not a member by the next try, it is reached again, each
          // time later. At a fixed second, every agent started with 49 others asked the
          // contact (busy with all of them) for its whole state again each second, and the
          // contact fell further behind. The backoff starts over once the contact holds or is
          // lost (see `lost`).
          t.nextTry = Date.now() + t.backoffMs
          t.backoffMs = Math.min(t.backoffMs * 2, MAX_EXCHANGE_BACKOFF_MS)
        })
        .catch(err => {
          if (this.abort.signal.aborted) return
          if (!t.warned) this.logger('warn', 'join', 'cannot reach join address; retrying with backoff', { addr: t.addr.toString(), error: (err as Error).message })
          t.warned = true
          t.failingSince ??= Date.now()
          const failing = Date.now() - t.failingSince
          // Only an agent in no cluster yet is in a hurry: a contact lost later (perhaps dead
          // for good) is not hammered by every member that used it.
          t.nextTry = Date.now() + (failing < FASTEST_TRY_MS && !this.paths.joined() ? FASTEST_RETRY_MS : t.backoffMs)
          if (failing >= FAST_TRY_MS) t.backoffMs = Math.min(t.backoffMs * 2, MAX_BACKOFF_MS)
        })
        .finally(() => {
          t.trying = false
          this.check()
        })
    }
    // The agent wakes when the next try is due (a try in flight checks again when it ends); a
    // lost contact is tried again at once (`lost`). While every address holds nothing wakes
    // the agent for them, and a dead contact backed off to 30 s wakes it every 30 s.
    if (wake !== Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.check(), wake - now)
  }

  /** One try: a hello, then a dial if nobody answered it; resolves the contact's peer id. */
  private async reach (t: Target): Promise<string> {
    if (this.paths.locate !== undefined) {
      const got = await this.paths.locate(t.addr, AbortSignal.any([this.abort.signal, AbortSignal.timeout(HELLO_WAIT_MS)]))
      const wanted = t.addr.getComponents().find(c => c.name === 'p2p')?.value
      // Another agent at that address than the one named is passed over, as libp2p's dial would.
      if (got !== undefined && (wanted === undefined || got.peer === wanted)) {
        if (got.peer !== this.self) this.paths.exchange(got.peer, got.addrs)
        return got.peer
      }
      if (this.abort.signal.aborted) throw new Error('stopped')
    }
    return await this.paths.dial(t.addr, AbortSignal.any([this.abort.signal, AbortSignal.timeout(DIAL_WAIT_MS)]))
  }
}
