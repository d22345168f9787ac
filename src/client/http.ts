// JSON requests to the agent's sidecar with typed errors.
import { readFileSync } from 'node:fs'
import type { CallOptions } from './types.js'

/** An error answered by the agent (`code` is its MURMUR_ERR_* code) or met reaching it. */
export class MurmurClientError extends Error {
  override readonly name = 'MurmurClientError'
  /** `status` is the HTTP status when the agent answered. */
  constructor (readonly code: string, message: string, readonly status?: number) {
    super(message)
  }
}

/**
 * The sidecar token from the environment: MURMUR_HTTP_TOKEN, else the content of the file
 * MURMUR_HTTP_TOKEN_FILE names (the variable the agent reads too, so one setting serves both).
 */
export function tokenFromEnv (env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  if (env.MURMUR_HTTP_TOKEN !== undefined && env.MURMUR_HTTP_TOKEN !== '') return env.MURMUR_HTTP_TOKEN
  const file = env.MURMUR_HTTP_TOKEN_FILE
  if (file === undefined || file === '') return undefined
  try {
    return readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new MurmurClientError('MURMUR_ERR_BAD_REQUEST', `cannot read the token file MURMUR_HTTP_TOKEN_FILE=${file}: ${(err as Error).message}`)
  }
}

/** A request that gets no answer in this time fails, unless the caller's signal says otherwise. */
const TIMEOUT_MS = 15_000

export class Sidecar {
  readonly base: string
  /** Headers every request carries: the token, when there is one. */
  readonly headers: Record<string, string>

  /** `token`: sent as `Authorization: Bearer` to an agent started with --http-token-file. */
  constructor (addr: string, token?: string) {
    this.base = /^https?:\/\//.test(addr) ? addr.replace(/\/$/, '') : `http://${addr}`
    this.headers = token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }
  }

  async call<T> (method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: opts.signal ?? AbortSignal.timeout(TIMEOUT_MS)
      })
    } catch (err) {
      if (opts.signal?.aborted === true) throw opts.signal.reason
      throw unreachable(this.base, err)
    }
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      throw new MurmurClientError('MURMUR_ERR_BAD_ANSWER', `the agent at ${this.base} answered ${res.status} with something that is not JSON`, res.status)
    }
    if (!res.ok) throw answered(res.status, parsed)
    return parsed as T
  }
}

export function unreachable (base: string, err: unknown): MurmurClientError {
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
  return new MurmurClientError('MURMUR_ERR_UNREACHABLE', `cannot reach the murmur agent at ${base} (${cause})`)
}

/** The error for a non-2xx answer, with the agent's code when it sent one. */
export function answered (status: number, body: unknown): MurmurClientError {
  const e = (body as { error?: { code?: string, message?: string } } | undefined)?.error
  return new MurmurClientError(e?.code ?? `MURMUR_ERR_HTTP_${status}`, e?.message ?? `the agent answered HTTP ${status}`, status)
}
