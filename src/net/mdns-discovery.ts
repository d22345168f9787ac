// mDNS for bootstrap only: find a first contact on the LAN, then stay quiet. An agent that has
// no live member besides itself queries every second; once it has joined, the interval doubles
// after each query up to a minute (Serf's mDNS poll period), which is still enough to merge two
// clusters that formed apart; when it is alone again (partition, everyone else gone), it
// queries at once and every second. Queries from others are answered always, so a newcomer
// finds a backed-off cluster as fast as an awake one: its own query brings every answer.
//
// On start an agent announces itself (an unsolicited answer, RFC 6762 §8.3) and queries at once:
// agents already running dial it without waiting for their next query. A query lists the agents
// the querier is already connected to (known-answer suppression, RFC 6762 §7.1), and those do
// not answer it: N agents started together that each query every second would otherwise make
// N² answers a second, each parsed by all N, at the moment their CPU is most needed (joining).
// An answer is read no further than its name (the peer id) unless the agent wants to dial it.
//
// Why not @libp2p/mdns: its version 12 queries on a setInterval fixed when the service starts,
// with no way to change it short of private fields, and restarting the service to change the
// interval would close the socket (unanswered queries meanwhile) on every step. Nor is it
// started by libp2p: the host starts it once the agent serves its protocols, since a peer that
// finds us earlier dials us before we can answer its state exchange. This module speaks the
// same records (PTR `<name>.<tag>`, TXT `dnsaddr=<multiaddr>/p2p/<id>`).
import { EventEmitter } from 'node:events'
import { isPrivate } from '@libp2p/utils'
import { CODE_P2P as P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import multicastDNS from 'multicast-dns'

export interface MdnsPacing {
  /** Query interval while the agent is alone. @default 1000 */
  fastMs: number
  /** Longest interval once it has joined. @default 60000 */
  slowMs: number
}

export const DEFAULT_PACING: MdnsPacing = { fastMs: 1000, slowMs: 60_000 }

export interface MdnsEvents {
  /**
   * An answer from another agent: its peer id, and its addresses (each ending in /p2p/<id>),
   * read from the answer only when called.
   */
  peer: [id: string, addrs: () => Multiaddr[]]
}

/** At most this many addresses are read from one answer (a hostile one may carry thousands). */
const MAX_ADDRS = 16
/** Known answers listed in one query: about 70 bytes each, so a query stays within one 1,500-byte frame. */
const MAX_KNOWN = 16
/** Our own answer is rebuilt at most this often (listen addresses hardly change; reading them is not free). */
const ANSWER_TTL_MS = 5000
/** Records' TTL, in seconds (RFC 6762's default for records naming a host's services). */
const TTL = 120

export class MdnsDiscovery extends EventEmitter<MdnsEvents> {
  private socket: multicastDNS.MulticastDNS | undefined
  private timer: NodeJS.Timeout | undefined
  private joined = false
  private delay: number
  private readonly name: string
  private cached: { at: number, answers: multicastDNS.ResponseOutgoingPacket['answers'] } | undefined

  /**
   * `self`: our peer id, current listen addresses, and the peers we are connected to (listed as
   * known answers in our queries). `warn`: socket trouble (port 5353 taken: discovery is off,
   * the agent runs on and --join still works).
   */
  constructor (
    private readonly self: { id: string, addresses: () => Multiaddr[], known: () => Iterable<string> },
    private readonly tag: string,
    private readonly warn: (message: string) => void,
    private readonly pacing: MdnsPacing = DEFAULT_PACING
  ) {
    super()
    this.delay = pacing.fastMs
    this.name = `${self.id}.${tag}`
  }

  /** Answer queries from now on; announce this agent and query at once. */
  start (): void {
    if (this.socket !== undefined) return
    const socket = multicastDNS()
    socket.on('query', q => this.answer(q))
    socket.on('response', r => this.read(r))
    socket.on('error', err => this.warn(`mDNS off: ${(err as Error).message}`))
    this.socket = socket
    this.announce()
    this.tick()
  }

  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const socket = this.socket
    this.socket = undefined
    if (socket !== undefined) await new Promise<void>(resolve => { socket.destroy(() => resolve()) })
  }

  /** The agent has a live member besides itself (back off) or none (query fast, starting now). */
  setJoined (joined: boolean): void {
    if (joined === this.joined) return
    this.joined = joined
    // Joined: the query already due (at most fastMs away) starts the back-off.
    if (!joined && this.socket !== undefined) {
      clearTimeout(this.timer)
      this.tick()
    }
  }

  private tick (): void {
    const answers: multicastDNS.ResponseOutgoingPacket['answers'] = []
    for (const id of this.self.known()) {
      if (answers.length >= MAX_KNOWN) break
      answers.push({ name: this.tag, type: 'PTR', class: 'IN', ttl: TTL, data: `${id}.${this.tag}` })
    }
    this.socket?.query({ questions: [{ name: this.tag, type: 'PTR' }], answers })
    this.delay = this.joined ? Math.min(this.pacing.slowMs, this.delay * 2) : this.pacing.fastMs
    this.timer = setTimeout(() => this.tick(), this.delay)
    this.timer.unref()
  }

  /** Answer a query for our tag, unless it lists us among the answers it already knows. */
  private answer (q: multicastDNS.QueryPacket): void {
    if (this.socket === undefined || !q.questions.some(x => x.name === this.tag)) return
    if (ptrTargets(q.answers, this.tag).includes(this.name)) return
    this.announce()
  }

  /** Our PTR and TXT records, multicast (an answer to a query, or unsolicited at start). */
  private announce (): void {
    const now = Date.now()
    if (this.cached === undefined || now - this.cached.at >= ANSWER_TTL_MS) {
      const txt = this.self.addresses()
        .filter(a => isPrivate(a) && a.getComponents().some(c => c.code === P2P))
        .map(a => `dnsaddr=${a.toString()}`)
        .filter(d => d.length <= 255) // the most one TXT string holds (RFC 6763 §6.1)
      this.cached = {
        at: now,
        answers: txt.length === 0
          ? []
          : [{ name: this.tag, type: 'PTR', class: 'IN', ttl: TTL, data: this.name },
              ...txt.map(data => ({ name: this.name, type: 'TXT' as const, class: 'IN' as const, ttl: TTL, data }))]
      }
    }
    if (this.cached.answers.length > 0) this.socket?.respond(this.cached.answers)
  }

  private read (r: multicastDNS.ResponsePacket): void {
    // The peer id is in the PTR's target name: nothing more is parsed unless someone asks.
    const target = ptrTargets(r.answers, this.tag)[0]
    if (target === undefined || !target.endsWith(`.${this.tag}`)) return
    const peer = target.slice(0, -this.tag.length - 1)
    if (peer === this.self.id || peer === '') return
    this.emit('peer', peer, () => addresses(r, peer))
  }
}

/** The names PTR records of `tag` point to. */
function ptrTargets (answers: multicastDNS.QueryPacket['answers'], tag: string): string[] {
  const out: string[] = []
  for (const a of answers) if (a.type === 'PTR' && a.name === tag) out.push(a.data)
  return out
}

/** The addresses of `peer` in an answer's TXT records (each dnsaddr ending in /p2p/<peer>). */
function addresses (r: multicastDNS.ResponsePacket, peer: string): Multiaddr[] {
  const texts = [...r.answers, ...r.additionals].flatMap(a => a.type === 'TXT' ? [a.data].flat() : [])
  const addrs: Multiaddr[] = []
  for (const t of texts.slice(0, MAX_ADDRS)) {
    const s = t.toString()
    if (!s.startsWith('dnsaddr=')) continue
    try {
      const ma = multiaddr(s.slice('dnsaddr='.length))
      if (ma.getComponents().filter(c => c.code === P2P).at(-1)?.value === peer) addrs.push(ma)
    } catch {} // not a multiaddr: skip it
  }
  return addrs
}
