// The generation grows on every start, so every agent can tell a restarted peer's first
// heartbeat from a stale one of its previous life. It is at least the wall clock in ms (so it
// grows without a data dir too) and, with a data dir, always above the last one used (so it
// grows even if the wall clock went back).
import { join } from 'node:path'
import { readIfExists, writeFileAtomic } from './files.js'

export async function nextGeneration (dataDir: string | undefined, now: number): Promise<number> {
  if (dataDir === undefined) return now
  const path = join(dataDir, 'generation')
  const text = (await readIfExists(path))?.toString('utf8').trim()
  const last = text !== undefined && /^\d+$/.test(text) ? Number(text) : 0
  const next = Math.max(last + 1, now)
  await writeFileAtomic(path, `${next}\n`)
  return next
}
