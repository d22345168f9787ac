// The services registered with this agent, kept across restarts (services.json, atomic).
import { join } from 'node:path'
import { isServiceRecord, type ServiceRecord } from '../core/service.js'
import { readIfExists, writeFileAtomic } from './files.js'

export async function loadServices (dataDir: string): Promise<{ services: ServiceRecord[], problem?: string }> {
  const path = join(dataDir, 'services.json')
  const bytes = await readIfExists(path)
  if (bytes === undefined) return { services: [] }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    return { services: [], problem: `${path} is not valid JSON (${(err as Error).message}); starting with no local services` }
  }
  const list = Array.isArray(parsed) ? parsed : []
  const services = list.filter(isServiceRecord)
  const dropped = list.length - services.length
  return dropped > 0 || !Array.isArray(parsed)
    ? { services, problem: `${path}: dropped ${Array.isArray(parsed) ? dropped : 'all'} invalid service records` }
    : { services }
}

export async function saveServices (dataDir: string, services: Iterable<ServiceRecord>): Promise<void> {
  await writeFileAtomic(join(dataDir, 'services.json'), JSON.stringify([...services], null, 2) + '\n')
}
