// One error class with stable codes. The HTTP layer maps codes to statuses in one table
// (src/http/errors.ts); README lists every code with how to fix it.

export const ErrorCodes = [
  'MURMUR_ERR_BAD_JSON',
  'MURMUR_ERR_BAD_REQUEST',
  'MURMUR_ERR_BAD_KEY',
  'MURMUR_ERR_BAD_VALUE',
  'MURMUR_ERR_BAD_SERVICE',
  'MURMUR_ERR_TOO_LARGE',
  'MURMUR_ERR_HEADERS_TOO_LARGE',
  'MURMUR_ERR_MEDIA_TYPE',
  'MURMUR_ERR_TIMEOUT',
  'MURMUR_ERR_NOT_FOUND',
  'MURMUR_ERR_CONFLICT',
  'MURMUR_ERR_JOIN',
  'MURMUR_ERR_NO_ROUTE',
  'MURMUR_ERR_METHOD',
  'MURMUR_ERR_STORAGE',
  'MURMUR_ERR_CONFIG',
  'MURMUR_ERR_UNAUTHORIZED',
  'MURMUR_ERR_FORBIDDEN',
  'MURMUR_ERR_BUSY',
  'MURMUR_ERR_QUOTA',
  'MURMUR_ERR_BAD_METRIC',
  'MURMUR_ERR_BAD_RULE'
] as const

export type ErrorCode = typeof ErrorCodes[number]

export class MurmurError extends Error {
  override readonly name = 'MurmurError'
  constructor (readonly code: ErrorCode, message: string) {
    super(message)
  }
}
