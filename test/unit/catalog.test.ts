import { describe, expect, it } from 'vitest'
import { instancesOf, serviceSummaries } from '../../src/core/catalog.js'
import type { Member } from '../../src/core/members.js'
import { heartbeat, member, service } from './fixtures.js'

// Five nodes, one per member status plus a second alive node; "web" runs on all of them.
const members: Member[] = [
  member(heartbeat('id-b', {
    name: 'b',
    services: [
      service({ name: 'web', id: 'web-2', address: '10.0.0.2', port: 81, tags: ['v2'] }),
      service({ name: 'web', id: 'web-1', address: '10.0.0.2', port: 80, tags: ['v1', 'canary'], health: 'warning' }),
      service({ name: 'db', address: '10.0.0.2', port: 5432, tags: ['primary'], meta: { engine: 'pg' } })
    ]
  }), 'alive'),
  member(heartbeat('id-a', {
    name: 'a',
    services: [service({ name: 'web', address: '10.0.0.1', tags: ['v1'], weight: 3 })]
  }), 'alive'),
  member(heartbeat('id-c', { name: 'c', services: [service({ name: 'web', address: '10.0.0.3', tags: ['v1'] })] }), 'suspect'),
  member(heartbeat('id-d', { name: 'd', services: [service({ name: 'web', address: '10.0.0.4', tags: ['v1'] }), service({ name: 'gone' })] }), 'failed'),
  member(heartbeat('id-e', { name: 'e', status: 'left', services: [service({ name: 'web', address: '10.0.0.5', tags: ['v1'] })] }), 'left'),
  member(heartbeat('id-f', { name: 'f', services: [service({ name: 'db', id: 'db-replica', tags: ['replica'], health: 'critical' })] }), 'alive')
]

const addrs = (xs: Array<{ node: string, id: string }>): string[] => xs.map(x => `${x.node}/${x.id}`)

describe('instancesOf', () => {
  it('lists instances on alive and suspect members only (failed and left drop out), sorted by node then id', () => {
    expect(addrs(instancesOf(members, 'web'))).toEqual(['a/web', 'b/web-1', 'b/web-2', 'c/web'])
    expect(instancesOf(members, 'gone')).toEqual([])
    expect(instancesOf(members, 'nope')).toEqual([])
  })

  it('fills every instance field from the service and its member', () => {
    const [a] = instancesOf(members, 'web')
    expect(a).toEqual({
      id: 'web', name: 'web', node: 'a', nodeId: 'id-a', address: '10.0.0.1', port: 8080,
      tags: ['v1'], meta: {}, weight: 3, health: 'passing', output: '', since: 0, memberStatus: 'alive'
    })
    expect(instancesOf(members, 'web').find(i => i.node === 'c')?.memberStatus).toBe('suspect')
  })

  it('healthy=true keeps only passing instances on alive members', () => {
    expect(addrs(instancesOf(members, 'web', { healthy: true }))).toEqual(['a/web', 'b/web-2'])
    expect(addrs(instancesOf(members, 'db', { healthy: true }))).toEqual(['b/db'])
    expect(addrs(instancesOf(members, 'web', { healthy: false }))).toEqual(['a/web', 'b/web-1', 'b/web-2', 'c/web'])
  })

  it.each([
    ['v1', {}, ['a/web', 'b/web-1', 'c/web']],
    ['v2', {}, ['b/web-2']],
    ['canary', {}, ['b/web-1']],
    ['v1', { healthy: true }, ['a/web']],
    ['missing', {}, []]
  ])('filters by tag %s (%j)', (tag, extra, want) => {
    expect(addrs(instancesOf(members, 'web', { tag, ...extra }))).toEqual(want)
  })

  it('returns copies: mutating an instance leaves the heartbeat alone', () => {
    const [i] = instancesOf(members, 'db')
    i.tags.push('x')
    i.meta.engine = 'mysql'
    expect(instancesOf(members, 'db')[0]).toMatchObject({ tags: ['primary'], meta: { engine: 'pg' } })
  })
})

describe('serviceSummaries', () => {
  it('counts instances on serving members, passing ones on alive members, and merges sorted tags', () => {
    expect(serviceSummaries(members)).toEqual([
      { name: 'db', instances: 2, passing: 1, tags: ['primary', 'replica'] },
      { name: 'web', instances: 4, passing: 2, tags: ['canary', 'v1', 'v2'] }
    ])
  })

  it('is empty without members, or when every member is failed or left', () => {
    expect(serviceSummaries([])).toEqual([])
    expect(serviceSummaries(members.filter(m => m.status === 'failed' || m.status === 'left'))).toEqual([])
  })

  it('agrees with instancesOf for every service', () => {
    for (const s of serviceSummaries(members)) {
      expect(s.instances).toBe(instancesOf(members, s.name).length)
      expect(s.passing).toBe(instancesOf(members, s.name, { healthy: true }).length)
    }
  })
})
