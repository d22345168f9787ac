// Answers of `GET /v1/config/:key`, serialised once per version of a key and sent as built while
// that version is the one served. A sidecar's clients read the same few keys over and over and
// the cluster changes them rarely. Whether a held answer still holds is checked on every read
// against the agent itself, not told by events: three lookups and three comparisons, no string
// built, no listener held. It holds while the key's live entry is the same object (a write, a
// delete, a tombstone from a peer, or quarantine replaces or removes it), the key's change index
// is the same (it is X-Murmur-Index; a quarantined entry that comes back keeps its object but
// moves the index), and the origin member still has the name the answer gives (originName).
// Bounded like BodyCache: past `max` keys the least recently built one is dropped.
import type { Entry } from '../core/lww.js'
import { frozenReply } from './body-cache.js'
import type { Reply } from './server.js'

/** What a held answer is checked against: the agent (AgentApi has all three). */
export interface ConfigSource {
  readonly config: { get: (key: string) => Entry | undefined }
  readonly configIndex: ReadonlyMap<string, number>
  readonly table: { get: (id: string) => { readonly hb: { readonly name: string } } | undefined }
}

interface Held {
  entry: Entry
  index: number
  originName: string | undefined
  reply: Reply
}

export class ConfigReplies {
  private readonly held = new Map<string, Held>()

  constructor (
    private readonly agent: ConfigSource,
    /** The JSON item for an entry (routes.ts: key, value, version, updatedAt). */
    private readonly item: (e: Entry, originName: string | undefined) => unknown,
    private readonly max = 512
  ) {}

  /**
   * The answer held for `key` if it is still the current one, else undefined. Only keys that
   * were answered are held, so a hit also means `key` passed checkKey when it was built.
   */
  current (key: string): Reply | undefined {
    const h = this.held.get(key)
    if (h === undefined) return undefined
    const a = this.agent
    return a.config.get(key) === h.entry && (a.configIndex.get(key) ?? 1) === h.index && a.table.get(h.entry.origin)?.hb.name === h.originName
      ? h.reply
      : undefined
  }

  /** The answer for `key`, whose live entry is `e`: the one held, or built now and held. */
  reply (key: string, e: Entry): Reply {
    const index = this.agent.configIndex.get(key) ?? 1
    const originName = this.agent.table.get(e.origin)?.hb.name
    const h = this.held.get(key)
    if (h !== undefined && h.entry === e && h.index === index && h.originName === originName) return h.reply
    const reply = frozenReply(index, this.item(e, originName))
    this.held.delete(key)
    if (this.held.size >= this.max) this.held.delete(this.held.keys().next().value as string)
    this.held.set(key, { entry: e, index, originName, reply })
    return reply
  }

  get size (): number { return this.held.size }
}
