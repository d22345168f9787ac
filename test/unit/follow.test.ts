// The client's stream follower against a scripted in-process HTTP server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { follow } from '../../src/client/follow.js'
import { MurmurClientError } from '../../src/client/http.js'
import type { SseEvent } from '../../src/client/sse.js'
import { waitFor } from '../helpers/agents.js'

let server: Server | undefined
afterEach(async () => {
  const s = server
  server = undefined
  s?.closeAllConnections()
  if (s !== undefined) await new Promise(resolve => s.close(resolve))
})

/** Serves the n-th request with `script[n]`; records each request's Last-Event-ID. */
async function serve (script: Array<(res: ServerResponse) => void>): Promise<{ url: string, seen: Array<string | undefined> }> {
  const seen: Array<string | undefined> = []
  server = createServer((req: IncomingMessage, res) => {
    seen.push(req.headers['last-event-id'] as string | undefined)
    script[Math.min(seen.length - 1, script.length - 1)](res)
  })
  await new Promise<void>(resolve => server?.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, seen }
}

const sse = (res: ServerResponse, text: string, end: boolean): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  if (end) res.end(text)
  else res.write(text)
}

describe('follow', () => {
  it('reconnects after the stream ends and resumes from the last event id', async () => {
    const { url, seen } = await serve([
      res => sse(res, 'id: 1-1\nevent: a\ndata: 1\n\nid: 1-2\nevent: a\ndata: 2\n\n', true),
      res => sse(res, 'id: 1-3\nevent: a\ndata: 3\n\n', false)
    ])
    const events: SseEvent[] = []
    const errors: Error[] = []
    const stop = follow(url, e => events.push(e), { onError: e => errors.push(e) })
    try {
      await waitFor('three events', () => events.length === 3, 10_000, 10)
      expect(events.map(e => e.data)).toEqual(['1', '2', '3'])
      expect(seen).toEqual([undefined, '1-2'])
      expect(errors.map(e => (e as MurmurClientError).code)).toEqual(['MURMUR_ERR_UNREACHABLE'])
    } finally {
      stop()
    }
  })

  it('stops for good on a 4xx answer, reporting the agent\'s code', async () => {
    const { url, seen } = await serve([res => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":{"code":"MURMUR_ERR_NOT_FOUND","message":"no watch"}}')
    }])
    const errors: Error[] = []
    follow(url, () => {}, { onError: e => errors.push(e) })
    await waitFor('the refusal', () => errors.length === 1, 10_000, 10)
    expect(errors[0]).toBeInstanceOf(MurmurClientError)
    expect(errors[0]).toMatchObject({ code: 'MURMUR_ERR_NOT_FOUND', status: 404 })
    expect(seen).toHaveLength(1)
  })

  it('keeps following when a callback throws, and reports it', async () => {
    const { url } = await serve([res => sse(res, 'data: 1\n\ndata: 2\n\n', false)])
    const got: string[] = []
    const errors: Error[] = []
    const stop = follow(url, e => {
      got.push(e.data)
      if (e.data === '1') throw new Error('callback failed')
    }, { onError: e => errors.push(e) })
    try {
      await waitFor('both events', () => got.length === 2, 10_000, 10)
      expect(errors.map(e => e.message)).toEqual(['callback failed'])
    } finally {
      stop()
    }
  })

  it('does not start when its signal is already aborted', () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch')
    try {
      // A watch that starts calls fetch before follow returns.
      follow('http://127.0.0.1:1/', () => {}, { signal: AbortSignal.abort() })
      expect(fetchSpy).not.toHaveBeenCalled()
    } finally {
      fetchSpy.mockRestore()
    }
  })
})
