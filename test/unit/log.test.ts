// The two log formats: the same events, as text for people or as one JSON object per line.
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/agent/log.js'

function capture (format: 'text' | 'json', min: 'debug' | 'info' = 'info'): { lines: string[], log: ReturnType<typeof createLogger> } {
  const lines: string[] = []
  return { lines, log: createLogger(min, line => lines.push(line), format) }
}

describe('createLogger', () => {
  it('writes text lines: time, level, [component], message, key=value fields', () => {
    const { lines, log } = capture('text')
    log('warn', 'join', 'cannot reach join address', { addr: '127.0.0.1:7400', error: 'connection refused', n: 3 })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN  \[join\] cannot reach join address addr=127\.0\.0\.1:7400 error="connection refused" n=3$/)
  })

  it('writes JSON lines with time, level, component and msg first, then the fields', () => {
    const { lines, log } = capture('json')
    log('info', 'agent', 'started', { node: 'a', mdns: false, config: 3, list: ['x', 'y'] })
    expect(lines).toHaveLength(1)
    const o = JSON.parse(lines[0])
    expect(Object.keys(o)).toEqual(['time', 'level', 'component', 'msg', 'node', 'mdns', 'config', 'list'])
    expect(o).toMatchObject({ level: 'info', component: 'agent', msg: 'started', node: 'a', mdns: false, config: 3, list: ['x', 'y'] })
    expect(new Date(o.time).toISOString()).toBe(o.time)
  })

  it('keeps the line\'s own keys when a field has the same name, and filters by level', () => {
    const { lines, log } = capture('json')
    log('debug', 'x', 'hidden')
    log('error', 'store', 'cannot persist', { msg: 'disk full', level: 9, time: 'then' })
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', msg: 'cannot persist', field_msg: 'disk full', field_level: 9, field_time: 'then' })
  })

  it('never throws out of a log call: bigints, errors and cycles are written, one line each', () => {
    for (const format of ['text', 'json'] as const) {
      const { lines, log } = capture(format)
      const cyclic: Record<string, unknown> = { a: 1 }
      cyclic.self = cyclic
      log('info', 'x', 'odd fields', { big: 10n, err: new Error('boom'), cyclic, multi: 'two\nlines' })
      expect(lines).toHaveLength(1)
      expect(lines[0]).not.toContain('\n')
      expect(lines[0]).toContain('boom')
      if (format === 'json') expect(JSON.parse(lines[0])).toMatchObject({ big: '10', err: 'boom', cyclic: { a: 1, self: '[circular]' }, multi: 'two\nlines' })
    }
  })
})
