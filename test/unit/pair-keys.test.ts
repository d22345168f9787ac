// Pair keys for membership datagrams: both agents of a pair derive the same key from their own
// identity and the other's peer id; nobody else does, and a tag checks only for its bytes. Values per
// peer id are derived once and kept in a bounded cache.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHash, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MAC_BYTES, montgomeryPrivate, montgomeryPublic, PairKeys } from '../../src/net/pair-keys.js'
import { PerPeer } from '../../src/net/per-peer.js'

async function identity (): Promise<{ id: string, seed: Uint8Array, pub: Uint8Array }> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), seed: key.raw.subarray(0, 32), pub: key.publicKey.raw }
}

describe('pair keys', () => {
  it('maps an Ed25519 key pair to the X25519 key pair of the same scalar', async () => {
    // The X25519 key of the scalar Ed25519 signs with, imported from DER: another path than
    // montgomeryPrivate's JWK, which carries montgomeryPublic's result beside the scalar.
    const fromDer = (seed: Uint8Array) => createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), createHash('sha512').update(seed).digest().subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8'
    })
    const other = createPublicKey(fromDer((await identity()).seed))
    for (let i = 0; i < 20; i++) {
      const { seed, pub } = await identity()
      const der = fromDer(seed)
      expect(montgomeryPublic(pub)?.toString('base64url')).toBe(createPublicKey(der).export({ format: 'jwk' }).x)
      const jwk = montgomeryPrivate(seed, pub)
      expect(diffieHellman({ privateKey: jwk, publicKey: other }).equals(diffieHellman({ privateKey: der, publicKey: other }))).toBe(true)
    }
  })

  it('gives both agents of a pair the same tag, and a third agent another', async () => {
    const [a, b, c] = [await identity(), await identity(), await identity()]
    const [ka, kb, kc] = [new PairKeys(a.id, a.seed), new PairKeys(b.id, b.seed), new PairKeys(c.id, c.seed)]
    const bytes = Buffer.from('ping from a to b')
    const tag = ka.tag(b.id, bytes) as Buffer
    expect(tag.byteLength).toBe(MAC_BYTES)
    expect(kb.check(a.id, bytes, tag)).toBe(true)
    // c knows a's and b's ids, not their secrets: its key with a is another one.
    expect(kc.tag(b.id, bytes)?.equals(tag)).toBe(false)
    expect(kb.check(c.id, bytes, tag)).toBe(false)
    // One flipped bit of the bytes or of the tag.
    expect(kb.check(a.id, Buffer.from('ping from a to c'), tag)).toBe(false)
    const bad = Buffer.from(tag); bad[0] ^= 1
    expect(kb.check(a.id, bytes, bad)).toBe(false)
    expect(kb.check(a.id, bytes, tag.subarray(0, 8))).toBe(false)
  })

  it('has no key for an id that is not an Ed25519 peer id, or for bytes that are no point', async () => {
    const a = await identity()
    const keys = new PairKeys(a.id, a.seed)
    expect(keys.tag('not a peer id', Buffer.from('x'))).toBeUndefined()
    const secp256k1 = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
    expect(keys.tag(secp256k1, Buffer.from('x'))).toBeUndefined()
    expect(montgomeryPublic(Buffer.alloc(31))).toBeUndefined()
    // y = 1: the neutral point, whose Montgomery form is the point at infinity.
    const one = Buffer.alloc(32); one[0] = 1
    expect(montgomeryPublic(one)).toBeUndefined()
  })

  it('derives each peer\'s value once, "none" included, and starts over past its bound', () => {
    const derived: string[] = []
    const cache = new PerPeer<number>(id => { derived.push(id); return id === 'none' ? undefined : id.length }, 3)
    expect([cache.get('ab'), cache.get('ab'), cache.get('none'), cache.get('none')]).toEqual([2, 2, undefined, undefined])
    expect(derived).toEqual(['ab', 'none'])
    cache.get('c')
    cache.get('d')
    cache.get('ab')
    expect(derived).toEqual(['ab', 'none', 'c', 'd', 'ab'])
  })
})

