// The CLI's HTTP client of the local agent's sidecar port.
export class CliError extends Error {
  constructor (message: string, readonly exitCode = 1) {
    super(message)
  }
}

export class SidecarClient {
  readonly base: string
  constructor (addr: string) {
    this.base = addr.startsWith('http://') || addr.startsWith('https://') ? addr.replace(/\/$/, '') : `http://${addr}`
  }

  async request<T = unknown> (method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new CliError(`cannot reach the murmur agent at ${this.base} (${cause}): is it running? Point --http or MURMUR_HTTP_ADDR at its sidecar address.`)
    }
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      throw new CliError(`the agent at ${this.base} answered ${res.status} with something that is not JSON`)
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string, message?: string } } | undefined)?.error
      throw new CliError(e?.message !== undefined ? `${e.message} (${e.code ?? res.status})` : `agent answered HTTP ${res.status}`)
    }
    return parsed as T
  }
}
