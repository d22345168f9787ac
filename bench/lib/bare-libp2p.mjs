// A bare libp2p node with murmur's stack and nothing else (TCP, Noise, yamux, identify,
// gossipsub subscribed to two topics, no mDNS): the memory baseline of the bench.
//   node bench/lib/bare-libp2p.mjs HOST:PORT
// Prints 'ready' once listening; runs until killed.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@libp2p/noise')
const { yamux } = await import('@libp2p/yamux')
const { identify } = await import('@libp2p/identify')
const { gossipsub } = await import('@libp2p/gossipsub')

const [host, port] = (process.argv[2] ?? '127.0.0.1:0').split(':')
const node = await createLibp2p({
  addresses: { listen: [`/ip4/${host}/tcp/${port}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, floodPublish: true }) }
})
await node.start()
node.services.pubsub.subscribe('bare/members/1')
node.services.pubsub.subscribe('bare/config/1')
console.log('ready')
process.on('SIGTERM', () => { node.stop().finally(() => process.exit(0)) })
