// Limits on the config map of a cluster, so a writer (a buggy script, or a peer that should not
// be there) cannot fill every agent's memory and disk. Only growth is refused: an entry that
// replaces a key without making the map bigger always passes, so existing keys stay writable
// and deletable at the limit.
import { compareVersion, entryBytes, type Entry, type LwwMap } from './lww.js'

export interface ConfigQuota {
  /** Live keys. @default 100_000 */
  maxKeys: number
  /** Tombstones of keys this agent does not hold (deleting a held key is always allowed). @default 100_000 */
  maxTombstones: number
  /** Bytes of keys and JSON values, tombstones included. @default 64 MiB */
  maxBytes: number
}

/** The agent's defaults (--max-keys, --max-tombstones, --max-config-bytes). */
export const DEFAULT_QUOTA: ConfigQuota = { maxKeys: 100_000, maxTombstones: 100_000, maxBytes: 64 * 1024 * 1024 }

export type QuotaExceeded = 'keys' | 'tombstones' | 'bytes'

/** Which limit merging `e` into `map` would pass, if any. Entries that would lose the merge pass (they change nothing). */
export function quotaExceeded (map: LwwMap, e: Entry, q: ConfigQuota): QuotaExceeded | undefined {
  const current = map.get(e.key)
  if (current !== undefined && compareVersion(e, current) <= 0) return undefined
  if (!e.deleted && (current === undefined || current.deleted) && map.liveSize >= q.maxKeys) return 'keys'
  if (e.deleted && current === undefined && map.tombstoneCount >= q.maxTombstones) return 'tombstones'
  const grows = entryBytes(e) - (current === undefined ? 0 : entryBytes(current))
  if (grows > 0 && map.bytes + grows > q.maxBytes) return 'bytes'
  return undefined
}
