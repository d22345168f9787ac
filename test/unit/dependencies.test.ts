// The installed tree, as package-lock.json records it: libp2p packages of two majors would
// each bring their own @libp2p/interface, and objects crossing between them (peer ids, streams)
// fail at run time, not at build time. The unmaintained gossipsub fork must stay out
// (GHSA-4f8r-922h-2vgv is fixed only in @libp2p/gossipsub >= 15.0.23).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { version?: string }>
}

function versionsOf (name: string): string[] {
  return Object.entries(lock.packages)
    .filter(([path]) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`))
    .map(([, p]) => p.version ?? '')
}

describe('the locked dependency tree', () => {
  it('has exactly one @libp2p/interface major, 3', () => {
    const majors = new Set(versionsOf('@libp2p/interface').map(v => v.split('.')[0]))
    expect([...majors]).toEqual(['3'])
  })

  it('uses @libp2p/gossipsub >= 15.0.23 and not @chainsafe/libp2p-gossipsub', () => {
    expect(versionsOf('@chainsafe/libp2p-gossipsub')).toEqual([])
    const versions = versionsOf('@libp2p/gossipsub')
    expect(versions.length).toBeGreaterThan(0)
    for (const v of versions) {
      const [major, minor, patch] = v.split('.').map(Number)
      expect(major > 15 || (major === 15 && (minor > 0 || patch >= 23)), v).toBe(true)
    }
  })
})
