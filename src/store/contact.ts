// When this agent was last in touch with the cluster (wall ms), kept in the data dir so that
// an agent restarted after a long absence knows its config may predate forgotten tombstones.
import { join } from 'node:path'
import { readIfExists, writeFileAtomic } from './files.js'

export async function readLastContact (dataDir: string): Promise<number | undefined> {
  const text = (await readIfExists(join(dataDir, 'last-contact')))?.toString('utf8').trim()
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined
}

export async function writeLastContact (dataDir: string, wall: number): Promise<void> {
  await writeFileAtomic(join(dataDir, 'last-contact'), `${wall}\n`)
}
