import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MurmurError } from '../../src/core/errors.js'
import { isServiceRecord, OUTPUT_MAX, parseCheck, parseService, SERVICE_LIMITS, type Check } from '../../src/core/service.js'
import { decode, encode } from '../../src/net/codec.js'

const HOST = '192.168.1.10'

function rejection (input: unknown): MurmurError {
  try {
    parseService(input, HOST)
  } catch (err) {
    expect(err).toBeInstanceOf(MurmurError)
    return err as MurmurError
  }
  throw new Error(`accepted ${JSON.stringify(input)}`)
}

const many = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i))
const metaOf = (n: number): Record<string, string> => Object.fromEntries(many(n, i => `k${i}`).map(k => [k, 'v']))

describe('parseService: accepted shapes and defaults', () => {
  it('fills in id, address, tags, meta, weight and health', () => {
    expect(parseService({ name: 'web', port: 80 }, HOST)).toEqual({
      id: 'web', name: 'web', address: HOST, port: 80, tags: [], meta: {}, weight: 1, health: 'passing', output: '', since: 0
    })
  })

  it('keeps every given field', () => {
    const input = { id: 'web-2', name: 'web', address: 'web2.internal', port: 8443, tags: ['tls', 'v2'], meta: { zone: 'a', version: '1.2.3' }, weight: 5 }
    expect(parseService(input, HOST)).toEqual({ ...input, health: 'passing', output: '', since: 0 })
  })

  it('deduplicates tags, keeping first-seen order', () => {
    expect(parseService({ name: 'web', port: 80, tags: ['b', 'a', 'b', 'a'] }, HOST).tags).toEqual(['b', 'a'])
  })

  it('copies tags and meta rather than aliasing the input', () => {
    const input = { name: 'web', port: 80, tags: ['x'], meta: { a: 'b' } }
    const s = parseService(input, HOST)
    input.tags.push('y')
    input.meta.a = 'changed'
    expect(s.tags).toEqual(['x'])
    expect(s.meta).toEqual({ a: 'b' })
  })

  it.each<[string, Record<string, unknown>]>([
    ['name with . _ -', { name: 'a.b_c-d', port: 80 }],
    ['name starting with a digit', { name: '9lives', port: 80 }],
    ['name of the maximum length', { name: 'n'.repeat(SERVICE_LIMITS.name), port: 80 }],
    ['port 1', { name: 'web', port: 1 }],
    ['port 65535', { name: 'web', port: 65535 }],
    ['weight 0', { name: 'web', port: 80, weight: 0 }],
    ['weight 1000', { name: 'web', port: 80, weight: 1000 }],
    ['the maximum number of tags', { name: 'web', port: 80, tags: many(SERVICE_LIMITS.tags, i => `t${i}`) }],
    ['a tag of the maximum length', { name: 'web', port: 80, tags: ['t'.repeat(SERVICE_LIMITS.tag)] }],
    ['the maximum number of meta keys', { name: 'web', port: 80, meta: metaOf(SERVICE_LIMITS.meta) }],
    ['an empty meta value', { name: 'web', port: 80, meta: { k: '' } }],
    ['a meta value of the maximum length', { name: 'web', port: 80, meta: { k: 'v'.repeat(SERVICE_LIMITS.metaValue) } }],
    ['an IPv6 address', { name: 'web', port: 80, address: '::1' }],
    ['a 255-character address', { name: 'web', port: 80, address: 'a'.repeat(255) }]
  ])('accepts %s', (_what, input) => {
    const s = parseService(input, HOST)
    expect(s.name).toBe(input.name)
    expect(isServiceRecord(s)).toBe(true)
  })
})

describe('parseService: rejections', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['an array', [{ name: 'web', port: 80 }]],
    ['a string', 'web:80'],
    ['a number', 80],
    ['a missing name', { port: 80 }],
    ['an empty name', { name: '', port: 80 }],
    ['a non-string name', { name: 42, port: 80 }],
    ['a name with a space', { name: 'my web', port: 80 }],
    ['a name with a slash', { name: 'a/b', port: 80 }],
    ['a name with a colon', { name: 'web:80', port: 80 }],
    ['a name starting with -', { name: '-web', port: 80 }],
    ['a name starting with .', { name: '.web', port: 80 }],
    ['a non-ASCII name', { name: 'wéb', port: 80 }],
    ['a name that is too long', { name: 'n'.repeat(SERVICE_LIMITS.name + 1), port: 80 }],
    ['an empty id', { id: '', name: 'web', port: 80 }],
    ['an id with bad characters', { id: 'web 1', name: 'web', port: 80 }],
    ['a null id', { id: null, name: 'web', port: 80 }],
    ['a missing port', { name: 'web' }],
    ['port 0', { name: 'web', port: 0 }],
    ['port 65536', { name: 'web', port: 65536 }],
    ['port -1', { name: 'web', port: -1 }],
    ['a fractional port', { name: 'web', port: 80.5 }],
    ['a string port', { name: 'web', port: '80' }],
    ['port NaN', { name: 'web', port: NaN }],
    ['an empty address', { name: 'web', port: 80, address: '' }],
    ['an address with whitespace', { name: 'web', port: 80, address: 'a b' }],
    ['a 256-character address', { name: 'web', port: 80, address: 'a'.repeat(256) }],
    ['a non-string address', { name: 'web', port: 80, address: 10 }],
    ['an unknown field', { name: 'web', port: 80, extra: true }],
    ['a health field (set by checks, not by registration)', { name: 'web', port: 80, health: 'passing' }],
    ['tags that are not an array', { name: 'web', port: 80, tags: 'a,b' }],
    ['too many tags', { name: 'web', port: 80, tags: many(SERVICE_LIMITS.tags + 1, i => `t${i}`) }],
    ['an empty tag', { name: 'web', port: 80, tags: [''] }],
    ['a non-string tag', { name: 'web', port: 80, tags: [1] }],
    ['a tag that is too long', { name: 'web', port: 80, tags: ['t'.repeat(SERVICE_LIMITS.tag + 1)] }],
    ['meta that is an array', { name: 'web', port: 80, meta: ['a'] }],
    ['meta that is a string', { name: 'web', port: 80, meta: 'a=b' }],
    ['a non-string meta value', { name: 'web', port: 80, meta: { n: 1 } }],
    ['a nested meta value', { name: 'web', port: 80, meta: { n: { x: 'y' } } }],
    ['a null meta value', { name: 'web', port: 80, meta: { n: null } }],
    ['too many meta keys', { name: 'web', port: 80, meta: metaOf(SERVICE_LIMITS.meta + 1) }],
    ['an empty meta key', { name: 'web', port: 80, meta: { '': 'v' } }],
    ['a meta key that is too long', { name: 'web', port: 80, meta: { ['k'.repeat(SERVICE_LIMITS.metaKey + 1)]: 'v' } }],
    ['a meta value that is too long', { name: 'web', port: 80, meta: { k: 'v'.repeat(SERVICE_LIMITS.metaValue + 1) } }],
    ['weight -1', { name: 'web', port: 80, weight: -1 }],
    ['weight 1001', { name: 'web', port: 80, weight: 1001 }],
    ['a fractional weight', { name: 'web', port: 80, weight: 0.5 }],
    ['a string weight', { name: 'web', port: 80, weight: '1' }]
  ])('rejects %s with MURMUR_ERR_BAD_SERVICE', (_what, input) => {
    const err = rejection(input)
    expect(err.code).toBe('MURMUR_ERR_BAD_SERVICE')
    expect(err.message.length).toBeGreaterThan(0)
  })

  it('names the unknown field in the message', () => {
    expect(rejection({ name: 'web', port: 80, colour: 'red' }).message).toContain("'colour'")
  })
})

describe('isServiceRecord', () => {
  const record = parseService({ id: 'web-1', name: 'web', port: 80, tags: ['a'], meta: { k: 'v' }, weight: 3 }, HOST)

  it.each(['passing', 'warning', 'critical'])('accepts a parsed record with health %s', health => {
    expect(isServiceRecord({ ...record, health })).toBe(true)
  })

  it('survives a msgpack round trip', () => {
    const back = decode(encode(record))
    expect(back).toEqual(record)
    expect(isServiceRecord(back)).toBe(true)
  })

  it.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'web'],
    ['unknown health', { ...record, health: 'unknown' }],
    ['no health', { ...record, health: undefined }],
    ['no address', { ...record, address: undefined }],
    ['a bad port', { ...record, port: 0 }],
    ['a bad name', { ...record, name: 'a b' }],
    ['an extra field', { ...record, extra: 1 }],
    ['too many tags', { ...record, tags: many(SERVICE_LIMITS.tags + 1, i => `t${i}`) }],
    ['no output', { ...record, output: undefined }],
    ['an output that is too long', { ...record, output: 'x'.repeat(OUTPUT_MAX + 1) }],
    ['a non-numeric since', { ...record, since: '0' }]
  ])('rejects %s', (_what, x) => {
    expect(isServiceRecord(x)).toBe(false)
  })

  it('accepts whatever parseService produces', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/)
    fc.assert(fc.property(
      fc.record({
        name,
        id: fc.option(name, { nil: undefined }),
        port: fc.integer({ min: 1, max: 65535 }),
        address: fc.option(fc.stringMatching(/^[a-z0-9.:-]{1,30}$/), { nil: undefined }),
        tags: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: SERVICE_LIMITS.tags }),
        meta: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: SERVICE_LIMITS.meta }),
        weight: fc.integer({ min: 0, max: 1000 })
      }, { requiredKeys: ['name', 'port'] }),
      input => {
        const clean = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
        const s = parseService(clean, HOST)
        expect(isServiceRecord(s)).toBe(true)
        expect(s.id).toBe(input.id ?? input.name)
        expect(s.address).toBe(input.address ?? HOST)
        expect(s.weight).toBe(input.weight ?? 1)
        const { health: _health, output: _output, since: _since, ...body } = s
        expect(parseService(body, 'elsewhere')).toEqual(s)
      }
    ), { numRuns: 200 })
  })
})

describe('parseService: health checks', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a ttl check', { ttl: '10s' }],
    ['an http check', { http: 'http://127.0.0.1:8080/health', interval: '5s' }],
    ['an https check with a timeout', { http: 'https://web.internal/health', interval: '500ms', timeout: '1s' }],
    ['a tcp check', { tcp: '127.0.0.1:5432', interval: '10s' }],
    ['a tcp check on IPv6', { tcp: '[::1]:80', interval: '1m' }]
  ])('accepts %s, and the service starts critical until its first pass', (_what, check) => {
    const s = parseService({ name: 'web', port: 80, check }, HOST)
    expect(s).toMatchObject({ check, health: 'critical', output: 'no check result yet' })
    expect(isServiceRecord(s)).toBe(true)
  })

  it.each([undefined, null])('with check %s the service is passing and has no check', check => {
    const s = parseService({ name: 'web', port: 80, check }, HOST)
    expect(s).not.toHaveProperty('check')
    expect(s.health).toBe('passing')
  })

  it.each<[string, unknown]>([
    ['a string', '10s'],
    ['an array', [{ ttl: '10s' }]],
    ['no kind', {}],
    ['two kinds', { ttl: '10s', http: 'http://x/', interval: '1s' }],
    ['an interval on a ttl check', { ttl: '10s', interval: '1s' }],
    ['an unknown field', { http: 'http://x/', interval: '5s', method: 'POST' }],
    ['a ttl below 100ms', { ttl: '50ms' }],
    ['a ttl above a day', { ttl: '25h' }],
    ['a numeric ttl', { ttl: 10 }],
    ['an unparsable ttl', { ttl: '10 seconds' }],
    ['an http check without interval', { http: 'http://x/' }],
    ['a non-http URL', { http: 'ftp://x/', interval: '5s' }],
    ['a malformed URL', { http: 'not a url', interval: '5s' }],
    ['a too-short timeout', { http: 'http://x/', interval: '5s', timeout: '5ms' }],
    ['a tcp target without port', { tcp: 'db', interval: '5s' }],
    ['a tcp port 0', { tcp: 'db:0', interval: '5s' }],
    ['a tcp port 65536', { tcp: 'db:65536', interval: '5s' }]
  ])('rejects a check that is %s with MURMUR_ERR_BAD_SERVICE', (_what, check) => {
    expect(rejection({ name: 'web', port: 80, check }).code).toBe('MURMUR_ERR_BAD_SERVICE')
  })

  it.each<[Record<string, unknown>, Check]>([
    [{ ttl: '1.5s' }, { kind: 'ttl', ttlMs: 1500 }],
    [{ http: 'http://h:1/x', interval: '30' }, { kind: 'http', url: 'http://h:1/x', intervalMs: 30_000, timeoutMs: 10_000 }],
    [{ http: 'http://h/', interval: '2s' }, { kind: 'http', url: 'http://h/', intervalMs: 2000, timeoutMs: 2000 }],
    [{ tcp: '[::1]:6379', interval: '1m', timeout: '3s' }, { kind: 'tcp', host: '::1', port: 6379, intervalMs: 60_000, timeoutMs: 3000 }]
  ])('parseCheck(%j) gives durations in ms', (spec, want) => {
    expect(parseCheck(spec)).toEqual(want)
  })
})
