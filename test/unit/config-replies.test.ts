// Answers of GET /v1/config/:key held per key: each read checks them against the agent's
// current entry, index and origin name, so every change is seen by the next read.
import { describe, expect, it } from 'vitest'
import type { Entry } from '../../src/core/lww.js'
import { ConfigReplies, type ConfigSource } from '../../src/http/config-replies.js'

function source (): ConfigSource & { entries: Map<string, Entry>, index: Map<string, number>, names: Map<string, string> } {
  const entries = new Map<string, Entry>()
  const names = new Map<string, string>()
  const index = new Map<string, number>()
  return {
    entries,
    index,
    names,
    config: { get: k => entries.get(k) },
    configIndex: index,
    table: { get: id => (names.has(id) ? { hb: { name: names.get(id) as string } } : undefined) }
  }
}

const entry = (key: string, value: unknown, wall: number): Entry => ({ key, value, deleted: false, hlc: { wall, logical: 0 }, origin: 'peer-1' })
const body = (r: { json?: Buffer } | undefined): any => JSON.parse(r?.json?.toString() ?? 'null')

describe('ConfigReplies', () => {
  it('holds one answer per key until its entry, index or origin name changes', () => {
    const s = source()
    let builds = 0
    const replies = new ConfigReplies(s, (e, originName) => { builds++; return { key: e.key, value: e.value, originName } })
    expect(replies.current('k')).toBeUndefined() // never answered
    const v1 = entry('k', 1, 1000)
    s.entries.set('k', v1); s.index.set('k', 5); s.names.set('peer-1', 'n1')
    const r1 = replies.reply('k', v1)
    expect(body(r1)).toEqual({ key: 'k', value: 1, originName: 'n1' })
    expect(r1.headers?.['x-murmur-index']).toBe('5')
    expect(Object.isFrozen(r1)).toBe(true)
    expect(replies.current('k')).toBe(r1)
    expect(replies.reply('k', v1)).toBe(r1)
    expect(builds).toBe(1)

    // A newer write (here from a peer: same origin) replaces the entry and moves the index.
    const v2 = entry('k', 2, 2000)
    s.entries.set('k', v2); s.index.set('k', 6)
    expect(replies.current('k')).toBeUndefined()
    const r2 = replies.reply('k', v2)
    expect(body(r2).value).toBe(2)
    expect(r2.headers?.['x-murmur-index']).toBe('6')

    // The origin member renamed: the item names it.
    s.names.set('peer-1', 'n1-renamed')
    expect(replies.current('k')).toBeUndefined()
    expect(body(replies.reply('k', v2)).originName).toBe('n1-renamed')

    // A delete or tombstone: no live entry, nothing held is sent.
    s.entries.delete('k'); s.index.set('k', 7)
    expect(replies.current('k')).toBeUndefined()
  })

  it('does not serve an entry set aside without a change event, nor its old index when it comes back', () => {
    const s = source()
    const replies = new ConfigReplies(s, e => e.value)
    const v = entry('q', 'x', 1000)
    s.entries.set('q', v); s.index.set('q', 3)
    const r = replies.reply('q', v)
    // Quarantine removes the entry from the map without bumping the index.
    s.entries.delete('q')
    expect(replies.current('q')).toBeUndefined()
    // Released: the same entry object, a new index.
    s.entries.set('q', v); s.index.set('q', 9)
    expect(replies.current('q')).toBeUndefined()
    const back = replies.reply('q', v)
    expect(back).not.toBe(r)
    expect(back.headers?.['x-murmur-index']).toBe('9')
  })

  it('keeps at most `max` keys', () => {
    const s = source()
    const replies = new ConfigReplies(s, e => e.value, 2)
    for (const k of ['a', 'b', 'c']) {
      const e = entry(k, k, 1)
      s.entries.set(k, e)
      replies.reply(k, e)
    }
    expect(replies.size).toBe(2)
    expect(replies.current('a')).toBeUndefined()
    expect(replies.current('c')).toBeDefined()
  })
})
