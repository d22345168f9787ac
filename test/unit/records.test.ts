// Member records as stored: a verified record is kept as a copy, not as a view into the
// message it came in (which would keep the whole message alive).
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { Records, signingKey } from '../../src/net/records.js'
import { heartbeat } from './fixtures.js'

describe('Records.keep', () => {
  it('copies body and signature out of the message they are views into, unchanged', () => {
    const message = new Uint8Array(4096).map((_, i) => i % 251)
    const body = message.subarray(100, 400)
    const sig = message.subarray(400, 464)
    const kept = new Records().keep({ body, sig })
    expect(kept.body).toEqual(body)
    expect(kept.sig).toEqual(sig)
    expect(kept.body.buffer).not.toBe(message.buffer)
    expect(kept.body.buffer.byteLength).toBe(body.byteLength + sig.byteLength)
    message.fill(0)
    expect(kept.body[0]).toBe(100)
    expect(kept.sig[0]).toBe(400 % 251)
  })
})

describe('Records.verify', () => {
  it("takes a record signed by its member, with the key in the member's peer id, and nothing else", async () => {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const signed = new Records(signingKey(key)).sign(heartbeat(id))
    const reader = new Records()
    expect(reader.verify(id, signed.body, signed.sig)).toBe(true)
    expect(reader.verify(id, signed.body, signed.sig)).toBe(true)
    expect(reader.verify(other, signed.body, signed.sig)).toBe(false)
    const tampered = Uint8Array.from(signed.body)
    tampered[tampered.length - 1] ^= 1
    expect(reader.verify(id, tampered, signed.sig)).toBe(false)
    expect(reader.verify('not-a-peer-id', signed.body, signed.sig)).toBe(false)
  })
})
