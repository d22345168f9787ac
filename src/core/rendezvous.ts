// Rendezvous (highest-random-weight) hashing: every agent that knows the same set of alive
// members picks the same owner for a name, and when the owner goes away only the names it
// owned move (each to its own next-highest member). Thaler & Ravishankar, 1998.
import { fnv1a } from './hash.js'

/** murmur3's 32-bit finalizer: FNV alone spreads similar strings poorly. */
function mix (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The members of one round, hashed once: electing the owner of each of R names is then R × N
 * integer mixes, not R × N string hashes (100 rules × 1,000 members: ~1 ms instead of ~90).
 */
export class Electorate {
  private readonly ids: string[]
  private readonly hashes: Uint32Array

  constructor (members: Iterable<string>) {
    this.ids = [...members]
    this.hashes = Uint32Array.from(this.ids, id => mix(fnv1a(id)))
  }

  /** The member with the highest weight for `name`; ties (rare) go to the smaller id. */
  owner (name: string): string | undefined {
    const n = mix(fnv1a(name))
    let best = -1
    let bestW = -1
    for (let i = 0; i < this.ids.length; i++) {
      const w = mix(n ^ this.hashes[i])
      if (w > bestW || (w === bestW && this.ids[i] < this.ids[best])) {
        best = i
        bestW = w
      }
    }
    return best < 0 ? undefined : this.ids[best]
  }
}

export function rendezvousOwner (name: string, members: Iterable<string>): string | undefined {
  return new Electorate(members).owner(name)
}
