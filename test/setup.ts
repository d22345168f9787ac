// Tests import libp2p code in-process too: load the Node 20 polyfill first.
import '../src/polyfill.js'
