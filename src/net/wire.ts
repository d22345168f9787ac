// Gossip payloads (config deltas; membership records travel in swim packets, see records.ts).
// Every message is a msgpack map with `v` (format version) and `t` (type).
// Types are only ever added; an agent drops (and counts) a type it does not know.
import { isEntry } from '../core/config.js'
import type { Entry } from '../core/lww.js'
import { decode, encode } from './codec.js'

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
  | { t: 'cfg', entries: Entry[], rejected: number }

/** Parse a gossip message; undefined when it is not one we understand. */
export function decodeGossip (data: Uint8Array): GossipMessage | undefined {
  const m = decode(data) as Record<string, unknown> | undefined
  if (typeof m !== 'object' || m === null || m.v !== 1) return undefined
  if (m.t === 'cfg' && Array.isArray(m.entries)) {
    const entries = m.entries.filter(isEntry)
    return { t: 'cfg', entries, rejected: m.entries.length - entries.length }
  }
  return undefined
}
