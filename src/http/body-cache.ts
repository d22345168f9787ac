// Serialised answers of hot reads, kept while what they were read from is unchanged. A sidecar
// is read far more often than the cluster changes (every client call, every few seconds per
// instance), so a read whose version (its change index) is the one cached sends the bytes built
// last time instead of rebuilding and re-serialising the same list. Bounded: past `max` keys the
// least recently built one is dropped, so odd keys (any service name or tag a client asks for)
// cannot grow it.
import type { Reply } from './server.js'

interface Cached { version: string | number, reply: Reply }

/**
 * `value` serialised once, with X-Murmur-Index `index`, as a reply the server sends as it is
 * (headers complete, type and length too). Frozen: it is shared by every request it answers.
 */
export function frozenReply (index: number, value: unknown): Reply {
  const json = Buffer.from(JSON.stringify(value) + '\n')
  return Object.freeze({
    json,
    complete: true,
    headers: Object.freeze({ 'x-murmur-index': String(index), 'content-type': 'application/json', 'content-length': String(json.byteLength) })
  })
}

export class BodyCache {
  private readonly entries = new Map<string, Cached>()

  constructor (private readonly max = 512) {}

  /**
   * The answer for `key` at `version`: cached, or built by `read` (a JSON value) and cached.
   * `index` goes to X-Murmur-Index. The reply returned is shared: callers must not change it.
   * Its headers are complete (type and length too), so the server sends them without a copy.
   */
  reply (key: string, version: string | number, index: number, read: () => unknown): Reply {
    const hit = this.entries.get(key)
    if (hit !== undefined && hit.version === version) return hit.reply
    const reply = frozenReply(index, read())
    this.entries.delete(key)
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, { version, reply })
    return reply
  }

  get size (): number { return this.entries.size }
}
