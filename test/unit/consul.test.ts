// Pure pieces of the Consul-compatible API: Go durations, the index scale, KV value mapping and
// key listing, and the translation of Consul registrations.
import { describe, expect, it } from 'vitest'
import type { Agent } from '../../src/agent/agent.js'
import { parseGoDuration } from '../../src/core/duration.js'
import { MurmurError } from '../../src/core/errors.js'
import { bytesValue, listKeys, valueBytes } from '../../src/http/consul/kv.js'
import { agentIndex, consulIndex } from '../../src/http/consul/query.js'
import { parseConsulRegistration } from '../../src/http/consul/registration.js'

describe('parseGoDuration', () => {
  it.each([
    ['120000ms', 120_000], ['5m', 300_000], ['1m30s', 90_000], ['1.5h', 5_400_000], ['0', 0], ['300us', 0.3],
    ['10s', 10_000], ['.5s', 500], ['2h45m', 9_900_000], ['1000000ns', 1]
  ])('%s is %d ms', (s, ms) => { expect(parseGoDuration(s)).toBeCloseTo(ms) })

  it.each(['', '10', '-5s', '5 m', 's', '1d', '10S', '1m-30s', '5m!'])('refuses %j', s => {
    expect(parseGoDuration(s)).toBeUndefined()
  })
})

describe('Consul index scale', () => {
  const life = (generation: number): Agent => ({ generation }) as unknown as Agent
  it('is never 0 and grows across lives', () => {
    const first = life(1_700_000_000_000)
    const second = life(1_700_000_000_001)
    expect(consulIndex(first, 1)).toBeGreaterThan(0)
    expect(consulIndex(second, 1)).toBeGreaterThan(consulIndex(first, 999))
    expect(Number.isSafeInteger(consulIndex(life(4_102_444_800_000), 1_000_000))).toBe(true) // year 2100
  })

  it('maps a client index back, earlier lives below 1', () => {
    const a = life(1_700_000_000_000)
    expect(agentIndex(a, BigInt(consulIndex(a, 42)))).toBe(42)
    expect(agentIndex(a, BigInt(consulIndex(life(1_600_000_000_000), 42)))).toBe(0)
    expect(agentIndex(a, 5n)).toBe(0)
    expect(agentIndex(a, 18_446_744_073_709_551_615n)).toBe(Number.MAX_SAFE_INTEGER)
  })
})

describe('KV values', () => {
  it('reads strings as their bytes and other JSON values as JSON text', () => {
    expect(valueBytes('héllo').toString('utf8')).toBe('héllo')
    expect(valueBytes({ a: [1, true, null] }).toString('utf8')).toBe('{"a":[1,true,null]}')
    expect(valueBytes(42).toString('utf8')).toBe('42')
    expect(valueBytes('').byteLength).toBe(0)
  })

  it('stores UTF-8 bodies as strings, exactly, and refuses other bytes', () => {
    expect(bytesValue(Buffer.from('{"a":1}'))).toBe('{"a":1}')
    expect(bytesValue(Buffer.from('\uFEFFbom'))).toBe('\uFEFFbom')
    expect(bytesValue(Buffer.alloc(0))).toBe('')
    expect(() => bytesValue(Buffer.from([0xc3, 0x28]))).toThrow(MurmurError)
  })

  it('lists keys cut after the separator past the prefix', () => {
    const keys = ['app/db/url', 'app/db/pool', 'app/name', 'apple', 'other/x']
    expect(listKeys(keys, 'app/', '/')).toEqual(['app/db/', 'app/name'])
    expect(listKeys(keys, 'app', '/')).toEqual(['app/', 'apple'])
    expect(listKeys(keys, '', '/')).toEqual(['app/', 'apple', 'other/'])
    expect(listKeys(keys, 'app/', '')).toEqual(['app/db/pool', 'app/db/url', 'app/name'])
  })
})

describe('parseConsulRegistration', () => {
  it('translates Consul JSON, in any case, to a murmur registration', () => {
    const r = parseConsulRegistration({
      ID: 'web-1', Name: 'web', Tags: ['a'], Address: '', Port: 80, Meta: { v: '1' }, Weights: { Passing: 3, Warning: 1 },
      Check: { HTTP: 'http://127.0.0.1/health', Interval: '10s', Timeout: '1s', DeregisterCriticalServiceAfter: '90m', CheckID: 'web-http' }
    })
    expect(r).toEqual({
      service: { id: 'web-1', name: 'web', port: 80, tags: ['a'], meta: { v: '1' }, weight: 3, check: { http: 'http://127.0.0.1/health', interval: '10000ms', timeout: '1000ms' } },
      checkId: 'web-http',
      deregisterAfterMs: 5_400_000
    })
    expect(parseConsulRegistration({ name: 's', port: 1, checks: [{ tcp: 'db:5432', interval: 5_000_000_000 }] }).service.check)
      .toEqual({ tcp: 'db:5432', interval: '5000ms' })
    expect(parseConsulRegistration({ name: 's', port: 1, check: { ttl: '15s' } }).service.check).toEqual({ ttl: '15000ms' })
  })

  it.each([
    [{ Name: 's', Port: 1, Check: { Args: ['/bin/true'], Interval: '5s' } }, /not supported/],
    [{ Name: 's', Port: 1, Checks: [{ TTL: '5s' }, { TTL: '6s' }] }, /one check/],
    [{ Name: 's', Port: 1, Check: { HTTP: 'http://x/' } }, /Interval/],
    [{ Name: 's', Port: 1, Check: { TTL: 'soon' } }, /duration/],
    [{ Name: 's', Port: 1, Connect: { Native: true } }, /mesh/],
    [[], /object/]
  ])('refuses %j', (input, message) => {
    expect(() => parseConsulRegistration(input)).toThrow(message)
  })
})
