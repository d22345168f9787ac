// The CLI's HTTP client of the local agent's sidecar port: the client library's transport,
// with its errors turned into one-line CLI messages.
import { MurmurClientError, Sidecar } from '../client/http.js'

export class CliError extends Error {
  constructor (message: string, readonly exitCode = 1) {
    super(message)
  }
}

export class SidecarClient {
  private readonly sidecar: Sidecar
  constructor (addr: string, readonly token?: string) {
    this.sidecar = new Sidecar(addr, token)
  }

  get base (): string { return this.sidecar.base }

  async request<T = unknown> (method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.sidecar.call<T>(method, path, body)
    } catch (err) {
      if (!(err instanceof MurmurClientError)) throw err
      if (err.code === 'MURMUR_ERR_UNREACHABLE') {
        throw new CliError(`${err.message}: is it running? Point --http or MURMUR_HTTP_ADDR at its sidecar address.`)
      }
      if (err.code === 'MURMUR_ERR_UNAUTHORIZED' || err.code === 'MURMUR_ERR_FORBIDDEN') {
        throw new CliError(`${err.message} (${err.code}); pass --token or set MURMUR_HTTP_TOKEN`)
      }
      throw new CliError(err.status !== undefined ? `${err.message} (${err.code})` : err.message)
    }
  }
}
