// The connections an agent keeps: a few to random live members, so that gossipsub (which only
// uses connections that exist) has a mesh to carry config deltas over, and nothing more.
// Membership probes and digests travel as datagrams and need no connection; before they did,
// every exchange with a random member opened one, so each agent ended up connected to most of
// the cluster: a Noise handshake, identify and gossipsub streams per pair, and gossipsub
// heartbeat work per connection, O(N) per agent. A random graph in which every agent links to
// K others is connected with high probability already for small K, and its degree does not
// grow with N.
import type { Member } from '../core/members.js'

/** Links each agent opens (gossipsub's degree is 3: a mesh needs this many neighbours). */
export const LINKS = 4

/**
 * Links wait until no new member has arrived for this long. Agents started together (a host
 * booting, a test cluster, a rollout) would otherwise each open theirs while all are still
 * joining: ~120 handshakes for 30 agents, on the CPU the joins need. Measured with 30 agents
 * on loopback, all started at once: the last agent saw all 8-12 s after the last start when
 * links opened at once, 2-3 s when they waited. Meanwhile config still flows, by
 * anti-entropy, and a config write here opens them at once (`wake`).
 */
export const SETTLE_MS = 2000

/**
 * After the settle, each agent waits a further random share of this before it dials. Agents
 * that settle together (all started at once) would otherwise all dial LINKS members at the
 * same moment, each before it had any inbound link: 2 × LINKS connections per agent, every
 * one a handshake on both sides (~60 ms of CPU per link here, its gossipsub and yamux upkeep
 * after that). Spread out, the first to dial give the later ones their links (a connection
 * counts whichever side opened it), and those dial fewer or none.
 */
export const SPREAD_MS = 2000

export interface LinksDeps {
  /** Peers with an open connection now. */
  connected: () => readonly string[]
  /** A random live member (not this agent). */
  randomMember: () => Member | undefined
  /** Open a connection to a member at the addresses it announced. */
  dial: (peer: string, addrs: readonly string[]) => Promise<void>
  /** Whether `peer` is a live member (connections to others do not count). */
  isLive: (peer: string) => boolean
  /** Uniform in [0, 1): this agent's share of SPREAD_MS. */
  rng?: () => number
}

export class Links {
  private dialing = 0
  private lastArrival = Number.NEGATIVE_INFINITY
  private settleTimer: NodeJS.Timeout | undefined
  /** SETTLE_MS and this agent's share of SPREAD_MS. */
  private readonly waitMs: number

  constructor (private readonly deps: LinksDeps, private readonly want = LINKS) {
    this.waitMs = SETTLE_MS + Math.floor((deps.rng ?? Math.random)() * SPREAD_MS)
  }

  /**
   * Dial random live members while fewer than `want` are connected. Called periodically and
   * when a connection closes; at most one dial per missing link is in flight.
   */
  check (): void {
    if (Date.now() - this.lastArrival < this.waitMs) return
    const connected = new Set(this.deps.connected())
    const missing = this.want - this.liveAmong(connected) - this.dialing
    for (let i = 0, tries = 0; i < missing && tries < missing * 4; tries++) {
      const m = this.deps.randomMember()
      if (m === undefined) return
      if (connected.has(m.hb.id)) continue
      connected.add(m.hb.id)
      i++
      this.dialing++
      this.deps.dial(m.hb.id, m.hb.addrs).catch(() => {}).finally(() => { this.dialing-- })
    }
  }

  /**
   * Whether a connection to `peer` may be closed: without it, this agent still has the live
   * connections it wants (a connection dialled for one message, see libp2p-transport.ts).
   */
  spare (peer: string): boolean {
    return this.liveAmong(this.deps.connected(), peer) >= this.want
  }

  /** How many of `peers` (but `except`) are live members. */
  private liveAmong (peers: Iterable<string>, except?: string): number {
    let n = 0
    for (const p of peers) if (p !== except && this.deps.isLive(p)) n++
    return n
  }

  /**
   * A member new to this agent arrived: links wait for the arrivals to settle (SETTLE_MS and a
   * share of SPREAD_MS), and are checked as soon as they have.
   */
  arrived (): void {
    this.lastArrival = Date.now()
    if (this.settleTimer !== undefined) return
    const settled = (): void => {
      const left = this.lastArrival + this.waitMs - Date.now()
      if (left > 0) {
        this.settleTimer = setTimeout(settled, left)
        return
      }
      this.settleTimer = undefined
      this.check()
    }
    this.settleTimer = setTimeout(settled, this.waitMs)
  }

  stop (): void {
    clearTimeout(this.settleTimer)
    this.settleTimer = undefined
  }

  /** Config is being written here: its deltas need the mesh now, arrivals or not. */
  wake (): void {
    this.lastArrival = Number.NEGATIVE_INFINITY
    this.stop()
    this.check()
  }
}
