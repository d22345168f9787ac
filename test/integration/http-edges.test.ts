// Hostile and unusual HTTP input on real agents: what is refused (with the JSON error body),
// that a refused request leaves the connection usable or closed (never hanging), that values
// read back exactly as written on another agent and after a restart, and that a config watch
// larger than the slow-reader limit still arrives.
import fc from 'fast-check'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SseParser, type SseEvent } from '../../src/client/sse.js'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
let a: AgentProc
let b: AgentProc
let dirA: string

beforeAll(async () => {
  dirA = cluster.tempDir()
  a = await cluster.start({ name: 'a', dataDir: dirA })
  b = await cluster.start({ name: 'b', join: [a.listen] })
  await cluster.converged(['a', 'b'])
})

afterAll(async () => { await cluster.stopAll() })

/** Send raw bytes on one connection; collect what comes back until the server closes or `ms` pass. */
async function raw (agent: AgentProc, parts: Array<string | Buffer>, until: (text: string) => boolean = () => false, ms = 15_000): Promise<{ text: string, closed: boolean }> {
  const [host, port] = agent.http.split(':')
  return await new Promise(resolve => {
    const sock = connect(Number(port), host)
    let text = ''
    let done = false
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve({ text, closed })
    }
    const timer = setTimeout(() => finish(false), ms)
    sock.on('data', d => {
      text += d.toString('latin1')
      if (until(text)) finish(false)
    })
    sock.on('end', () => finish(true))
    sock.on('close', () => finish(true))
    sock.on('error', () => {})
    sock.on('connect', () => {
      (async () => {
        for (const p of parts) {
          if (sock.destroyed) return
          if (!sock.write(p)) await new Promise(resolve => sock.once('drain', resolve))
        }
      })().catch(() => {})
    })
  })
}

async function put (agent: AgentProc, key: string, body: string | Uint8Array, type?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://${agent.http}/v1/config/${key}`, {
    method: 'PUT',
    body,
    headers: type === undefined ? {} : { 'content-type': type },
    signal: AbortSignal.timeout(15_000)
  })
  return { status: res.status, body: await res.json() }
}

describe('request bodies', () => {
  it('after a 413 on a chunked body over 1 MiB the connection is closed, not left hanging', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const parts: Array<string | Buffer> = ['PUT /v1/config/big HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n']
    for (let i = 0; i < 18; i++) parts.push(`${chunk.byteLength.toString(16)}\r\n`, chunk, '\r\n')
    parts.push('0\r\n\r\n', 'GET /v1/agent/self HTTP/1.1\r\nHost: t\r\n\r\n')
    const started = Date.now()
    const r = await raw(a, parts, text => text.includes('HTTP/1.1 200'))
    expect(r.text).toMatch(/^HTTP\/1\.1 413 /)
    expect(r.text).toContain('MURMUR_ERR_TOO_LARGE')
    // Either the connection is closed (and says so), or the next request is answered.
    const second = r.text.indexOf('HTTP/1.1 200')
    if (second < 0) {
      expect(r.text.toLowerCase()).toContain('connection: close')
      expect(r.closed).toBe(true)
      expect(Date.now() - started).toBeLessThan(14_000)
    }
    expect((await a.get('/v1/config/big')).status).toBe(404)
  })

  it('refuses a body that is not valid UTF-8 and stores nothing', async () => {
    const r = await put(a, 'utf8/bad', Buffer.from([0x22, 0x61, 0xff, 0xfe, 0x22]), 'application/json')
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'MURMUR_ERR_BAD_JSON' } } })
    expect((await a.get('/v1/config/utf8/bad')).status).toBe(404)
  })

  it('takes JSON as application/json (with charset, or +json) or without a content type, and refuses other types', async () => {
    expect((await put(a, 'ct/json', '1', 'application/json')).status).toBe(200)
    expect((await put(a, 'ct/charset', '2', 'application/json; charset=utf-8')).status).toBe(200)
    expect((await put(a, 'ct/plus', '3', 'application/merge-patch+json')).status).toBe(200)
    expect((await put(a, 'ct/none', new TextEncoder().encode('4'))).status).toBe(200)
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
      const r = await put(a, 'ct/other', '5', type)
      expect({ type, status: r.status, code: r.body.error?.code }).toEqual({ type, status: 415, code: 'MURMUR_ERR_MEDIA_TYPE' })
    }
    expect((await a.get('/v1/config/ct/other')).status).toBe(404)
  })

  it('refuses keys with bidi overrides or invisible characters', async () => {
    for (const key of ['a%E2%80%AEb', 'a%E2%80%8Bb', 'a%E2%81%A0b', '%EF%BB%BFkey']) {
      const r = await put(a, key, '1', 'application/json')
      expect({ key, status: r.status, code: r.body.error?.code }).toEqual({ key, status: 400, code: 'MURMUR_ERR_BAD_KEY' })
    }
  })

  it('answers requests Node itself refuses (malformed, headers too large) with the JSON error body', async () => {
    const bad = await raw(a, ['GET /v1/agent/self HTTP/1.1\r\nHost: t\r\nthis is not a header\r\n\r\n'])
    expect(bad.text).toMatch(/^HTTP\/1\.1 400 /)
    expect(JSON.parse(bad.text.slice(bad.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'MURMUR_ERR_BAD_REQUEST' } })
    const big = await raw(a, [`GET /v1/agent/self HTTP/1.1\r\nHost: t\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`])
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /)
    expect(JSON.parse(big.text.slice(big.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'MURMUR_ERR_HEADERS_TOO_LARGE' } })
  })
})

describe('value fidelity', () => {
  it('refuses the values msgpack would change (__proto__ keys, lone surrogates) with 400', async () => {
    for (const text of ['{"__proto__": 1}', '"\\ud800"', '{"a": ["\\udfff"]}', '{"\\ud800": 1}']) {
      const r = await put(a, 'fid/bad', text, 'application/json')
      expect({ text, status: r.status, code: r.body.error?.code }).toEqual({ text, status: 400, code: 'MURMUR_ERR_BAD_VALUE' })
    }
    expect((await a.get('/v1/config/fid/bad')).status).toBe(404)
  })

  it('a random JSON value written on one agent reads back identically on another and after a restart', async () => {
    const values = fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 12, seed: 9 })
    values.push({ nested: { '': [0, -1.5e-300, 1e308, 'é😀\u0000'], constructor: { prototype: null } } }, '__proto_', 2 ** 53 - 1)
    const written = new Map<string, string>()
    for (const [i, v] of values.entries()) {
      const text = JSON.stringify(v)
      const r = await put(a, `fid/${i}`, text, 'application/json')
      expect(r.status).toBe(200)
      written.set(`fid/${i}`, JSON.stringify(JSON.parse(text)))
    }
    const readAll = async (agent: AgentProc): Promise<Map<string, string>> => {
      const { body } = await agent.get('/v1/config?prefix=fid/')
      return new Map(body.items.map((it: any) => [it.key, JSON.stringify(it.value)]))
    }
    await waitFor('all values on b', async () => (await readAll(b)).size === written.size)
    expect(await readAll(b)).toEqual(written)
    a.kill('SIGKILL')
    await a.exited
    a = await cluster.start({ name: 'a', dataDir: dirA, listenPort: Number(a.listen.split(':')[1]) })
    expect(await readAll(a)).toEqual(written)
  })
})

describe('config watches', () => {
  it('a snapshot larger than the slow-reader limit (140 values of 62 KB) arrives whole, and the stream stays open', async () => {
    const value = JSON.stringify('v'.repeat(62_000))
    for (let i = 0; i < 140; i += 7) {
      await Promise.all(Array.from({ length: 7 }, async (_, j) => {
        expect((await put(b, `huge/${String(i + j).padStart(3, '0')}`, value, 'application/json')).status).toBe(200)
      }))
    }
    const ctl = new AbortController()
    const res = await fetch(`http://${b.http}/v1/watch/config?prefix=huge/`, { signal: ctl.signal })
    const events: SseEvent[] = []
    let ended = false
    const parser = new SseParser()
    const decoder = new TextDecoder()
    ;(async () => {
      for await (const chunk of res.body ?? []) events.push(...parser.push(decoder.decode(chunk, { stream: true })))
      ended = true
    })().catch(() => { ended = true })
    try {
      await waitFor('the snapshot', () => events.length >= 1 || ended, 60_000, 50)
      expect(ended).toBe(false)
      expect(events[0].event).toBe('snapshot')
      const items = JSON.parse(events[0].data).items
      expect(items).toHaveLength(140)
      expect(items[139].value).toBe(JSON.parse(value))
      // Still connected: a later change arrives on the same stream.
      expect((await put(b, 'huge/after', '1', 'application/json')).status).toBe(200)
      await waitFor('the put after the snapshot', () => events.length >= 2 || ended, 30_000, 50)
      expect(events[1]).toMatchObject({ event: 'put' })
    } finally {
      ctl.abort()
    }
  })
})
