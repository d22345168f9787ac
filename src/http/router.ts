// Finds the route of a request path. Patterns are split once, when the table is built; each
// request's path is split once and compared segment by segment, and params are decoded only for
// the route that matched (the sidecar's route table has ~60 entries, most reads hit one).
// What a GET path found is remembered (bounded): a sidecar's clients read the same few paths
// over and over, and the split, the scan and the decoding were a third of murmur's own CPU per
// read (Node's HTTP stack aside).
import { MurmurError } from '../core/errors.js'
import type { Route } from './server.js'

interface Compiled {
  route: Route
  /** Literal segments as strings; `:name` segments as null. */
  segs: Array<string | null>
  /** Names of the `:name` params, by segment position. */
  names: Array<string | undefined>
  /** The `*name` param that takes the rest of the path, if the pattern ends in one. */
  rest?: string
}

export type Found =
  | { route: Route, params: Record<string, string> }
  /** The path matches some route, but not for this method. */
  | { route: undefined, pathMatched: true }
  | { route: undefined, pathMatched: false }

/** GET paths whose routing is remembered; past this the oldest is forgotten. */
const CACHED_PATHS = 1024

export class Router {
  private readonly table: Compiled[]
  /** GET path → what it found; params frozen, as every request of that path shares them. */
  private readonly gets = new Map<string, Found>()

  constructor (routes: Route[]) {
    this.table = routes.map(route => {
      const parts = route.pattern.split('/')
      const last = parts[parts.length - 1]
      const rest = last.startsWith('*') ? last.slice(1) : undefined
      if (rest !== undefined) parts.pop()
      return {
        route,
        segs: parts.map(p => (p.startsWith(':') ? null : p)),
        names: parts.map(p => (p.startsWith(':') ? p.slice(1) : undefined)),
        rest
      }
    })
  }

  /** The first route (in table order) whose pattern and method match. */
  find (method: string, path: string): Found {
    if (method !== 'GET') return this.scan(method, path)
    let found = this.gets.get(path)
    if (found === undefined) {
      found = this.scan(method, path)
      if (found.route !== undefined) Object.freeze(found.params)
      if (this.gets.size >= CACHED_PATHS) this.gets.delete(this.gets.keys().next().value as string)
      this.gets.set(path, found)
    }
    return found
  }

  private scan (method: string, path: string): Found {
    const got = path.split('/')
    let pathMatched = false
    for (const c of this.table) {
      if (!fits(c, got)) continue
      pathMatched = true
      if (c.route.method === method) return { route: c.route, params: paramsOf(c, got) }
    }
    return { route: undefined, pathMatched }
  }
}

function fits (c: Compiled, got: string[]): boolean {
  const n = c.segs.length
  if (c.rest === undefined ? got.length !== n : got.length <= n) return false
  for (let i = 0; i < n; i++) {
    const w = c.segs[i]
    if (w === null ? got[i] === '' : w !== got[i]) return false
  }
  // `*name` takes at least one character: '/v1/config/' is not a key.
  return c.rest === undefined || got.length > n + 1 || got[n] !== ''
}

function paramsOf (c: Compiled, got: string[]): Record<string, string> {
  const params: Record<string, string> = {}
  for (let i = 0; i < c.names.length; i++) {
    const name = c.names[i]
    if (name !== undefined) params[name] = decode(got[i])
  }
  if (c.rest !== undefined) params[c.rest] = decode(got.slice(c.segs.length).join('/'))
  return params
}

function decode (s: string): string {
  if (!s.includes('%')) return s
  try {
    return decodeURIComponent(s)
  } catch {
    throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `malformed percent-encoding in '${s}'`)
  }
}
