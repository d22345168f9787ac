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
  MURMUR_ERR_NOT_FOUND: 404,
  MURMUR_ERR_NO_ROUTE: 404,
  MURMUR_ERR_METHOD: 405,
  MURMUR_ERR_STORAGE: 507
}

export function errorBody (err: unknown): { status: number, body: { error: { code: string, message: string } } } {
  if (err instanceof MurmurError) return { status: STATUS[err.code], body: { error: { code: err.code, message: err.message } } }
  return { status: 500, body: { error: { code: 'MURMUR_ERR_INTERNAL', message: (err as Error)?.message ?? String(err) } } }
}
