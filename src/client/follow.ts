// Follows an agent's event stream for as long as the caller wants: reconnects with exponential
// backoff when the agent goes away (restart, crash) and resumes with Last-Event-ID, so the
// agent sends only what was missed. A refusal (4xx: bad request, unknown stream) is final.
import { answered, MurmurClientError, unreachable } from './http.js'
import { SseParser, type SseEvent } from './sse.js'
import type { WatchOptions } from './types.js'

const BACKOFF = { firstMs: 250, maxMs: 5_000 }
/** The agent pings every 15 s; this long without a byte means the connection is dead. */
const IDLE_MS = 45_000

/** Returns a function that stops following. */
export function follow (url: string, onEvent: (e: SseEvent) => void, opts: WatchOptions = {}, headers: Record<string, string> = {}): () => void {
  const stopped = new AbortController()
  const stop = (): void => {
    opts.signal?.removeEventListener('abort', stop)
    stopped.abort()
  }
  if (opts.signal?.aborted === true) stop()
  opts.signal?.addEventListener('abort', stop, { once: true })
  const report = (err: Error, final: boolean): void => {
    if (opts.onError !== undefined) opts.onError(err)
    else if (final) process.emitWarning(err)
  }
  let lastId: string | undefined
  let delay = BACKOFF.firstMs

  const connect = async (): Promise<void> => {
    const conn = new AbortController()
    const onStop = (): void => conn.abort()
    stopped.signal.addEventListener('abort', onStop, { once: true })
    let idle = setTimeout(() => conn.abort(), IDLE_MS)
    try {
      let res: Response
      try {
        res = await fetch(url, { headers: { ...headers, accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) }, signal: conn.signal })
      } catch (err) {
        throw unreachable(url, err)
      }
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => '')
        let body: unknown
        try { body = JSON.parse(text) } catch { body = undefined }
        throw answered(res.status, body)
      }
      delay = BACKOFF.firstMs
      const parser = new SseParser()
      const decoder = new TextDecoder()
      try {
        for await (const chunk of res.body) {
          clearTimeout(idle)
          idle = setTimeout(() => conn.abort(), IDLE_MS)
          for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
            lastId = ev.id
            try {
              onEvent(ev)
            } catch (err) {
              report(err as Error, false)
            }
          }
        }
      } catch (err) {
        throw new MurmurClientError('MURMUR_ERR_UNREACHABLE', `lost the stream from ${url} (${conn.signal.aborted ? 'silent too long' : (err as Error).message})`)
      }
    } finally {
      clearTimeout(idle)
      stopped.signal.removeEventListener('abort', onStop)
    }
  }

  const run = async (): Promise<void> => {
    while (!stopped.signal.aborted) {
      try {
        await connect()
        if (!stopped.signal.aborted) report(new MurmurClientError('MURMUR_ERR_UNREACHABLE', `the agent at ${url} closed the stream`), false)
      } catch (err) {
        if (stopped.signal.aborted) return
        const refused = err instanceof MurmurClientError && err.status !== undefined && err.status >= 400 && err.status < 500
        report(err instanceof Error ? err : new Error(String(err)), refused)
        if (refused) return stop()
      }
      await sleep(delay * (0.8 + Math.random() * 0.4), stopped.signal)
      delay = Math.min(delay * 2, BACKOFF.maxMs)
    }
  }
  run().catch(err => report(err as Error, true))
  return stop
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
