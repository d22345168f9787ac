// Sidecar tokens (Consul's ACL token, reduced to two levels). With a write token, every request
// that changes something (any method but GET/HEAD: config writes, registrations, TTL updates,
// leave) must carry it; with a read token as well, reads need the read or the write token.
// Tokens travel as `Authorization: Bearer <token>` or `X-Consul-Token: <token>`, or as Consul's
// `?token=` query parameter (for Consul clients that send it there).
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import { MurmurError } from '../core/errors.js'

export interface SidecarTokens {
  write?: string
  read?: string
}

/** Shortest token accepted: a guessable token is no protection. */
const MIN_TOKEN_CHARS = 16

/** Read a token file: its content, trimmed. A bad file stops the agent at start. */
export async function loadToken (path: string, flag: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new MurmurError('MURMUR_ERR_CONFIG', `${flag}: cannot read ${path}: ${(err as Error).message}`)
  }
  const token = text.trim()
  if (token.length < MIN_TOKEN_CHARS || /\s/.test(token)) {
    throw new MurmurError('MURMUR_ERR_CONFIG', `${flag}: ${path} must hold one token of at least ${MIN_TOKEN_CHARS} characters without whitespace (e.g. openssl rand -hex 32)`)
  }
  return token
}

function digest (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/**
 * Compares in constant time. Hashing first gives both sides the same length, so neither the
 * content nor the length of the expected token leaks through timing.
 */
export function sameToken (presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected)
}

export function presentedToken (headers: IncomingHttpHeaders, query?: URLSearchParams): string | undefined {
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m !== null) return m[1]
  }
  const consul = headers['x-consul-token']
  if (typeof consul === 'string' && consul !== '') return consul
  const q = query?.get('token')
  return q === null || q === undefined || q === '' ? undefined : q
}

/** Returns the check for a request, or undefined when no token is configured. */
export type Authorize = (method: string, headers: IncomingHttpHeaders, query?: URLSearchParams) => void

export function authorizer (tokens: SidecarTokens): Authorize | undefined {
  if (tokens.write === undefined && tokens.read === undefined) return undefined
  const write = tokens.write === undefined ? undefined : digest(tokens.write)
  const read = tokens.read === undefined ? undefined : digest(tokens.read)
  return (method, headers, query) => {
    const isRead = method === 'GET' || method === 'HEAD'
    if (isRead && read === undefined) return
    if (!isRead && write === undefined) return
    const token = presentedToken(headers, query)
    if (token === undefined) {
      throw new MurmurError('MURMUR_ERR_UNAUTHORIZED', `this agent needs a token for ${isRead ? 'reads' : 'writes'}: send Authorization: Bearer <token> (CLI: --token or MURMUR_HTTP_TOKEN)`)
    }
    // Both comparisons always run, so timing does not tell which token matched.
    const okWrite = write !== undefined && sameToken(token, write)
    const okRead = read !== undefined && sameToken(token, read)
    if (isRead ? !(okRead || okWrite) : !okWrite) {
      throw new MurmurError('MURMUR_ERR_FORBIDDEN', `the token sent is not valid for ${isRead ? 'reads' : 'writes'} on this agent`)
    }
  }
}
