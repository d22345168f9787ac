// The sidecar's ceiling: a node:http server that answers every request with one fixed body and
// fixed headers: the bytes and headers murmur sent for the same read (given base64-encoded; the
// headers as a JSON object), so both sides put the same response on the wire. Node adds the
// same Date, Connection and Keep-Alive headers to both.
//   node bench/lib/bare-http.mjs HOST:PORT BODY_BASE64 [HEADERS_JSON_BASE64]
import { createServer } from 'node:http'
const [host, port] = process.argv[2].split(':')
const body = Buffer.from(process.argv[3] ?? 'e30=', 'base64')
const headers = process.argv[4] === undefined
  ? { 'content-type': 'application/json', 'x-murmur-index': '1' }
  : JSON.parse(Buffer.from(process.argv[4], 'base64').toString())
headers['content-length'] = String(body.length)
createServer((req, res) => {
  req.resume()
  res.writeHead(200, headers)
  res.end(body)
}).listen(Number(port), host, () => console.log('ready'))
