// The event writer with in-memory sinks: a reader gets every byte of a huge event in order; a
// client that stops reading is cut off only once events pile up behind the one being sent.
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { EventWriter } from '../../src/http/event-writer.js'

const MiB = 1024 * 1024

/** A sink that accepts writes but never finishes any: a client that does not read. */
function stalled (): Writable {
  return new Writable({ highWaterMark: 16 * 1024, write: () => {} })
}

describe('EventWriter', () => {
  it('delivers one event far larger than the backlog limit, whole and in order, to a reader', async () => {
    const got: Buffer[] = []
    let bytes = 0
    const sink = new Writable({ highWaterMark: 16 * 1024, write: (chunk: Buffer, _enc, cb) => { got.push(chunk); bytes += chunk.byteLength; setImmediate(cb) } })
    const w = new EventWriter(sink, 1 * MiB)
    const big = 'data: ' + 'é'.repeat(5 * MiB) + '😀\n\n'
    w.write(big)
    w.write('data: after\n\n')
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (bytes >= Buffer.byteLength(big) + 13) { clearInterval(t); resolve() }
        if (sink.destroyed) { clearInterval(t); reject(new Error('cut off')) }
      }, 5)
    })
    expect(Buffer.concat(got).toString()).toBe(big + 'data: after\n\n')
  })

  it('does not cut off a client for one big event it has not read yet', () => {
    const sink = stalled()
    const w = new EventWriter(sink, 1 * MiB)
    w.write('x'.repeat(10 * MiB))
    expect(sink.destroyed).toBe(false)
  })

  it('cuts off a client that does not read once events behind the current one pass the limit', () => {
    const sink = stalled()
    const w = new EventWriter(sink, 1 * MiB)
    w.write('x'.repeat(10 * MiB))
    for (let i = 0; i < 15 && !sink.destroyed; i++) w.write('y'.repeat(100 * 1024))
    expect(sink.destroyed).toBe(true)
  })
})
