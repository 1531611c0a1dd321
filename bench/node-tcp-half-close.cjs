// ../shared/bench/node-tcp-proxy.js with half-close forwarded (allowHalfOpen on both sockets), so an echo
// still in flight after the client's FIN is not lost: the Node.js ceiling for the bulk runs, which send
// everything, half-close, then read. Usage: PORT=42306 BACKENDS=127.0.0.1:42300 node node-tcp-half-close.cjs
'use strict';
const net = require('node:net');
const backends = process.env.BACKENDS.split(',').map((hp) => { const [host, port] = hp.split(':'); return { host, port: Number(port) }; });
let next = 0;
net.createServer({ allowHalfOpen: true }, (client) => {
  const upstream = net.connect({ ...backends[next++ % backends.length], allowHalfOpen: true });
  client.setNoDelay(true); upstream.setNoDelay(true);
  client.pipe(upstream).pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close); upstream.on('error', close);
}).listen(Number(process.env.PORT), '127.0.0.1');
