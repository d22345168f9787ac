// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).
// A stamp is (wall ms, logical counter). Stamps from one clock strictly increase, and a
// clock that has observed a stamp only issues larger ones, even if its wall clock is behind.

export interface Hlc {
  readonly wall: number
  readonly logical: number
}

export const ZERO_HLC: Hlc = { wall: 0, logical: 0 }

export function compareHlc (a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical
}

/** The next stamp for a local event at wall time `now`. */
export function tick (last: Hlc, now: number): Hlc {
  return now > last.wall ? { wall: now, logical: 0 } : { wall: last.wall, logical: last.logical + 1 }
}

/** The smallest stamp greater than both `a` and `b`, issued at wall time `now`. */
export function tickAfter (last: Hlc, seen: Hlc, now: number): Hlc {
  return tick(compareHlc(seen, last) > 0 ? seen : last, now)
}

/**
 * Fold a remote stamp into the local clock. Stamps more than `maxDriftMs` ahead of `now` are
 * not folded in: a peer whose clock runs far ahead must not drag every clock with it. The
 * caller still stores the remote entry (so every agent decides the same way); a later local
 * write to that key supersedes it through `tickAfter`.
 */
export function observe (last: Hlc, remote: Hlc, now: number, maxDriftMs: number): { clock: Hlc, drifted: boolean } {
  if (remote.wall - now > maxDriftMs) return { clock: last, drifted: true }
  return { clock: compareHlc(remote, last) > 0 ? remote : last, drifted: false }
}

export function formatHlc (h: Hlc): string {
  return `${h.wall}.${String(h.logical).padStart(4, '0')}`
}

export function isHlc (x: unknown): x is Hlc {
  if (typeof x !== 'object' || x === null) return false
  const h = x as Record<string, unknown>
  return Number.isSafeInteger(h.wall) && (h.wall as number) >= 0 &&
    Number.isSafeInteger(h.logical) && (h.logical as number) >= 0
}
