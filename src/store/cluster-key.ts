// The cluster key: a libp2p private-network pre-shared key (32 random bytes), in the swarm key
// file format that @libp2p/pnet (and go-ipfs) read:
//
//   /key/swarm/psk/1.0.0/
//   /base16/
//   <64 hex digits>
import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { MurmurError } from '../core/errors.js'

const HEADER = '/key/swarm/psk/1.0.0/\n/base16/\n'

export function generateClusterKey (): string {
  return HEADER + randomBytes(32).toString('hex') + '\n'
}

export interface ClusterKey {
  /** The file's bytes, normalised, as the connection protector takes them. */
  psk: Uint8Array
  /** First 8 hex digits of the key's SHA-256: tells which key an agent holds without showing it. */
  fingerprint: string
  /** Set when other users may read the file. */
  warning?: string
}

export async function readClusterKey (path: string): Promise<ClusterKey> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new MurmurError('MURMUR_ERR_CONFIG', `--cluster-key: cannot read ${path}: ${(err as Error).message}`)
  }
  const m = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/.exec(text)
  if (m === null) throw new MurmurError('MURMUR_ERR_CONFIG', `--cluster-key: ${path} is not a cluster key file (make one with: murmur keygen FILE)`)
  const hex = m[1].toLowerCase()
  const fingerprint = createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 8)
  const mode = (await stat(path)).mode
  const warning = (mode & 0o077) !== 0 ? `${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined
  return { psk: new TextEncoder().encode(HEADER + hex), fingerprint, warning }
}
