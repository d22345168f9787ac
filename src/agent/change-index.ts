// The change index: one counter that grows with every change a reader could observe, and the
// index of the last change per config key, of members and of services. Blocking reads and
// watches wait on it (`?index=N`, SSE resume).
import { EventEmitter } from 'node:events'

export type ChangeKind = 'member' | 'config' | 'services'

export interface ChangeEvents {
  /** `index` grows by one each time. `key` for config. */
  change: [index: number, kind: ChangeKind, key?: string]
}

export class ChangeIndex extends EventEmitter<ChangeEvents> {
  index = 1
  readonly configIndex = new Map<string, number>()
  memberIndex = 1
  servicesIndex = 1

  constructor () {
    super()
    this.setMaxListeners(0)
  }

  bump (kind: ChangeKind, key?: string): void {
    this.index++
    if (kind === 'config' && key !== undefined) this.configIndex.set(key, this.index)
    // A member transition changes which instances are served, so it is a services change too.
    else this.servicesIndex = this.index
    if (kind === 'member') this.memberIndex = this.index
    this.emit('change', this.index, kind, key)
  }

  /** The index of the newest change to config keys under `prefix`. */
  configPrefixIndex (prefix: string): number {
    let max = 1
    for (const [k, i] of this.configIndex) if (i > max && k.startsWith(prefix)) max = i
    return max
  }
}
