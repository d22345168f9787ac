// Route matching: literal segments, `:name` for one segment, `*name` for the rest; the first
// route in table order wins; a path known for another method is told apart from no route.
import { describe, expect, it } from 'vitest'
import { MurmurError } from '../../src/core/errors.js'
import { Router } from '../../src/http/router.js'
import type { Route } from '../../src/http/server.js'

const route = (method: string, pattern: string): Route => ({ method, pattern, handler: () => ({}) })
const table = [
  route('GET', '/v1/services'),
  route('GET', '/v1/services/:name'),
  route('PUT', '/v1/agent/services/:id/ttl'),
  route('GET', '/v1/config/*key'),
  route('PUT', '/v1/config/*key'),
  route('GET', '/v1/kv/*key'),
  route('GET', '/v1/kv/special')
]
const router = new Router(table)
const find = (method: string, path: string): { pattern?: string, params?: Record<string, string>, pathMatched?: boolean } => {
  const f = router.find(method, path)
  return f.route === undefined ? { pathMatched: f.pathMatched } : { pattern: f.route.pattern, params: f.params }
}

describe('Router', () => {
  it('matches literal, one-segment and rest patterns, decoding params', () => {
    expect(find('GET', '/v1/services')).toEqual({ pattern: '/v1/services', params: {} })
    expect(find('GET', '/v1/services/web%20app')).toEqual({ pattern: '/v1/services/:name', params: { name: 'web app' } })
    expect(find('PUT', '/v1/agent/services/w1/ttl')).toEqual({ pattern: '/v1/agent/services/:id/ttl', params: { id: 'w1' } })
    expect(find('GET', '/v1/config/app/db%2Furl')).toEqual({ pattern: '/v1/config/*key', params: { key: 'app/db/url' } })
    expect(find('GET', '/v1/config/a/')).toEqual({ pattern: '/v1/config/*key', params: { key: 'a/' } })
    expect(find('GET', '/v1/config//')).toEqual({ pattern: '/v1/config/*key', params: { key: '/' } })
  })

  it('needs every segment: no empty `:name`, no empty rest, no extra segments', () => {
    for (const p of ['/v1/services/', '/v1/services/web/x', '/v1/config', '/v1/config/', '/v1/agent/services//ttl', '/v2/services', '']) {
      expect(find('GET', p).pattern, p).toBeUndefined()
    }
  })

  it('takes the first route in table order, and tells a wrong method from no route', () => {
    expect(find('GET', '/v1/kv/special').pattern).toBe('/v1/kv/*key')
    expect(find('DELETE', '/v1/config/k')).toEqual({ pathMatched: true })
    expect(find('PUT', '/v1/config/k').pattern).toBe('/v1/config/*key')
    expect(find('GET', '/nope')).toEqual({ pathMatched: false })
  })

  it('refuses malformed percent-encoding with a 400', () => {
    expect(() => router.find('GET', '/v1/services/%E0%A4%A')).toThrow(MurmurError)
    // Asked again (a remembered GET path must not skip the refusal).
    expect(() => router.find('GET', '/v1/services/%E0%A4%A')).toThrow(MurmurError)
  })

  it('remembers what a GET path found: the same answer, params shared and frozen, a bounded memory', () => {
    const r = new Router(table)
    const a = r.find('GET', '/v1/services/web')
    const b = r.find('GET', '/v1/services/web')
    expect(b).toBe(a)
    expect(a.route?.pattern).toBe('/v1/services/:name')
    if (a.route !== undefined) {
      expect(Object.isFrozen(a.params)).toBe(true)
      expect(() => { a.params.name = 'other' }).toThrow(TypeError)
    }
    // Other methods are not remembered: their params are their own.
    expect(r.find('PUT', '/v1/config/k')).not.toBe(r.find('PUT', '/v1/config/k'))
    // Many distinct paths (a client asking for any name) leave it answering correctly.
    for (let i = 0; i < 3000; i++) expect(r.find('GET', `/v1/services/s${i}`).route?.pattern).toBe('/v1/services/:name')
    expect(r.find('GET', '/v1/services/web')).toEqual(a)
    expect(r.find('GET', '/nope')).toEqual({ route: undefined, pathMatched: false })
  })
})
