// The membership protocol's packets, as decoded from msgpack, and their structural checks:
// nothing from the network reaches the state machine unchecked. Packet types are only ever
// added (ONLY APPEND TO THIS LIST); an unknown type is dropped and counted.

/** A member record as its member signed it: the encoded record and the signature over it. */
export interface SignedRecord {
  readonly body: Uint8Array
  readonly sig: Uint8Array
}

/**
 * [record body, signature, status (0 alive, 1 suspect, 2 failed, 3 left by force), status
 * generation, status counter]. 3 was added with anti-entropy of force-leave: agents from
 * before drop such an entry (counted as rejected), and so keep the member failed.
 */
export type StateEntry = [Uint8Array, Uint8Array, number, number, number]

/** [member id, record generation, record counter, 1 when failed, 2 when left by force] */
export type VersionLine = [string, number, number, number]

export type Packet =
  /** Probe; `to` is the peer id meant, so a restarted process at the same address does not answer for its predecessor. */
  | { t: 'ping', s: number, to: string, b?: Uint8Array[], /** 1: answer over a stream (the fallback probe) */ r?: 1 }
  | { t: 'ack', s: number, b?: Uint8Array[] }
  /** Please probe `to` (at addresses `a`) for me. */
  | { t: 'preq', s: number, to: string, a: string[], b?: Uint8Array[], /** 1: ping it over a stream (after a hint) */ r?: 1 }
  /** Lifeguard: the relay got no ack from the target in time (proof the relay itself is fine). */
  | { t: 'nack', s: number }
  /** Broadcasts only. */
  | { t: 'gossip', b: Uint8Array[] }
  /** Full state push-pull; `r` asks for ours in return. */
  | { t: 'pp', e: StateEntry[], r: boolean }
  /**
   * Digest: one hash per bucket of member versions. `s`: the sender reads `sub` answers (agents
   * from before ignore the field and answer with `dif`, which every agent reads).
   */
  | { t: 'dig', h: Uint8Array, s?: 1 }
  /**
   * Version lines of the buckets `k` that differed from a digest; `n`: how many buckets the ids
   * were spread over (DIGEST_BUCKETS when absent; FINE_BUCKETS in the answer to a `sub`).
   */
  | { t: 'dif', v: VersionLine[], k: number[], n?: number }
  /** State entries, and ids whose entries are wanted back. */
  | { t: 'st', e: StateEntry[], w?: string[] }
  /** Your name is owned by another live member. */
  | { t: 'refuse', reason: string }
  /**
   * The answer to a digest with `s`, in a large cluster: for each differing bucket `k[i]`, the
   * hashes of its SUB_BUCKETS fine buckets (4 bytes each, at h[64 i ...]); the asker answers
   * with its lines in the fine buckets that differ (`dif` with `n`).
   */
  | { t: 'sub', k: number[], h: Uint8Array }

const MAX_LIST = 100_000

/** Buckets of a digest: a member's is the FNV-1a hash of its id, mod this. */
export const DIGEST_BUCKETS = 64
/** Fine buckets of a `sub` answer: a member's is its hash mod this, so bucket = fine mod DIGEST_BUCKETS. */
export const FINE_BUCKETS = 1024
/** Fine buckets in one digest bucket. */
export const SUB_BUCKETS = FINE_BUCKETS / DIGEST_BUCKETS

function isBytesList (x: unknown): x is Uint8Array[] {
  return Array.isArray(x) && x.length <= 4096 && x.every(b => b instanceof Uint8Array)
}

function isSeq (x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0
}

function isId (x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= 128
}

export function isStateEntry (x: unknown): x is StateEntry {
  return Array.isArray(x) && x.length === 5 && x[0] instanceof Uint8Array && x[1] instanceof Uint8Array &&
    (x[2] === 0 || x[2] === 1 || x[2] === 2 || x[2] === 3) && isSeq(x[3]) && isSeq(x[4])
}

function isVersionLine (x: unknown): x is VersionLine {
  return Array.isArray(x) && x.length === 4 && isId(x[0]) && isSeq(x[1]) && isSeq(x[2]) && (x[3] === 0 || x[3] === 1 || x[3] === 2)
}

export function isPacket (x: unknown): x is Packet {
  if (typeof x !== 'object' || x === null) return false
  const p = x as Record<string, unknown>
  if (p.b !== undefined && !isBytesList(p.b)) return false
  switch (p.t) {
    case 'ping': return isSeq(p.s) && isId(p.to)
    case 'ack': case 'nack': return isSeq(p.s)
    case 'preq': return isSeq(p.s) && isId(p.to) && Array.isArray(p.a) && p.a.length <= 32 && p.a.every(a => typeof a === 'string' && a.length < 512)
    case 'gossip': return isBytesList(p.b)
    case 'pp': return Array.isArray(p.e) && p.e.length <= MAX_LIST && typeof p.r === 'boolean'
    case 'dig': return p.h instanceof Uint8Array && (p.s === undefined || p.s === 1)
    case 'dif': return Array.isArray(p.v) && p.v.length <= MAX_LIST && p.v.every(isVersionLine) && Array.isArray(p.k) && p.k.every(k => Number.isInteger(k) && k >= 0 && k < 1024) &&
      (p.n === undefined || p.n === DIGEST_BUCKETS || p.n === FINE_BUCKETS)
    case 'sub': return Array.isArray(p.k) && p.k.length <= DIGEST_BUCKETS && p.k.every(k => Number.isInteger(k) && k >= 0 && k < DIGEST_BUCKETS) &&
      p.h instanceof Uint8Array && p.h.byteLength === p.k.length * SUB_BUCKETS * 4
    case 'st': return Array.isArray(p.e) && p.e.length <= MAX_LIST && (p.w === undefined || (Array.isArray(p.w) && p.w.length <= MAX_LIST && p.w.every(isId)))
    case 'refuse': return typeof p.reason === 'string' && p.reason.length <= 1024
    default: return false
  }
}
