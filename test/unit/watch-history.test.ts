// The config history behind event-stream resumes, driven by a fake agent.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { Entry } from '../../src/core/lww.js'
import { ConfigHistory } from '../../src/http/watch.js'

class FakeAgent extends EventEmitter {
  index = 10
  write (key: string, deleted = false, value: unknown = 1): void {
    this.index++
    this.emit('config', { key, value: deleted ? undefined : value, deleted, hlc: { wall: this.index, logical: 0 }, origin: 'o' } satisfies Entry)
  }
}

function setup (limits = { entries: 5, bytes: 1 << 20 }): { agent: FakeAgent, history: ConfigHistory } {
  const agent = new FakeAgent()
  return { agent, history: new ConfigHistory(agent, e => ({ key: e.key, value: e.value }), limits) }
}

describe('ConfigHistory', () => {
  it('gives the changes after an index, in order, as put and delete with their data', () => {
    const { agent, history } = setup()
    agent.write('a')
    agent.write('b', true)
    expect(history.since(10)).toEqual([
      { index: 11, key: 'a', event: 'put', data: '{"key":"a","value":1}' },
      { index: 12, key: 'b', event: 'delete', data: '{"key":"b"}' }
    ])
    expect(history.since(11)?.map(c => c.index)).toEqual([12])
    expect(history.since(12)).toEqual([])
    expect(history.newest).toBe(12)
  })

  it('knows nothing before it started', () => {
    const { history } = setup()
    expect(history.since(10)).toEqual([])
    expect(history.since(9)).toBeUndefined()
    expect(history.newest).toBe(10)
  })

  it('forgets the oldest past its entry limit, and says so for indexes before them', () => {
    const { agent, history } = setup()
    for (let i = 0; i < 12; i++) agent.write(`k${i}`)
    expect(history.since(22)?.map(c => c.index)).toEqual([])
    expect(history.since(17)?.map(c => c.index)).toEqual([18, 19, 20, 21, 22])
    expect(history.since(16)).toBeUndefined()
    expect(history.newest).toBe(22)
  })

  it('forgets the oldest past its byte limit, but always keeps the newest', () => {
    const { agent, history } = setup({ entries: 100, bytes: 100 })
    agent.write('a', false, 'x'.repeat(60))
    agent.write('b', false, 'y'.repeat(60))
    expect(history.since(11)?.map(c => c.key)).toEqual(['b'])
    expect(history.since(10)).toBeUndefined()
    agent.write('c', false, 'z'.repeat(500))
    expect(history.since(12)?.map(c => c.key)).toEqual(['c'])
  })
})
