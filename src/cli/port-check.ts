// Start-up check of the ports the agent will listen on: binding a port someone else holds
// would otherwise fail deep inside libp2p (a stack trace about transport fault tolerance) or
// after the agent has logged that it started. Checked first, it fails in one line.
import { createServer } from 'node:net'
import { CliError } from './client.js'

/** Throws a one-line CliError (exit 1) when `host:port` cannot be bound. `what` names the flag. */
export async function checkPortFree (host: string, port: number, what: string): Promise<void> {
  if (port === 0) return
  const err = await new Promise<NodeJS.ErrnoException | undefined>(resolve => {
    const s = createServer()
    s.once('error', e => resolve(e as NodeJS.ErrnoException))
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(undefined)))
  })
  if (err === undefined) return
  throw new CliError(portError(host, port, what, err.code ?? err.message), 1)
}

export function portError (host: string, port: number, what: string, code: string): string {
  if (code === 'EADDRINUSE') return `port ${port} (${host}:${port}, ${what}) is already in use: is another agent running? Stop it or choose another port with ${what.split(' ')[0]}`
  if (code === 'EACCES') return `port ${port} (${host}:${port}, ${what}) needs privileges: choose a port above 1023 with ${what.split(' ')[0]}`
  if (code === 'EADDRNOTAVAIL') return `${host} (${what}) is not an address of this host`
  return `cannot listen on ${host}:${port} (${what}): ${code}`
}
