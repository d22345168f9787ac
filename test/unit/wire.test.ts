// Gossip payloads from the network: malformed, oversized or forged input is refused, never thrown.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { Heartbeat } from '../../src/core/heartbeat.js'
import { decode, encode, MAX_MESSAGE_BYTES } from '../../src/net/codec.js'
import { decodeGossip, encodeConfigMessage, encodeHeartbeatMessage, openHeartbeat, signHeartbeat } from '../../src/net/wire.js'

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

describe('heartbeat signatures', () => {
  it('opens a heartbeat signed by the member it names', async () => {
    const { key, hb } = await member()
    const msg = decodeGossip(encodeHeartbeatMessage(await signHeartbeat(hb, key)))
    expect(msg?.t).toBe('hb')
    expect(await openHeartbeat(msg?.t === 'hb' ? msg.signed : undefined)).toEqual(hb)
  })

  it('refuses a heartbeat signed by someone else, a tampered body, or a wrong gossip author', async () => {
    const a = await member()
    const b = await member()
    const forged = await signHeartbeat(a.hb, b.key)
    expect(await openHeartbeat(forged)).toBeUndefined()
    const signed = await signHeartbeat(a.hb, a.key)
    const tampered = { body: encode({ ...a.hb, counter: 99 }), sig: signed.sig }
    expect(await openHeartbeat(tampered)).toBeUndefined()
    expect(await openHeartbeat(signed, b.hb.id)).toBeUndefined()
    expect(await openHeartbeat(signed, a.hb.id)).toEqual(a.hb)
    expect(await openHeartbeat({ body: 'x', sig: 1 })).toBeUndefined()
    expect(await openHeartbeat({ body: encode({ ...a.hb, status: 'zombie' }), sig: signed.sig }, a.hb.id)).toBeUndefined()
  })
})
