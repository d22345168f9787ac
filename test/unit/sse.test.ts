import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SseParser, type SseEvent } from '../../src/client/sse.js'

function parseAll (chunks: string[]): SseEvent[] {
  const p = new SseParser()
  return chunks.flatMap(c => p.push(c))
}

const STREAM = 'id: 7-1\nevent: snapshot\ndata: {"items":[]}\n\n: ping\n\nid: 7-2\nevent: put\ndata: {"key":"a"}\n\n'
const EVENTS: SseEvent[] = [
  { id: '7-1', event: 'snapshot', data: '{"items":[]}' },
  { id: '7-2', event: 'put', data: '{"key":"a"}' }
]

describe('SseParser', () => {
  it('parses events with ids and types, skipping comments', () => {
    expect(parseAll([STREAM])).toEqual(EVENTS)
  })

  it('gives the same events however the text is split into chunks', () => {
    fc.assert(fc.property(fc.array(fc.nat(STREAM.length), { maxLength: 8 }), cuts => {
      const at = [0, ...[...cuts].sort((a, b) => a - b), STREAM.length]
      expect(parseAll(at.slice(1).map((end, i) => STREAM.slice(at[i], end)))).toEqual(EVENTS)
    }))
  })

  it('accepts CRLF and CR line ends, even a CRLF split across chunks', () => {
    const crlf = STREAM.replace(/\n/g, '\r\n')
    expect(parseAll([crlf])).toEqual(EVENTS)
    const cut = crlf.indexOf('\r\n') + 1
    expect(parseAll([crlf.slice(0, cut), crlf.slice(cut)])).toEqual(EVENTS)
    expect(parseAll([crlf.slice(0, cut), '', crlf.slice(cut)])).toEqual(EVENTS)
    expect(parseAll([STREAM.replace(/\n/g, '\r')])).toEqual(EVENTS)
  })

  it('joins multi-line data, defaults the type to message, strips one leading space', () => {
    expect(parseAll(['data:  two spaces\ndata:second\n\n'])).toEqual([{ event: 'message', data: ' two spaces\nsecond', id: undefined }])
  })

  it('keeps the last id for later events, as Last-Event-ID does', () => {
    expect(parseAll(['id: 9\ndata: a\n\ndata: b\n\n']).map(e => e.id)).toEqual(['9', '9'])
  })

  it('dispatches nothing for a block without data, and resets its type', () => {
    expect(parseAll(['event: put\n\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x', id: undefined }])
  })

  it('holds back an event until its blank line arrives', () => {
    const p = new SseParser()
    expect(p.push('event: put\ndata: x\n')).toEqual([])
    expect(p.push('\n')).toEqual([{ event: 'put', data: 'x', id: undefined }])
  })

  it('treats a field without a colon as an empty value and ignores unknown fields', () => {
    expect(parseAll(['data\nretry: 10\nfoo: bar\n\n'])).toEqual([{ event: 'message', data: '', id: undefined }])
  })
})
