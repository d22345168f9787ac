// What an agent derives once per peer from its peer id alone (a public key object, a pair key),
// kept in a bounded cache: ids are chosen by whoever sends, so the cache starts over rather than
// grow without end.
import { peerIdFromString } from '@libp2p/peer-id'

/** The raw 32-byte Ed25519 public key a peer id carries; undefined for any other id (or none). */
export function ed25519PublicKey (id: string): Uint8Array | undefined {
  try {
    const key = peerIdFromString(id).publicKey
    return key?.type === 'Ed25519' && key.raw.byteLength === 32 ? key.raw : undefined
  } catch {
    return undefined
  }
}

/** Values derived per peer id and kept, "none" (undefined) included; at most `max`. */
export class PerPeer<V> {
  private readonly values = new Map<string, V | null>()

  constructor (private readonly derive: (id: string) => V | undefined, private readonly max = 100_000) {}

  get (id: string): V | undefined {
    let v = this.values.get(id)
    if (v === undefined) {
      v = this.derive(id) ?? null
      if (this.values.size >= this.max) this.values.clear()
      this.values.set(id, v)
    }
    return v ?? undefined
  }
}
