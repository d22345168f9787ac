// Wire encoding: msgpack, plain objects only (no msgpackr records or extensions, so a peer
// cannot make us build arbitrary structures). Decoding never throws: bad input is undefined,
// and the caller counts it.
import { Packr } from 'msgpackr'

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' })

/** Largest gossip message or sync frame we accept. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

export function encode (value: unknown): Uint8Array {
  return packr.pack(value)
}

export function decode (bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return undefined
  try {
    return packr.unpack(bytes)
  } catch {
    return undefined
  }
}
