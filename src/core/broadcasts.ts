// Piggybacked broadcasts with a retransmit limit (memberlist's TransmitLimitedQueue). Each item
// concerns one member; a newer item about the same member replaces the older one. Items go out
// fewest-transmissions first (new news first), each at most `limit` times, where
// limit = mult * ceil(log10(N + 1)): enough for an epidemic to reach all N with high
// probability, and no more.
//
// An item queued with `expires` is dropped `limit` gossip rounds after it was queued, sent or
// not. A short queue sends an item its `limit` times within a third of that (three members a
// round, plus piggybacks on probes); one that waited longer sits in a backlog. Membership marks
// only the records it relays for members that handed them over in a state exchange (a join's
// push-pull, a digest sync): those members announce themselves as well, and digest sync
// carries the rest. memberlist has no such bound, and the contact of a burst of joins then
// spent a minute sending, a packet budget at a time, records everyone already had (in the
// simulation at N = 300 it sent 23 KB/s, where every other agent sent 1.2).

export interface Broadcast {
  /** The member the item is about: a newer item about it supersedes this one. */
  readonly key: string
  /** The encoded item, as it goes into a packet. */
  readonly bytes: Uint8Array
  /** Dropped `limit` gossip rounds after it was queued, sent or not (see the top). */
  readonly expires?: boolean
}

interface Item extends Broadcast { transmits: number, order: number, round: number }

export function retransmitLimit (mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1))
}

export class BroadcastQueue {
  private readonly items = new Map<string, Item>()
  private order = 0
  private rounds = 0

  /** @param maxItems a bound on the queue; the most-sent items are dropped beyond it. */
  constructor (private readonly maxItems = 4096) {}

  get size (): number { return this.items.size }

  queue (b: Broadcast): void {
    this.items.set(b.key, { ...b, transmits: 0, order: this.order++, round: this.rounds })
    if (this.items.size > this.maxItems) this.prune()
  }

  /** A gossip round began: items queued `limit` rounds ago or more are dropped. */
  round (limit: number): void {
    this.rounds++
    for (const [key, it] of this.items) if (it.expires === true && this.rounds - it.round >= limit) this.items.delete(key)
  }

  /**
   * Up to `budget` bytes of items (at least one if any is queued, so an item larger than the
   * budget still goes out alone), counting a transmission for each; items that reached
   * `limit` transmissions are removed.
   */
  take (budget: number, limit: number): Uint8Array[] {
    if (this.items.size === 0) return []
    // Few items (the usual case): sort them all. Many (a burst of joins): only the items
    // with the fewest transmissions are candidates, found in one pass.
    let pool = [...this.items.values()]
    if (pool.length > 64) {
      let least = Number.POSITIVE_INFINITY
      for (const it of pool) if (it.transmits < least) least = it.transmits
      const few = pool.filter(it => it.transmits === least)
      pool = few.length >= 8 ? few : pool
    }
    const sorted = pool.sort((a, b) => a.transmits - b.transmits || b.order - a.order)
    const out: Uint8Array[] = []
    let used = 0
    for (const it of sorted) {
      const size = it.bytes.byteLength + 3
      if (out.length > 0 && used + size > budget) continue
      out.push(it.bytes)
      used += size
      it.transmits++
      if (it.transmits >= limit) this.items.delete(it.key)
      if (used >= budget) break
    }
    return out
  }

  private prune (): void {
    const sorted = [...this.items.values()].sort((a, b) => b.transmits - a.transmits || a.order - b.order)
    for (const it of sorted.slice(0, this.items.size - this.maxItems)) this.items.delete(it.key)
  }
}
