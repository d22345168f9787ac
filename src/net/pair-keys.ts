// A secret key for each pair of agents, from their peer ids alone, to authenticate membership
// datagrams with an HMAC instead of an Ed25519 signature. A signature cost 36 µs to make and
// 108 µs to check on this machine, on every probe, ack and gossip packet: about a sixth of an
// idle agent's CPU, and a tenth of what 50 agents started at once spend until they all see
// all. An HMAC costs a few µs either way.
//
// Each agent's Ed25519 identity key is also an X25519 key (the birational map from Edwards to
// Montgomery form that libsodium's crypto_sign_ed25519_pk_to_curve25519 and age use), so the
// two agents of a pair, and only they, can compute a Diffie-Hellman secret from their own
// private key and the other's peer id: no key exchange, no state to lose across a restart.
// Using one key pair for Ed25519 signatures and X25519 key agreement is proven safe
// (Thormarker, "On using the same key pair for Ed25519 and an X25519 based KEM", 2021).
// The secret is computed once per peer and kept.
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto'
import { ed25519PublicKey, PerPeer } from './per-peer.js'

/** Bytes of the HMAC-SHA256 tag a datagram carries: 128 bits, as in AES-GCM's tag. */
export const MAC_BYTES = 16

const P = (1n << 255n) - 19n

/** The X25519 (Montgomery u) form of an Ed25519 public key; undefined for bytes that are no valid point encoding. */
export function montgomeryPublic (edPublic: Uint8Array): Buffer | undefined {
  if (edPublic.byteLength !== 32) return undefined
  const le = Buffer.from(edPublic)
  le[31] &= 0x7f
  const y = BigInt('0x' + Buffer.from(le).reverse().toString('hex'))
  if (y >= P || y === 1n) return undefined
  // u = (1 + y) / (1 - y) mod p
  const u = ((1n + y) * inverse(((1n - y) % P + P) % P)) % P
  return Buffer.from(u.toString(16).padStart(64, '0'), 'hex').reverse()
}

/**
 * The X25519 private key of an Ed25519 key pair: the clamped scalar Ed25519 signs with, whose
 * public half is the Montgomery form of the Ed25519 public key. Imported as a JWK (which needs
 * both halves): Node 20's OpenSSL takes 450 µs to import an X25519 private key from DER, 38 µs
 * from a JWK.
 */
export function montgomeryPrivate (edSeed: Uint8Array, edPublic: Uint8Array): KeyObject {
  const scalar = createHash('sha512').update(edSeed).digest().subarray(0, 32)
  const u = montgomeryPublic(edPublic)
  if (u === undefined) throw new Error('not an Ed25519 public key')
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: scalar.toString('base64url'), x: u.toString('base64url') }, format: 'jwk' })
}

/** The inverse of `a` (not 0) mod p, by the extended Euclidean algorithm: 28 µs, against 162 µs as a^(p-2) with BigInt. */
function inverse (a: bigint): bigint {
  let [r0, r1, s0, s1] = [P, a, 0n, 1n]
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1]
  }
  return (s0 % P + P) % P
}

export class PairKeys {
  private readonly own: KeyObject
  private readonly keys = new PerPeer<Buffer>(peer => this.derive(peer))

  /** `seed`: this agent's Ed25519 seed (the first 32 bytes of a libp2p Ed25519 private key's raw form), `self` its peer id. */
  constructor (private readonly self: string, seed: Uint8Array) {
    const edPublic = ed25519PublicKey(self)
    if (edPublic === undefined) throw new Error('pair keys need an Ed25519 identity')
    this.own = montgomeryPrivate(seed, edPublic)
  }

  /** The HMAC tag of `bytes` for the pair of this agent and `peer`; undefined when `peer` has no Ed25519 id. */
  tag (peer: string, bytes: Uint8Array): Buffer | undefined {
    const key = this.keys.get(peer)
    return key === undefined ? undefined : createHmac('sha256', key).update(bytes).digest().subarray(0, MAC_BYTES)
  }

  /** Whether `tag` is the pair's tag of `bytes`. */
  check (peer: string, bytes: Uint8Array, tag: Uint8Array): boolean {
    const want = this.tag(peer, bytes)
    return want !== undefined && tag.byteLength === MAC_BYTES && timingSafeEqual(want, tag)
  }

  private derive (peer: string): Buffer | undefined {
    const edPublic = ed25519PublicKey(peer)
    const u = edPublic === undefined ? undefined : montgomeryPublic(edPublic)
    if (u === undefined) return undefined
    try {
      const theirs = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: u.toString('base64url') }, format: 'jwk' })
      const shared = diffieHellman({ privateKey: this.own, publicKey: theirs })
      // A low-order point gives an all-zero secret that anyone could compute.
      if (shared.every(b => b === 0)) return undefined
      // Both ids, in the same order on both sides, bind the key to this pair.
      const ids = [this.self, peer].sort().join(' ')
      return Buffer.from(hkdfSync('sha256', shared, Buffer.from(ids), 'murmur membership datagram mac v1', 32))
    } catch {
      return undefined
    }
  }
}
