// The one place where error codes become HTTP statuses.
import { MurmurError, type ErrorCode } from '../core/errors.js'

export const STATUS: Record<ErrorCode, number> = {
  MURMUR_ERR_BAD_JSON: 400,
  MURMUR_ERR_BAD_REQUEST: 400,
  MURMUR_ERR_BAD_KEY: 400,
  MURMUR_ERR_BAD_VALUE: 400,
  MURMUR_ERR_BAD_SERVICE: 400,
  MURMUR_ERR_CONFIG: 400,
  MURMUR_ERR_BAD_METRIC: 400,
  MURMUR_ERR_BAD_RULE: 400,
  MURMUR_ERR_TOO_LARGE: 413,
  MURMUR_ERR_HEADERS_TOO_LARGE: 431,
  MURMUR_ERR_MEDIA_TYPE: 415,
  MURMUR_ERR_TIMEOUT: 408,
  MURMUR_ERR_NOT_FOUND: 404,
  MURMUR_ERR_NO_ROUTE: 404,
  MURMUR_ERR_CONFLICT: 409,
  // The agent is fine; the address it was asked to join did not answer (a gateway's 502).
  MURMUR_ERR_JOIN: 502,
  MURMUR_ERR_METHOD: 405,
  MURMUR_ERR_STORAGE: 507,
  MURMUR_ERR_UNAUTHORIZED: 401,
  MURMUR_ERR_FORBIDDEN: 403,
  MURMUR_ERR_BUSY: 503,
  // 507 as for a full disk: the cluster's config store is full; nothing about the request is wrong.
  MURMUR_ERR_QUOTA: 507
}

export function errorBody (err: unknown): { status: number, body: { error: { code: string, message: string } } } {
  if (err instanceof MurmurError) return { status: STATUS[err.code], body: { error: { code: err.code, message: err.message } } }
  return { status: 500, body: { error: { code: 'MURMUR_ERR_INTERNAL', message: (err as Error)?.message ?? String(err) } } }
}
