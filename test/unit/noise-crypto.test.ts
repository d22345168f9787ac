// Noise's key agreement with key objects kept: the same shared secrets as @libp2p/noise's own
// crypto, for key pairs this module made and for one it did not (a static key from a seed).
import { defaultCrypto } from '@libp2p/noise/crypto'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { noiseCrypto } from '../../src/net/noise-crypto.js'

const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

describe('noise crypto', () => {
  it('agrees with the default crypto on both sides of a Diffie-Hellman', () => {
    for (let i = 0; i < 10; i++) {
      const ours = noiseCrypto.generateX25519KeyPair()
      const theirs = defaultCrypto.generateX25519KeyPair()
      const a = noiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)
      const b = defaultCrypto.generateX25519SharedKey(theirs.privateKey, ours.publicKey)
      expect(a.byteLength).toBe(32)
      expect(equal(a, b)).toBe(true)
      // Noise's own crypto with our key pair's bytes: the bytes are the key, not just a handle.
      expect(equal(defaultCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey), a)).toBe(true)
    }
  })

  it('takes private keys it did not make, and copies of its own', () => {
    const seeded = noiseCrypto.generateX25519KeyPairFromSeed(randomBytes(32))
    const other = noiseCrypto.generateX25519KeyPair()
    const a = noiseCrypto.generateX25519SharedKey(seeded.privateKey, other.publicKey)
    expect(equal(a, noiseCrypto.generateX25519SharedKey(other.privateKey, seeded.publicKey))).toBe(true)
    const copy = Uint8Array.from(other.privateKey)
    expect(equal(noiseCrypto.generateX25519SharedKey(copy, seeded.publicKey), a)).toBe(true)
  })
})
