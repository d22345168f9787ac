// Noise's crypto with X25519 keys kept as node:crypto key objects. @libp2p/noise's own Node
// implementation imports both keys of every Diffie-Hellman from DER (three per handshake and
// side) and exports each new key pair to DER, and Node 20's OpenSSL takes 450 µs to import an
// X25519 private key that way. Here a key pair made by this module keeps its private key object
// (found again by the identity of the bytes Noise hands back), and the peer's public key is
// imported as a JWK. Measured per call on this machine: a Diffie-Hellman 638 → 62 µs on Node
// 20 (106 → 38 on Node 22, 132 → 61 on Node 24), a key pair 185 → 55 µs: a handshake's key
// agreement 2.1 → 0.24 ms per side, paid for every connection an agent opens or accepts.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** Bytes as Noise passes them: one array or a list of them. */
type Bytes = Parameters<ICryptoInterface['generateX25519SharedKey']>[0]

/** The key object of each private key this module made, by the bytes' identity (dropped with them). */
const privateKeys = new WeakMap<Uint8Array, KeyObject>()

function bytes (b: Bytes): Uint8Array {
  return b instanceof Uint8Array ? b : b.subarray()
}

function generateX25519KeyPair (): { publicKey: Uint8Array, privateKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync('x25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const pair = { publicKey: Buffer.from(jwk.x as string, 'base64url'), privateKey: Buffer.from(jwk.d as string, 'base64url') }
  privateKeys.set(pair.privateKey, privateKey)
  return pair
}

function generateX25519SharedKey (privateKey: Bytes, publicKey: Bytes): Uint8Array {
  const own = privateKey instanceof Uint8Array ? privateKeys.get(privateKey) : undefined
  return diffieHellman({
    // A key this module did not make (a static key from a seed): DER, as Noise does.
    privateKey: own ?? createPrivateKey({ key: Buffer.concat([PKCS8_X25519, bytes(privateKey)]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(bytes(publicKey)).toString('base64url') }, format: 'jwk' })
  })
}

export const noiseCrypto: ICryptoInterface = { ...defaultCrypto, generateX25519KeyPair, generateX25519SharedKey }
