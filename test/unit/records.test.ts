// Member records as stored: a verified record is kept as a copy, not as a view into the
// message it came in (which would keep the whole message alive).
import { describe, expect, it } from 'vitest'
import { Records } from '../../src/net/records.js'

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
