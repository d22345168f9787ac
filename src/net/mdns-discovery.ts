// mDNS for bootstrap only: find a first contact on the LAN, then stay quiet. An agent that has
// no live member besides itself queries every second; once it has joined, the interval doubles
// after each query up to a minute (Serf's mDNS poll period), which is still enough to merge two
// clusters that formed apart; when it is alone again (partition, everyone else gone), it
// queries at once and every second. Queries from others are answered always, so a newcomer
// finds a backed-off cluster as fast as an awake one: its own query brings every answer.
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
  /** An answer from another agent: its peer id and addresses (each ending in /p2p/<id>). */
  peer: [id: string, addrs: Multiaddr[]]
}

/** At most this many addresses are read from one answer (a hostile one may carry thousands). */
const MAX_ADDRS = 16

export class MdnsDiscovery extends EventEmitter<MdnsEvents> {
  private socket: multicastDNS.MulticastDNS | undefined
  private timer: NodeJS.Timeout | undefined
  private joined = false
  private delay: number

  /**
   * `self`: our peer id and current listen addresses. `warn`: socket trouble (port 5353 taken:
   * discovery is off, the agent runs on and --join still works).
   */
  constructor (
    private readonly self: { id: string, addresses: () => Multiaddr[] },
    private readonly tag: string,
    private readonly warn: (message: string) => void,
    private readonly pacing: MdnsPacing = DEFAULT_PACING
  ) {
    super()
    this.delay = pacing.fastMs
  }

  /** Answer queries from now on, and query at once. */
  start (): void {
    if (this.socket !== undefined) return
    const socket = multicastDNS()
    socket.on('query', q => this.answer(q))
    socket.on('response', r => this.read(r))
    socket.on('error', err => this.warn(`mDNS off: ${(err as Error).message}`))
    this.socket = socket
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
    this.socket?.query({ questions: [{ name: this.tag, type: 'PTR' }] })
    this.delay = this.joined ? Math.min(this.pacing.slowMs, this.delay * 2) : this.pacing.fastMs
    this.timer = setTimeout(() => this.tick(), this.delay)
    this.timer.unref()
  }

  private answer (q: multicastDNS.QueryPacket): void {
    if (this.socket === undefined || !q.questions.some(x => x.name === this.tag)) return
    const name = `${this.self.id}.${this.tag}`
    const txt = this.self.addresses()
      .filter(a => isPrivate(a) && a.getComponents().some(c => c.code === P2P))
      .map(a => `dnsaddr=${a.toString()}`)
      .filter(d => d.length <= 255) // the most one TXT string holds (RFC 6763 §6.1)
    if (txt.length === 0) return
    this.socket.respond([
      { name: this.tag, type: 'PTR', class: 'IN', ttl: 120, data: name },
      ...txt.map(data => ({ name, type: 'TXT' as const, class: 'IN' as const, ttl: 120, data }))
    ])
  }

  private read (r: multicastDNS.ResponsePacket): void {
    if (!r.answers.some(a => a.type === 'PTR' && a.name === this.tag)) return
    const texts = [...r.answers, ...r.additionals].flatMap(a => a.type === 'TXT' ? [a.data].flat() : [])
    const addrs: Multiaddr[] = []
    let peer: string | undefined
    for (const t of texts.slice(0, MAX_ADDRS)) {
      const s = t.toString()
      if (!s.startsWith('dnsaddr=')) continue
      try {
        const ma = multiaddr(s.slice('dnsaddr='.length))
        const id = ma.getComponents().filter(c => c.code === P2P).at(-1)?.value
        if (id === undefined || (peer !== undefined && id !== peer)) continue
        peer = id
        addrs.push(ma)
      } catch {} // not a multiaddr: skip it
    }
    if (peer !== undefined && peer !== this.self.id) this.emit('peer', peer, addrs)
  }
}
