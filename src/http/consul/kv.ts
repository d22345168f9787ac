// Consul's KV API over murmur's config map. Consul values are bytes; murmur's are JSON values.
// The mapping (README "Consul KV values"):
//   - a write stores the body as a JSON string when it is UTF-8 text (an empty body is "");
//     other bytes are refused (400), so what a Consul client reads back is what it wrote;
//   - a read gives a string value's UTF-8 bytes, and any other value (number, object, ...)
//     as its JSON text, which consul-template's `parseJSON` turns back into the value.
// Flags are always 0 (a non-zero `flags` is refused) and LockIndex 0: there are no sessions.
// CreateIndex and ModifyIndex are both the key's last change on this agent's Consul scale
// (query.ts): murmur does not track when a key was first created.
import type { Agent } from '../../agent/agent.js'
import { checkKey } from '../../core/config.js'
import { MurmurError } from '../../core/errors.js'
import type { Entry } from '../../core/lww.js'
import { afterBlock } from '../blocking.js'
import type { Reply, Request, Route } from '../server.js'
import { consulBlock, consulIndex, consulReply, present } from './query.js'

/** A murmur value as the bytes a Consul client reads. */
export function valueBytes (value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8')
}

/** The bytes a Consul client wrote as a murmur value. */
export function bytesValue (body: Buffer): string {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  try {
    return text.decode(body)
  } catch {
    throw new MurmurError('MURMUR_ERR_BAD_VALUE', 'value must be UTF-8 text: murmur stores config as JSON values (see README "Consul KV values")')
  }
}

function keyIndex (agent: Agent, key: string): number {
  return agent.configIndex.get(key) ?? 1
}

function kvEntry (agent: Agent, e: Entry): Record<string, unknown> {
  const bytes = valueBytes(e.value)
  const index = consulIndex(agent, keyIndex(agent, e.key))
  return {
    LockIndex: 0,
    Key: e.key,
    Flags: 0,
    Value: bytes.byteLength === 0 ? null : bytes.toString('base64'),
    CreateIndex: index,
    ModifyIndex: index
  }
}

/** Keys under `prefix`, cut after the first `separator` past the prefix (Consul's `?keys&separator=`). */
export function listKeys (keys: readonly string[], prefix: string, separator: string): string[] {
  const out = new Set<string>()
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue
    const cut = separator === '' ? -1 : k.indexOf(separator, prefix.length)
    out.add(cut < 0 ? k : k.slice(0, cut + separator.length))
  }
  return [...out].sort()
}

function refuseUnsupported (req: Request): void {
  for (const p of ['acquire', 'release']) {
    if (req.query.has(p)) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `'${p}' needs Consul sessions, which murmur does not have (no leader to hold locks)`)
  }
  const flags = req.query.get('flags')
  if (flags !== null && flags !== '' && flags !== '0') throw new MurmurError('MURMUR_ERR_BAD_REQUEST', 'flags must be 0: murmur keeps no flags with config values')
}

/** `?cas=N`: go on only when the key's ModifyIndex is N (0: only when the key is absent). */
function casHolds (agent: Agent, req: Request, key: string): boolean {
  const cas = req.query.get('cas')
  if (cas === null) return true
  if (!/^\d{1,20}$/.test(cas)) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `cas must be a non-negative integer (got '${cas}')`)
  const e = agent.config.get(key)
  if (BigInt(cas) === 0n) return e === undefined
  return e !== undefined && BigInt(consulIndex(agent, keyIndex(agent, key))) === BigInt(cas)
}

export function kvRoutes (agent: Agent): Route[] {
  // Synchronous unless it waits (blocking.ts): most reads are answered within their request event.
  const read = (req: Request, key: string): Reply | Promise<Reply> => {
    const prefix = present(req, 'recurse') || present(req, 'keys')
    const index = (): number => prefix ? agent.configPrefixIndex(key) : keyIndex(agent, key)
    return afterBlock(consulBlock(agent, req, { index, concerns: (kind, k) => kind === 'config' && (prefix ? k?.startsWith(key) === true : k === key) }), () => answer(req, key, prefix, index))
  }

  const answer = (req: Request, key: string, prefix: boolean, index: () => number): Reply => {
    if (present(req, 'keys')) {
      const keys = listKeys(agent.config.map.list(key).map(e => e.key), key, req.query.get('separator') ?? '')
      return consulReply(agent, index(), keys, keys.length === 0 ? 404 : 200)
    }
    const entries = prefix ? agent.config.map.list(key) : [agent.config.get(key)].filter(e => e !== undefined)
    if (entries.length === 0) return consulReply(agent, index(), null, 404)
    if (present(req, 'raw') && !prefix) {
      return { text: valueBytes(entries[0].value).toString('utf8'), headers: { ...consulReply(agent, index(), null).headers, 'content-type': 'text/plain; charset=utf-8' } }
    }
    return consulReply(agent, index(), entries.map(e => kvEntry(agent, e)))
  }

  const write = async (req: Request, key: string): Promise<ReturnType<typeof consulReply>> => {
    refuseUnsupported(req)
    checkKey(key)
    const value = bytesValue(await req.raw())
    if (!casHolds(agent, req, key)) return consulReply(agent, keyIndex(agent, key), false)
    await agent.setConfig(key, value)
    return consulReply(agent, keyIndex(agent, key), true)
  }

  const remove = async (req: Request, key: string): Promise<ReturnType<typeof consulReply>> => {
    if (present(req, 'recurse')) {
      for (const e of agent.config.map.list(key)) await agent.deleteConfig(e.key)
      return consulReply(agent, agent.configPrefixIndex(key), true)
    }
    checkKey(key)
    if (!casHolds(agent, req, key)) return consulReply(agent, keyIndex(agent, key), false)
    await agent.deleteConfig(key)
    return consulReply(agent, keyIndex(agent, key), true)
  }

  return [
    // `/v1/kv/` with no key: the whole map, with ?recurse or ?keys.
    { method: 'GET', pattern: '/v1/kv/', handler: req => read(req, '') },
    { method: 'DELETE', pattern: '/v1/kv/', handler: async req => await remove(req, '') },
    { method: 'GET', pattern: '/v1/kv/*key', handler: (req, p) => read(req, p.key) },
    { method: 'PUT', pattern: '/v1/kv/*key', handler: async (req, p) => await write(req, p.key) },
    { method: 'DELETE', pattern: '/v1/kv/*key', handler: async (req, p) => await remove(req, p.key) }
  ]
}
