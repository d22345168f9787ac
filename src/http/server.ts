// A small JSON HTTP server on node:http: a route table, body limits, JSON errors. The route
// handlers live in routes.ts; `handle` is exported so tests can call it without a socket.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { MurmurError } from '../core/errors.js'
import { errorBody } from './errors.js'

export const MAX_BODY_BYTES = 1024 * 1024

export interface Request {
  method: string
  /** Path split into raw (still percent-encoded) segments. */
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  /** Parsed JSON body; throws a 400 when it is missing or malformed. */
  json: () => Promise<unknown>
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
  /** Takes over the response (event streams): the server writes nothing once it is called. */
  stream?: (res: ServerResponse) => void
}

export interface Route {
  method: string
  /** Path pattern: literal segments, `:name` for one segment, `*name` (last) for the rest. */
  pattern: string
  handler: (req: Request, params: Record<string, string>) => Promise<Reply> | Reply
}

function match (pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = path.split('/')
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i]
    if (w.startsWith('*')) {
      const rest = got.slice(i).join('/')
      if (rest === '') return undefined
      params[w.slice(1)] = decode(rest)
      return params
    }
    if (i >= got.length) return undefined
    if (w.startsWith(':')) {
      if (got[i] === '') return undefined
      params[w.slice(1)] = decode(got[i])
    } else if (w !== got[i]) return undefined
  }
  return want.length === got.length ? params : undefined
}

function decode (s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `malformed percent-encoding in '${s}'`)
  }
}

async function readBody (req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new MurmurError('MURMUR_ERR_TOO_LARGE', `body must be at most ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_BODY_BYTES) throw new MurmurError('MURMUR_ERR_TOO_LARGE', `body must be at most ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

export function createHandler (routes: Route[]): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const closed = new AbortController()
    // Only a client that goes away early aborts: creating the abort reason on every normal
    // response halved throughput.
    res.on('close', () => { if (!res.writableFinished) closed.abort() })
    let reply: Reply
    try {
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      const path = q < 0 ? url : url.slice(0, q)
      const method = req.method ?? 'GET'
      let params: Record<string, string> | undefined
      let route: Route | undefined
      let pathMatched = false
      for (const r of routes) {
        const p = match(r.pattern, path)
        if (p === undefined) continue
        pathMatched = true
        if (r.method === method) { route = r; params = p; break }
      }
      if (route === undefined || params === undefined) {
        throw pathMatched
          ? new MurmurError('MURMUR_ERR_METHOD', `${method} is not allowed on ${path}`)
          : new MurmurError('MURMUR_ERR_NO_ROUTE', `no route ${method} ${path}; see README "Sidecar API"`)
      }
      let body: Promise<Buffer> | undefined
      const request: Request = {
        method,
        path,
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers: req.headers,
        closed: closed.signal,
        raw: async () => {
          body ??= readBody(req)
          return await body
        },
        json: async () => {
          const buf = await request.raw()
          if (buf.byteLength === 0) throw new MurmurError('MURMUR_ERR_BAD_JSON', 'request body is empty; send a JSON value')
          try {
            return JSON.parse(buf.toString('utf8'))
          } catch (err) {
            throw new MurmurError('MURMUR_ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`)
          }
        }
      }
      reply = await route.handler(request, params)
    } catch (err) {
      const e = errorBody(err)
      reply = { status: e.status, body: e.body }
      // Drain what the client still sends, so it reads our answer instead of a reset.
      req.resume()
    }
    if (res.destroyed) return
    if (reply.stream !== undefined) {
      reply.stream(res)
      return
    }
    const headers: Record<string, string> = { ...reply.headers }
    let payload: string
    if (reply.text !== undefined) {
      payload = reply.text
      headers['content-type'] ??= 'text/plain; version=0.0.4'
    } else {
      payload = JSON.stringify(reply.body ?? {}) + '\n'
      headers['content-type'] = 'application/json'
    }
    headers['content-length'] = String(Buffer.byteLength(payload))
    res.writeHead(reply.status ?? 200, headers)
    res.end(payload)
  }
}

export async function listen (routes: Route[], host: string, port: number): Promise<Server> {
  const handler = createHandler(routes)
  const server = createServer((req, res) => { handler(req, res).catch(() => res.destroy()) })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return server
}
