// The sidecar's ceiling: a node:http server that answers every request with one fixed JSON
// body (given base64-encoded), with the headers murmur's sidecar sends.
//   node bench/lib/bare-http.mjs HOST:PORT BODY_BASE64
import { createServer } from 'node:http'
const [host, port] = process.argv[2].split(':')
const body = Buffer.from(process.argv[3] ?? 'e30=', 'base64')
createServer((req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-murmur-index': '1' })
  res.end(body)
}).listen(Number(port), host, () => console.log('ready'))
