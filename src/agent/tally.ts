// Counts of repeated events, logged as one line per interval instead of one line per event: a
// peer that sends thousands of entries a second must not make the agent write thousands of lines.
const MAX_PEERS = 1000

export interface TallyLine { what: string, count: number, peers: number }

export class Tally {
  private readonly counts = new Map<string, { count: number, peers: Set<string> }>()

  add (what: string, peer: string, n = 1): void {
    if (n <= 0) return
    let c = this.counts.get(what)
    if (c === undefined) this.counts.set(what, c = { count: 0, peers: new Set() })
    c.count += n
    if (c.peers.size < MAX_PEERS) c.peers.add(peer)
  }

  /** What was counted since the last call, then starts again from zero. */
  drain (): TallyLine[] {
    const out = [...this.counts].map(([what, c]) => ({ what, count: c.count, peers: c.peers.size }))
    this.counts.clear()
    return out
  }
}
