// A TCP proxy in front of the server that can cut the network the way a stalled link
// does: nothing is refused or closed, bytes just stop arriving in both directions (the
// proxy reads and drops them), for connections already open and for new ones alike.
// `restore()` ends that: the connections that lived through the stall are broken (as
// after a lost NAT mapping) and new ones work again.

import { connect, createServer } from 'node:net';

export async function startProxy(targetPort) {
  let stalled = false;
  const open = new Set();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    const forward = (from, to) => {
      from.on('data', (chunk) => {
        if (!stalled) to.write(chunk);
      });
      from.on('end', () => !stalled && to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => {
        to.destroy();
        open.delete(pair);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    stall() {
      stalled = true;
    },
    restore() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      stalled = false;
    },
    close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((ok) => server.close(ok));
    },
  };
}
