// Gossip payloads from the network: malformed, oversized or forged input is refused, never thrown.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { Heartbeat } from '../../src/core/heartbeat.js'
import { decode, encode, MAX_MESSAGE_BYTES } from '../../src/net/codec.js'
import { Records, signingKey } from '../../src/net/records.js'
import { decodeGossip, encodeConfigMessage } from '../../src/net/wire.js'

async function member (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, hb: Heartbeat }> {
  const key = await generateKeyPair('Ed25519')
  const hb: Heartbeat = {
    v: 1, id: peerIdFromPrivateKey(key).toString(), name: 'n1', generation: 1, counter: 1, status: 'alive', address: '127.0.0.1', addrs: [], services: [],
    metrics: { cpu: 0, rss: 1, memFree: 1, memTotal: 2, load1: 0, netTx: 0, netRx: 0 }, sentAt: 0
  }
  return { key, hb }
}

describe('decodeGossip', () => {
  it.each([
    ['empty', new Uint8Array()],
    ['garbage', new Uint8Array([0xc1, 0xff, 0x00, 0x13])],
    ['a number', encode(42)],
    ['unknown version', encode({ v: 2, t: 'cfg', entries: [] })],
    ['unknown type', encode({ v: 1, t: 'zap' })],
    ['cfg without entries', encode({ v: 1, t: 'cfg' })]
  ])('refuses %s', (_what, bytes) => {
    expect(decodeGossip(bytes)).toBeUndefined()
  })

  it('refuses anything over the message limit without decoding it', () => {
    expect(decode(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toBeUndefined()
  })

  it('keeps the valid entries of a config message and counts the rest', () => {
    const good = { key: 'a', value: 1, deleted: false, hlc: { wall: 1, logical: 0 }, origin: 'o' }
    const bytes = encode({ v: 1, t: 'cfg', entries: [good, { key: '', value: 1 }, { ...good, key: 'b', hlc: { wall: -1, logical: 0 } }, 'x'] })
    expect(decodeGossip(bytes)).toEqual({ t: 'cfg', entries: [good], rejected: 3 })
  })

  it('rejects and counts entries whose stamp is out of range (unsafe logical, wall past year 9999)', () => {
    const good = { key: 'a', value: 1, deleted: false, hlc: { wall: 1_700_000_000_000, logical: 0 }, origin: 'o' }
    const bad = [
      { ...good, key: 'b', hlc: { wall: 1_700_000_000_000, logical: 2 ** 53 - 1 } },
      { ...good, key: 'c', hlc: { wall: 1_700_000_000_000, logical: 2 ** 31 } },
      { ...good, key: 'd', hlc: { wall: 9e15, logical: 0 } },
      { ...good, key: 'e', hlc: { wall: 253_402_300_800_000, logical: 0 } }
    ]
    expect(decodeGossip(encode({ v: 1, t: 'cfg', entries: [good, ...bad] }))).toEqual({ t: 'cfg', entries: [good], rejected: 4 })
  })

  it('rejects and counts entries whose value would not survive the codec (lone surrogate, __proto__ key)', () => {
    const good = { key: 'a', value: 1, deleted: false, hlc: { wall: 1, logical: 0 }, origin: 'o' }
    // Built as msgpack by hand: the codec itself cannot carry these faithfully.
    const msg = decodeGossip(encode({ v: 1, t: 'cfg', entries: [good, { ...good, key: 'b', value: { __proto_: 1 } }] }))
    expect(msg).toEqual({ t: 'cfg', entries: [good, { ...good, key: 'b', value: { __proto_: 1 } }], rejected: 0 })
  })

  it('round-trips config entries, tombstones without a value', () => {
    const tomb = { key: 'gone', deleted: true, hlc: { wall: 5, logical: 1 }, origin: 'o' }
    const msg = decodeGossip(encodeConfigMessage([{ ...tomb, value: 'ignored' } as never]))
    expect(msg).toEqual({ t: 'cfg', entries: [tomb], rejected: 0 })
  })
})

describe('member record signatures', () => {
  it('verifies a record signed by the member it names', async () => {
    const { key, hb } = await member()
    const records = new Records(signingKey(key))
    const signed = records.sign(hb)
    const reader = new Records()
    expect(reader.decode(signed.body)).toEqual(hb)
    expect(reader.verify(hb.id, signed.body, signed.sig)).toBe(true)
  })

  it('refuses a record signed by someone else, a tampered body, or an id that is no key', async () => {
    const a = await member()
    const b = await member()
    const reader = new Records()
    const forged = new Records(signingKey(b.key)).sign(a.hb)
    expect(reader.verify(a.hb.id, forged.body, forged.sig)).toBe(false)
    const signed = new Records(signingKey(a.key)).sign(a.hb)
    expect(reader.verify(a.hb.id, encode({ ...a.hb, counter: 99 }), signed.sig)).toBe(false)
    expect(reader.verify('not-a-peer-id', signed.body, signed.sig)).toBe(false)
    expect(reader.verify(a.hb.id, signed.body, new Uint8Array(3))).toBe(false)
    expect(reader.decode(encode({ ...a.hb, status: 'zombie' }))).toBeUndefined()
    expect(reader.decode(new Uint8Array([0xc1]))).toBeUndefined()
  })
})
