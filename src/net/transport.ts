// The seam between the protocols (membership, config anti-entropy) and the network. The
// libp2p adapter (libp2p-transport.ts) and the in-memory adapter of the simulator
// (memory-transport.ts) both implement it, so the same membership and config code runs over
// real sockets and over a seeded virtual network of a thousand agents in one process.

/** What a message is for; each protocol listens on its own channel. ONLY APPEND TO THIS LIST. */
export type Channel = 'swim' | 'sync'

export interface TransportEvents {
  /** A message sent to us with `send`. `from` is the sender's peer id (authenticated by the transport). */
  message: (channel: Channel, from: string, data: Uint8Array) => void
  /** A message published on a topic by `from` (not necessarily the peer that relayed it). */
  publication: (topic: string, from: string, data: Uint8Array) => void
  /** A connection to a peer came up (the peer may not be a member yet: a new contact); `outbound` when we dialled. */
  up: (peer: string, outbound: boolean) => void
  /** The last connection to a peer closed: a hint that it may be gone, never proof. */
  down: (peer: string) => void
  /**
   * A message to `peer` could not be handed over: no connection could be opened (refused,
   * reset, another identity at its address) or the stream broke. A hint like `down`, but
   * sooner than any timeout: a stopped or cut-off peer does not refuse, it goes silent.
   */
  unreachable: (peer: string) => void
}

export interface Transport {
  /** This agent's peer id. */
  readonly self: string
  /** Addresses others can reach this agent at (multiaddrs for libp2p). */
  addresses: () => string[]
  /**
   * Send a message to a peer, best effort like a datagram: it may be lost, and nothing says
   * so. Dials the peer (at `addrs` if given) when there is no connection yet. `mode`:
   * 'stream', over a connection even where the transport would send a datagram; 'probe', a
   * datagram whose refusal (nothing listens at the peer's port any more) is reported as
   * `unreachable`, like a refused dial.
   */
  send: (channel: Channel, to: string, data: Uint8Array, addrs?: readonly string[], mode?: 'stream' | 'probe') => void
  /**
   * Whether a connection to `peer` is open now: a message to it then needs no dial first.
   * Optional (the in-memory network has no dials).
   */
  connected?: (peer: string) => boolean
  /** Connect to an address (a join contact, a discovered peer) and resolve its peer id. */
  dial: (addr: string, signal?: AbortSignal) => Promise<string>
  /** Spread a message to every subscribed agent (gossipsub in the libp2p adapter). */
  publish: (topic: string, data: Uint8Array) => void
  on: <E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]) => void
  off: <E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]) => void
}

export interface Timer { cancel: () => void }

/** Time for the protocols: a monotonic clock and one-shot timers (virtual in the simulator). */
export interface Clock {
  /** Monotonic milliseconds (epoch-based in the agent, virtual in the simulator). */
  now: () => number
  /** Wall-clock epoch milliseconds, for HLC stamps (may jump; never used for timeouts). */
  wall: () => number
  timer: (ms: number, fn: () => void) => Timer
}

/** A source of uniform floats in [0, 1): Math.random in the agent, seeded in tests and the simulator. */
export type Rng = () => number

/**
 * The real clock: monotonic time from performance.now(), timers from setTimeout. A timer's
 * function runs after the I/O that was waiting when the timer came due (setImmediate): a
 * process that was starved or stopped reads the replies already in its sockets before it
 * judges what timed out; otherwise an overdue probe timer would fire first and take acks
 * that arrived in time for silence.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  wall: () => Date.now(),
  timer: (ms, fn) => {
    let later: NodeJS.Immediate | undefined
    const t = setTimeout(() => { later = setImmediate(fn) }, ms)
    return { cancel: () => { clearTimeout(t); if (later !== undefined) clearImmediate(later) } }
  }
}

/** Deterministic PRNG (mulberry32). */
export function seededRng (seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
