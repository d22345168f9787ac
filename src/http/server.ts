// A small JSON HTTP server on node:http: a route table, body limits, JSON errors. The route
// handlers live in routes.ts; `handle` is exported so tests can call it without a socket.
import { readFileSync } from 'node:fs'
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { MurmurError } from '../core/errors.js'
import type { Authorize } from './auth.js'
import { errorBody } from './errors.js'
import { Router } from './router.js'

export const MAX_BODY_BYTES = 1024 * 1024
/**
 * What a refused request still sends is read and thrown away up to this much (and this long),
 * so the client reads our answer instead of a reset and the connection can carry its next
 * request. Past either bound the answer says `Connection: close` and the connection is closed.
 */
const DRAIN_BYTES = 4 * 1024 * 1024
const DRAIN_MS = 5000

const UTF8 = new TextDecoder('utf-8', { fatal: true })

export interface Request {
  method: string
  /** Path split into raw (still percent-encoded) segments. */
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  /**
   * Parsed JSON body; throws a 400 when it is missing, malformed or not UTF-8, and a 415 when
   * it is labelled as something other than JSON (`anyContentType` skips that: Consul's routes).
   */
  json: (opts?: { anyContentType?: boolean }) => Promise<unknown>
  /** The body's bytes as sent (Consul KV values are raw bytes). */
  raw: () => Promise<Buffer>
  /** Resolves when the client goes away (for long polls). */
  closed: AbortSignal
}

export interface Reply {
  status?: number
  body?: unknown
  headers?: Record<string, string>
  /** Raw text body (Prometheus metrics), sent instead of JSON. */
  text?: string
  /** A JSON body serialised already (with its final newline), sent as is instead of `body`. */
  json?: Buffer
  /**
   * `headers` name the content type and length of `json` already (the body cache builds them
   * once): sent as they are, not copied and completed for every request.
   */
  complete?: boolean
  /** Takes over the response (event streams): the server writes nothing once it is called. */
  stream?: (res: ServerResponse) => void
}

export interface Route {
  method: string
  /** Path pattern: literal segments, `:name` for one segment, `*name` (last) for the rest. */
  pattern: string
  handler: (req: Request, params: Record<string, string>) => Promise<Reply> | Reply
  /** Headers for this route's error answers too (Consul's clients want X-Consul-Index on every answer). */
  errorHeaders?: () => Record<string, string>
}

function tooLarge (): MurmurError {
  return new MurmurError('MURMUR_ERR_TOO_LARGE', `body must be at most ${MAX_BODY_BYTES} bytes`)
}

/** The body, refused as soon as it passes the limit (the rest is left to `discard`). */
async function readBody (req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw tooLarge()
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size <= MAX_BODY_BYTES) { chunks.push(chunk); return }
      stop()
      reject(tooLarge())
    }
    const onEnd = (): void => { stop(); resolve(Buffer.concat(chunks)) }
    const onError = (err: Error): void => { stop(); reject(err) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

/** Read and drop the rest of a refused request, within bounds; true when it was all read. */
async function discard (req: IncomingMessage): Promise<boolean> {
  if (req.readableEnded) return true
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES + DRAIN_BYTES) return false
  return await new Promise(resolve => {
    let size = 0
    const done = (ended: boolean): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (!ended) req.pause()
      resolve(ended)
    }
    const onData = (chunk: Buffer): void => { size += chunk.byteLength; if (size > DRAIN_BYTES) done(false) }
    const onEnd = (): void => done(true)
    const onError = (): void => done(false)
    const timer = setTimeout(() => done(false), DRAIN_MS)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.resume()
  })
}

/** JSON bodies must be labelled as JSON (or not at all), in UTF-8 (RFC 8259). */
function checkJsonType (header: string | undefined): void {
  if (header === undefined || header.trim() === '') return
  const [type, ...params] = header.split(';').map(x => x.trim().toLowerCase())
  const json = type === 'application/json' || /^application\/[^/]+\+json$/.test(type)
  const charset = params.find(p => p.startsWith('charset='))?.slice(8).replace(/"/g, '')
  if (!json || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new MurmurError('MURMUR_ERR_MEDIA_TYPE', `request body must be JSON sent as 'content-type: application/json' (UTF-8), not '${header}'`)
  }
}

/** What the server reports of each answered request (metrics.ts keeps the histogram). */
export type Observe = (method: string, route: string, status: number, seconds: number) => void

export interface HandlerOptions {
  /** Throws a 401/403 MurmurError when the request lacks the token it needs (auth.ts). */
  authorize?: Authorize
  /** True for a connection accepted beyond the cap: it is answered 503 and closed. */
  overloaded?: (socket: Socket) => boolean
  /** Told of every answered request: its route pattern ('none' when none matched), status, seconds. */
  observe?: Observe
}

/** The query of every request without one: shared, so it refuses to be changed. */
class NoQuery extends URLSearchParams {
  override append (): void { throw new TypeError('a request\'s query is read-only') }
  override set (): void { throw new TypeError('a request\'s query is read-only') }
  override delete (): void { throw new TypeError('a request\'s query is read-only') }
  override sort (): void { throw new TypeError('a request\'s query is read-only') }
}
const NO_QUERY = new NoQuery()

/**
 * One request as route handlers see it. The query is parsed, and the abort signal created, only
 * when a handler asks: most reads need neither (creating an abort signal for every request
 * halved throughput once).
 */
class SidecarRequest implements Request {
  private parsedQuery: URLSearchParams | undefined
  private abort: AbortController | undefined
  private body: Promise<Buffer> | undefined

  constructor (private readonly req: IncomingMessage, private readonly res: ServerResponse, readonly method: string, readonly path: string, private readonly search: string) {}

  get headers (): IncomingMessage['headers'] { return this.req.headers }

  get query (): URLSearchParams {
    // Most reads have no query at all, yet read `index` and `wait` from it.
    this.parsedQuery ??= this.search === '' ? NO_QUERY : new URLSearchParams(this.search)
    return this.parsedQuery
  }

  get closed (): AbortSignal {
    if (this.abort === undefined) {
      const abort = this.abort = new AbortController()
      const res = this.res
      // Only a client that goes away early aborts, not the end of a normal response.
      if (res.destroyed) abort.abort()
      else res.on('close', () => { if (!res.writableFinished) abort.abort() })
    }
    return this.abort.signal
  }

  async raw (): Promise<Buffer> {
    this.body ??= readBody(this.req)
    return await this.body
  }

  async json (opts: { anyContentType?: boolean } = {}): Promise<unknown> {
    if (opts.anyContentType !== true) checkJsonType(this.req.headers['content-type'])
    const buf = await this.raw()
    if (buf.byteLength === 0) throw new MurmurError('MURMUR_ERR_BAD_JSON', 'request body is empty; send a JSON value')
    let text: string
    try {
      text = UTF8.decode(buf)
    } catch {
      throw new MurmurError('MURMUR_ERR_BAD_JSON', 'request body is not valid UTF-8')
    }
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new MurmurError('MURMUR_ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`)
    }
  }
}

/**
 * The request handler: routes, runs the route's handler and writes its reply. A handler that
 * answers at once (a read with nothing to wait for) is answered within the request event, with
 * no promise in between: answering a microtask later cost a third of the throughput.
 * Returns a promise only for a request still in progress.
 */
export function createHandler (routes: Route[], opts: HandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> | undefined {
  const router = new Router(routes)
  const send = (res: ServerResponse, reply: Reply, method: string, route: string, started: number): void => {
    if (res.destroyed) return
    const status = reply.status ?? 200
    if (reply.stream !== undefined) {
      reply.stream(res)
    } else if (reply.complete === true && reply.json !== undefined) {
      res.writeHead(status, reply.headers)
      res.end(reply.json)
    } else {
      const headers: Record<string, string> = { ...reply.headers }
      let payload: string | Buffer
      if (reply.text !== undefined) {
        payload = reply.text
        headers['content-type'] ??= 'text/plain; version=0.0.4'
      } else {
        payload = reply.json ?? JSON.stringify(reply.body ?? {}) + '\n'
        headers['content-type'] = 'application/json'
      }
      headers['content-length'] = String(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength)
      res.writeHead(status, headers)
      res.end(payload)
    }
    opts.observe?.(method, route, status, (performance.now() - started) / 1000)
  }
  const fail = async (req: IncomingMessage, res: ServerResponse, err: unknown, method: string, route: Route | undefined, started: number): Promise<void> => {
    const e = errorBody(err)
    const reply: Reply = { status: e.status, body: e.body, headers: { ...route?.errorHeaders?.(), ...ERROR_HEADERS[e.body.error.code] } }
    if (!(await discard(req))) reply.headers = { ...reply.headers, connection: 'close' }
    send(res, reply, method, route?.pattern ?? 'none', started)
  }
  return (req, res) => {
    const started = opts.observe === undefined ? 0 : performance.now()
    const method = req.method ?? 'GET'
    let route: Route | undefined
    let reply: Promise<Reply> | Reply
    try {
      if (opts.overloaded?.(req.socket) === true) throw new MurmurError('MURMUR_ERR_BUSY', 'the agent has too many open HTTP connections; retry later, or reuse connections')
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      const path = q < 0 ? url : url.slice(0, q)
      const request = new SidecarRequest(req, res, method, path, q < 0 ? '' : url.slice(q + 1))
      // Before routing: without the token, not even which routes exist is told.
      opts.authorize?.(method, req.headers, request.query)
      const found = router.find(method, path)
      if (found.route === undefined) {
        throw found.pathMatched
          ? new MurmurError('MURMUR_ERR_METHOD', `${method} is not allowed on ${path}`)
          : new MurmurError('MURMUR_ERR_NO_ROUTE', `no route ${method} ${path}; see README "Sidecar API"`)
      }
      route = found.route
      reply = route.handler(request, found.params)
    } catch (err) {
      return fail(req, res, err, method, route, started)
    }
    const pattern = route.pattern
    if (reply instanceof Promise) {
      return reply.then(r => send(res, r, method, pattern, started), async err => await fail(req, res, err, method, route, started))
    }
    send(res, reply, method, pattern, started)
    return undefined
  }
}

const ERROR_HEADERS: Record<string, Record<string, string>> = {
  MURMUR_ERR_UNAUTHORIZED: { 'www-authenticate': 'Bearer realm="murmur"' },
  MURMUR_ERR_BUSY: { connection: 'close', 'retry-after': '1' }
}

const IDLE_MS = 10_000

/** Connections beyond the cap that still get a 503 answer; further ones are closed unanswered. */
const OVERFLOW = 64

export interface ServeOptions {
  authorize?: HandlerOptions['authorize']
  observe?: HandlerOptions['observe']
  /** Open connections served at once. @default defaultMaxConnections() */
  maxConnections?: number
}

/**
 * Half the process's open-file limit, at most 1,024: however many connections clients open,
 * the agent keeps descriptors for its peers, its data dir and its own /proc reads.
 */
export function defaultMaxConnections (): number {
  let limit = 4096
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (m !== null) limit = Number(m[1])
  } catch {}
  return Math.max(16, Math.min(1024, Math.floor(limit / 2)))
}

export async function listen (routes: Route[], host: string, port: number, opts: ServeOptions = {}): Promise<Server> {
  const cap = opts.maxConnections ?? defaultMaxConnections()
  let open = 0
  const over = new WeakSet<Socket>()
  const handler = createHandler(routes, { authorize: opts.authorize, observe: opts.observe, overloaded: s => over.has(s) })
  // A connection that has not sent a request within this time is closed: idle connections hold
  // file descriptors. (Node's headersTimeout only starts with the first byte.)
  const silent = new WeakMap<Socket, NodeJS.Timeout>()
  // Timeouts are checked every second (Node's default is 30 s), so they hold as stated.
  const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    clearTimeout(silent.get(req.socket))
    try {
      handler(req, res)?.catch(() => res.destroy())
    } catch {
      res.destroy()
    }
  })
  // Node closes connections beyond maxConnections as soon as they are accepted; the OVERFLOW
  // below it are told why (503) and given two seconds to ask.
  server.maxConnections = cap + OVERFLOW
  server.prependListener('connection', (socket: Socket) => {
    open++
    const t = setTimeout(() => socket.destroy(), IDLE_MS)
    silent.set(socket, t)
    socket.once('close', () => { open--; clearTimeout(t) })
    if (open > cap) {
      over.add(socket)
      socket.setTimeout(2000, () => socket.destroy())
    }
  })
  // Between requests, and while a client sends its headers, the same bound applies. (Long polls
  // and event streams are responses in progress, not idle.)
  server.on('clientError', answerClientError)
  server.keepAliveTimeout = IDLE_MS
  server.headersTimeout = IDLE_MS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return server
}

/**
 * Requests Node refuses before they reach a route (malformed, headers over 16 KiB, too slow)
 * get the same JSON error body as every other error, instead of Node's bare status line.
 */
function answerClientError (err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const e = errorBody(err.code === 'HPE_HEADER_OVERFLOW'
    ? new MurmurError('MURMUR_ERR_HEADERS_TOO_LARGE', 'request headers must be at most 16 KiB')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new MurmurError('MURMUR_ERR_TIMEOUT', 'the request was not received in time')
      : new MurmurError('MURMUR_ERR_BAD_REQUEST', `malformed HTTP request (${err.code ?? err.message})`))
  const payload = JSON.stringify(e.body) + '\n'
  socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`)
}
