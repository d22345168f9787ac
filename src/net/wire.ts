// Gossip payloads. Every message is a msgpack map with `v` (format version) and `t` (type).
// Types are only ever added; an agent drops (and counts) a type it does not know.
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { isEntry } from '../core/config.js'
import { isHeartbeat, type Heartbeat } from '../core/heartbeat.js'
import type { Entry } from '../core/lww.js'
import { decode, encode } from './codec.js'

/**
 * A heartbeat signed by the member it describes. The signature travels with it, so a
 * heartbeat relayed by anti-entropy is as trustworthy as one received from its author.
 */
export interface SignedHeartbeat {
  readonly body: Uint8Array
  readonly sig: Uint8Array
}

export async function signHeartbeat (hb: Heartbeat, key: PrivateKey): Promise<SignedHeartbeat> {
  const body = encode(hb)
  return { body, sig: await key.sign(body) }
}

/**
 * The heartbeat inside `s`, if it is well formed and signed by the peer it names. With
 * `author` (the verified gossipsub signer) the check is that the author names itself, and the
 * inner signature is left to whoever gets it relayed: gossipsub has already verified a
 * signature over these same bytes, and a second ed25519 check per message is most of an idle
 * agent's CPU.
 */
export async function openHeartbeat (s: unknown, author?: string): Promise<Heartbeat | undefined> {
  if (typeof s !== 'object' || s === null) return undefined
  const { body, sig } = s as Record<string, unknown>
  if (!(body instanceof Uint8Array) || !(sig instanceof Uint8Array)) return undefined
  const hb = decode(body)
  if (!isHeartbeat(hb)) return undefined
  if (author !== undefined) return hb.id === author ? hb : undefined
  try {
    const publicKey = peerIdFromString(hb.id).publicKey
    if (publicKey === undefined || !(await publicKey.verify(body, sig))) return undefined
  } catch {
    return undefined
  }
  return hb
}

export function encodeHeartbeatMessage (s: SignedHeartbeat): Uint8Array {
  return encode({ v: 1, t: 'hb', body: s.body, sig: s.sig })
}

/** Entries as they go on the wire: tombstones carry no value field. */
export function wireEntry (e: Entry): Entry {
  return e.deleted
    ? { key: e.key, deleted: true, hlc: e.hlc, origin: e.origin }
    : { key: e.key, value: e.value, deleted: false, hlc: e.hlc, origin: e.origin }
}

export function encodeConfigMessage (entries: readonly Entry[]): Uint8Array {
  return encode({ v: 1, t: 'cfg', entries: entries.map(wireEntry) })
}

export type GossipMessage =
  | { t: 'hb', signed: SignedHeartbeat }
  | { t: 'cfg', entries: Entry[], rejected: number }

/** Parse a gossip message; undefined when it is not one we understand. */
export function decodeGossip (data: Uint8Array): GossipMessage | undefined {
  const m = decode(data) as Record<string, unknown> | undefined
  if (typeof m !== 'object' || m === null || m.v !== 1) return undefined
  if (m.t === 'hb') return { t: 'hb', signed: { body: m.body as Uint8Array, sig: m.sig as Uint8Array } }
  if (m.t === 'cfg' && Array.isArray(m.entries)) {
    const entries = m.entries.filter(isEntry)
    return { t: 'cfg', entries, rejected: m.entries.length - entries.length }
  }
  return undefined
}
