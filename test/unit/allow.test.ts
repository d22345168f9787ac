// --allow parsing and matching.
import { describe, expect, it } from 'vitest'
import { parseAllowList } from '../../src/net/allow.js'

describe('parseAllowList', () => {
  it('is off when empty', () => {
    expect(parseAllowList([])).toBeUndefined()
  })

  it('matches IPv4 and IPv6 blocks and single addresses', () => {
    const ok = parseAllowList(['10.1.0.0/16', '192.0.2.7', 'fd00::/8'])!
    expect(['10.1.2.3', '10.1.255.255', '192.0.2.7', '::ffff:10.1.0.1', 'fd12::1'].filter(ok)).toHaveLength(5)
    expect(['10.2.0.1', '192.0.2.8', '127.0.0.1', 'fe80::1', 'not-an-ip', ''].filter(ok)).toEqual([])
  })

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0/8', 'example.com/8', '10.0.0.0/8/1', '::/129', '10.0.0.0/x'])('refuses %s', c => {
    expect(() => parseAllowList([c])).toThrow(/--allow/)
  })
})
