// CLI verbs that act on the cluster through the local agent: `murmur join`, `murmur
// force-leave`, and `murmur wait` (for scripts that start agents in the background).
import { parseDuration } from '../core/duration.js'
import { VERSION } from '../version.js'
import { CliError } from './client.js'
import type { CliKit } from './control-commands.js'

/** Between two looks at the agent while waiting. */
const WAIT_POLL_MS = 200

export function clusterCommands (kit: CliKit): Record<string, (args: string[]) => Promise<void>> {
  const { parse, client, print, arity } = kit
  return {
    async join (args) {
      const { values, positionals } = parse(args, {})
      arity(positionals, 1, 'murmur join ADDR')
      const r = await client(values).request<{ peer: string, name?: string }>('PUT', `/v1/agent/join?address=${encodeURIComponent(positionals[0])}`)
      print(values, r, () => `joined ${positionals[0]} (${r.name ?? 'peer'} ${r.peer})\n`)
    },

    async 'force-leave' (args) {
      const { values, positionals } = parse(args, {})
      arity(positionals, 1, 'murmur force-leave NAME')
      const r = await client(values).request<{ name: string, ids: string[] }>('PUT', `/v1/agent/force-leave/${encodeURIComponent(positionals[0])}`)
      print(values, r, () => r.ids.length > 0 ? `${r.name} is marked left; every agent learns it, those that join later too\n` : `${r.name} had already left\n`)
    },

    async wait (args) {
      const { values, positionals } = parse(args, { members: { type: 'string' }, timeout: { type: 'string' } })
      arity(positionals, 0, 'murmur wait [--members N] [--timeout 60s]')
      const want = values.members === undefined ? 0 : Number(values.members)
      if (!Number.isSafeInteger(want) || want < 0) throw new CliError(`--members must be a whole number (got '${String(values.members)}')`, 2)
      const timeoutMs = parseDuration((values.timeout as string | undefined) ?? '60s')
      if (timeoutMs === undefined) throw new CliError(`--timeout must be a duration such as 30s or 2m (got '${String(values.timeout)}')`, 2)
      const c = client(values)
      const deadline = Date.now() + timeoutMs
      let last = 'no answer'
      while (Date.now() <= deadline) {
        try {
          const rows = await c.request<Array<{ status: string }>>('GET', '/v1/members')
          const alive = rows.filter(m => m.status === 'alive').length
          if (alive >= want) {
            print(values, { ready: true, alive }, () => `agent at ${c.base.replace(/^https?:\/\//, '')} is up; ${alive} alive member${alive === 1 ? '' : 's'}\n`)
            return
          }
          last = `${alive} of ${want} members alive`
        } catch (err) {
          // Refusals other than "not there yet" will not pass by waiting.
          if (!/is it running\?/.test((err as Error).message)) throw err
        }
        await new Promise(resolve => setTimeout(resolve, WAIT_POLL_MS))
      }
      throw new CliError(`timed out after ${values.timeout as string | undefined ?? '60s'} waiting for the agent at ${c.base.replace(/^https?:\/\//, '')}: ${last}`)
    },

    async version (args) {
      const { values, positionals } = parse(args, {})
      arity(positionals, 0, 'murmur version')
      print(values, { version: VERSION, node: process.version }, () => `murmur ${VERSION} (Node.js ${process.version})\n`)
    }
  }
}
