// Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).
// A stamp is (wall ms, logical counter). Stamps from one clock strictly increase, and a
// clock that has observed a stamp only issues larger ones, even if its wall clock is behind.
//
// Every field is bounded, at every entrance (gossip, sync, disk: `isHlc`) and in every stamp
// issued here: a stamp from a broken peer or a poisoned log must not make this agent issue
// stamps that others refuse (an unsafe integer) or cannot print as a date.

export interface Hlc {
  readonly wall: number
  readonly logical: number
}

/** The last millisecond of year 9999: the largest wall an ISO-8601 date (four-digit year) shows. */
export const MAX_WALL = 253_402_300_799_999
/**
 * Logical counters stay below 2^31. A clock bumps its counter only while its wall is ahead of
 * real time (at most `maxDriftMs`), so this is never reached in practice; if it is, the stamp
 * moves to the next millisecond instead of growing the counter (see `successor`).
 */
export const MAX_LOGICAL = 2 ** 31 - 1

export const ZERO_HLC: Hlc = { wall: 0, logical: 0 }

export function compareHlc (a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical
}

/** The smallest valid stamp above `h`; undefined above the last one there is. */
export function successor (h: Hlc): Hlc | undefined {
  if (h.logical < MAX_LOGICAL) return { wall: h.wall, logical: h.logical + 1 }
  if (h.wall < MAX_WALL) return { wall: h.wall + 1, logical: 0 }
  return undefined
}

/** The next stamp for a local event at wall time `now` (clamped into the valid range). */
export function tick (last: Hlc, now: number): Hlc {
  const wall = Math.min(Math.max(Math.floor(now), 0), MAX_WALL)
  if (wall > last.wall) return { wall, logical: 0 }
  const next = successor(last)
  // Unreachable: the clock never passes now + maxDriftMs, nowhere near the year 9999.
  if (next === undefined) throw new RangeError('hybrid logical clock exhausted')
  return next
}

/**
 * Fold a remote stamp into the local clock. Stamps more than `maxDriftMs` ahead of `now` are
 * not folded in: a peer whose clock runs far ahead must not drag every clock with it. The
 * caller still stores the remote entry (so every agent decides the same way); a later local
 * write to that key supersedes it through `stampWrite`.
 */
export function observe (last: Hlc, remote: Hlc, now: number, maxDriftMs: number): { clock: Hlc, drifted: boolean } {
  if (remote.wall - now > maxDriftMs) return { clock: last, drifted: true }
  return { clock: compareHlc(remote, last) > 0 ? remote : last, drifted: false }
}

/**
 * The stamp of a local write that replaces the version stamped `stored`, and the clock after
 * it. The stamp is above both the clock's next tick and `stored`, so a write made after reading
 * a key supersedes it even when that version came from a clock far ahead. The clock follows the
 * stamp only as `observe` would follow a remote one: a version more than `maxDriftMs` ahead
 * gets overwritten with its own successor, and the clock stays at real time, so one far-future
 * key does not stamp every later write of this agent in the future. Undefined when `stored` is
 * the very last stamp there is (9999-12-31T23:59:59.999Z, logical 2^31-1).
 */
export function stampWrite (last: Hlc, stored: Hlc | undefined, now: number, maxDriftMs: number): { stamp: Hlc, clock: Hlc } | undefined {
  const next = tick(last, now)
  if (stored === undefined || compareHlc(next, stored) > 0) return { stamp: next, clock: next }
  const stamp = successor(stored)
  if (stamp === undefined) return undefined
  return { stamp, clock: observe(next, stamp, now, maxDriftMs).clock }
}

export function formatHlc (h: Hlc): string {
  return `${h.wall}.${String(h.logical).padStart(4, '0')}`
}

export function isHlc (x: unknown): x is Hlc {
  if (typeof x !== 'object' || x === null) return false
  const h = x as Record<string, unknown>
  return Number.isSafeInteger(h.wall) && (h.wall as number) >= 0 && (h.wall as number) <= MAX_WALL &&
    Number.isSafeInteger(h.logical) && (h.logical as number) >= 0 && (h.logical as number) <= MAX_LOGICAL
}
