// The agent's libp2p key: kept in the data dir so that its peer id survives restarts.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { join } from 'node:path'
import { MurmurError } from '../core/errors.js'
import { readIfExists, writeFileAtomic } from './files.js'

export async function loadOrCreateKey (dataDir: string | undefined): Promise<{ key: PrivateKey, created: boolean }> {
  if (dataDir === undefined) return { key: await generateKeyPair('Ed25519'), created: true }
  const path = join(dataDir, 'identity.key')
  const bytes = await readIfExists(path)
  if (bytes !== undefined) {
    try {
      return { key: privateKeyFromProtobuf(bytes), created: false }
    } catch (err) {
      // Never replace a damaged identity silently: the operator must decide to become a new peer.
      throw new MurmurError('MURMUR_ERR_STORAGE', `${path} is corrupt (${(err as Error).message}); move it away to start as a new peer`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key))
  return { key, created: true }
}
