// A small service built on the murmur client. It registers itself with the local agent (a TTL
// check the client keeps passing), serves HTTP, and answers with the config value
// `greeter/message`, which it follows live: set it on any agent and the next answer changes.
//
//   npm run build && node bin/murmur agent --no-mdns &      # an agent on 127.0.0.1:7401
//   PORT=8080 node examples/greeter.mjs
//   curl localhost:8080                                      # hello
//   node bin/murmur config set greeter/message 'hi from the cluster'
//   curl localhost:8080                                      # hi from the cluster
//
// Env: PORT (8080), MURMUR_HTTP_ADDR (the agent's sidecar, 127.0.0.1:7401), GREETER_ADDRESS
// (the address other services should call, when it is not the agent's own). It imports the
// client package by name: here the workspace packages/client, elsewhere `npm install murmur-sidecar-client`.
import { createServer } from 'node:http'
import { Murmur } from 'murmur-sidecar-client'

const KEY = 'greeter/message'
const DEFAULT_MESSAGE = 'hello'
const port = Number(process.env.PORT ?? 8080)
const murmur = new Murmur()
let message = DEFAULT_MESSAGE

// The watch is by prefix: read this key from the current state rather than from the event.
const stopWatch = murmur.config.watch(KEY, (_event, current) => {
  const value = current.get(KEY)?.value ?? DEFAULT_MESSAGE
  const next = typeof value === 'string' ? value : JSON.stringify(value)
  if (next !== message) console.log(`greeter: message is now ${JSON.stringify(next)}`)
  message = next
}, { onError: err => console.error(`greeter: ${err.message}`) })

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(`${message}\n`)
})
await new Promise(resolve => server.listen(port, resolve))

const registration = await murmur.register(
  { name: 'greeter', port, address: process.env.GREETER_ADDRESS },
  { ttl: '10s', onError: err => console.error(`greeter: keep-alive failed: ${err.message}`) }
)
console.log(`greeter: serving on :${port}, registered as ${registration.id}`)

async function shutdown () {
  stopWatch()
  await registration.deregister().catch(err => console.error(`greeter: deregister failed: ${err.message}`))
  server.close()
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
