// Rendezvous (highest-random-weight) hashing: every agent that knows the same set of alive
// members picks the same owner for a name, and when the owner goes away only the names it
// owned move (each to its own next-highest member). Thaler & Ravishankar, 1998.
import { fnv1a } from './hash.js'

/** FNV-1a mixed by murmur3's finalizer: FNV alone spreads similar strings poorly. */
function weight (name: string, member: string): number {
  let h = fnv1a(member, fnv1a(name + '\u0000'))
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** The member with the highest weight for `name`; ties (rare) go to the smaller id. */
export function rendezvousOwner (name: string, members: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestW = -1
  for (const m of members) {
    const w = weight(name, m)
    if (w > bestW || (w === bestW && best !== undefined && m < best)) {
      best = m
      bestW = w
    }
  }
  return best
}
