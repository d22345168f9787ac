// Noise's key agreement with key objects kept: the same shared secrets as @libp2p/noise's own
// crypto, for key pairs this module made and for one it did not (a static key from a seed);
// and real handshakes between two hosts on loopback import no private key from DER (Node 20's
// slow path), so a libp2p upgrade that copied the key bytes would show here.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { multiaddr } from '@multiformats/multiaddr'
import crypto, { randomBytes } from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { describe, expect, it } from 'vitest'
import { Host } from '../../src/net/host.js'
import { noiseCrypto } from '../../src/net/noise-crypto.js'
import { freePort } from '../helpers/agents.js'

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

  it('imports no private key from DER in real handshakes', async () => {
    const start = async (port: number): Promise<Host> => await Host.start({ privateKey: await generateKeyPair('Ed25519'), cluster: 'noise-crypto', listen: multiaddr(`/ip4/127.0.0.1/tcp/${port}`), mdns: false })
    const [pa, pb] = [await freePort(), await freePort()]
    const a = await start(pa)
    const b = await start(pb)
    const original = crypto.createPrivateKey
    let der = 0
    crypto.createPrivateKey = ((key: Parameters<typeof original>[0]) => {
      if ((key as { format?: string }).format === 'der') der++
      return original(key)
    }) as typeof original
    syncBuiltinESMExports()
    try {
      for (let i = 0; i < 3; i++) {
        expect(await a.dial(multiaddr(`/ip4/127.0.0.1/tcp/${pb}`), AbortSignal.timeout(10_000))).toBe(b.peerId)
        await a.hangUp(b.peerId)
      }
    } finally {
      crypto.createPrivateKey = original
      syncBuiltinESMExports()
      await a.stop()
      await b.stop()
    }
    expect(der).toBe(0)
  })
})
