// Cached answers of hot reads: rebuilt when the version moves, bounded in keys.
import { describe, expect, it } from 'vitest'
import { BodyCache } from '../../src/http/body-cache.js'

describe('BodyCache', () => {
  it('serves the bytes built at a version until the version changes', () => {
    const c = new BodyCache()
    let builds = 0
    const read = (v: unknown) => () => { builds++; return v }
    const a = c.reply('web', 5, 5, read([{ id: 1 }]))
    expect(a.json?.toString()).toBe('[{"id":1}]\n')
    expect(a.headers).toEqual({ 'x-murmur-index': '5', 'content-type': 'application/json', 'content-length': '11' })
    expect(a.complete).toBe(true)
    expect(c.reply('web', 5, 5, read('other'))).toBe(a)
    expect(builds).toBe(1)
    const b = c.reply('web', 6, 6, read([]))
    expect(b.json?.toString()).toBe('[]\n')
    expect(b.headers).toEqual({ 'x-murmur-index': '6', 'content-type': 'application/json', 'content-length': '3' })
    expect(builds).toBe(2)
    expect(Object.isFrozen(b)).toBe(true)
  })

  it('keeps at most `max` keys, dropping the least recently built', () => {
    const c = new BodyCache(3)
    for (const k of ['a', 'b', 'c']) c.reply(k, 1, 1, () => k)
    c.reply('a', 2, 2, () => 'a2') // rebuilt: now the newest
    c.reply('d', 1, 1, () => 'd')
    expect(c.size).toBe(3)
    let rebuilt = 0
    c.reply('b', 1, 1, () => { rebuilt++; return 'b' })
    expect(rebuilt).toBe(1) // 'b' was the oldest and went
    c.reply('a', 2, 2, () => { rebuilt++; return 'a2' })
    expect(rebuilt).toBe(1)
  })
})
