// Node interop peer for tests/tests/interop.rs, built on the `ws` package.
//
// Modes and output are those of peer.py (read its module doc): `echo-server PORT_FILE [deflate]`
// and `client URL`, the same `please-*` commands, the same scripted sequence, the same lines.
// Unlike the Python client, this one also pings between the fragments of the binary message. With
// permessage-deflate (the client always offers it, `ws`'s default), `ws` compresses only messages
// of 1 KiB or more, so both kinds of frame are exercised.
import { writeFileSync, renameSync } from 'node:fs';
import WebSocket, { WebSocketServer } from 'ws';

const MAX_SIZE = 2 << 20;
const LIFETIME_MS = 120_000;
const TIMEOUT_MS = 20_000;
const MESSAGES = 1000;
const FIXED_SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
const UNIT = Buffer.from('héllo wörld ✓ 😀 0123456789 ');
const FRAG_TEXT = [
  Buffer.from('fragmented t\xc3', 'latin1'),
  Buffer.from('\xa9xt \xe2\x9c', 'latin1'),
  Buffer.from('\x93 \xf0\x9f\x98\x80 end', 'latin1'),
];
const FRAG_BINARY = [
  Buffer.from(Array.from({ length: 70000 }, (_, j) => j % 251)),
  Buffer.from('\x00\xff'.repeat(100), 'latin1'),
  Buffer.alloc(0),
];
const INVALID_FROM_SERVER = Buffer.from([0x81, 0x02, 0xff, 0xfe]);
const INVALID_FROM_CLIENT = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]);

/** The 1,000 scripted messages as [isText, payload] (same xorshift32 recipe as peer.py). */
function* script() {
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < MESSAGES; i++) {
    const a = next();
    const b = next();
    const band = (a >>> 1) % 100;
    let size;
    if (i < FIXED_SIZES.length) size = FIXED_SIZES[i];
    else if (band === 0) size = (1 << 20) - (b % 4096);
    else if (band < 10) size = b % 65536;
    else size = b % 1024;
    if ((a & 1) === 0) {
      const full = Buffer.concat([Buffer.from(`#${i}:`), ...Array(Math.floor(size / UNIT.length) + 1).fill(UNIT)]);
      let cut = size;
      while (cut > 0 && (full[cut] & 0xc0) === 0x80) cut--;
      yield [true, Buffer.concat([full.subarray(0, cut), Buffer.alloc(size - cut, '.')])];
    } else {
      const out = Buffer.alloc(size);
      for (let j = 0; j < size; j++) out[j] = (i + 7 * j) & 0xff;
      yield [false, out];
    }
  }
}

/** The close code `ws` put on an error it failed the connection for (an internal symbol). */
function statusOf(err) {
  const sym = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  return sym ? err[sym] : err.code;
}

function echoServer(portFile, deflate) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_SIZE, perMessageDeflate: deflate });
  wss.on('listening', () => {
    writeFileSync(`${portFile}.tmp`, `${wss.address().port}\n`);
    renameSync(`${portFile}.tmp`, portFile);
  });
  wss.on('connection', (ws) => {
    let failed = null;
    let initiated = false;
    ws.on('error', (err) => {
      failed = statusOf(err);
    });
    ws.on('message', (data, isBinary) => {
      const command = !isBinary && data.length < 64 ? data.toString() : '';
      if (command.startsWith('please-close:')) {
        initiated = true;
        ws.close(Number(command.split(':')[1]), 'requested');
      } else if (command.startsWith('please-ping:')) {
        const payload = command.slice('please-ping:'.length);
        ws.once('pong', (pong) => ws.send(`pong-ok:${pong.toString()}`));
        ws.ping(payload);
      } else if (command === 'please-send-invalid') {
        ws._socket.write(INVALID_FROM_SERVER);
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code) => {
      console.log(failed !== null && !initiated ? `failed sent=${failed}` : `closed rcvd=${code}`);
    });
  });
  setTimeout(() => process.exit(0), LIFETIME_MS).unref();
}

/** A client connection whose events are read in order with `next()`. */
async function open(url) {
  const ws = new WebSocket(url, { maxPayload: MAX_SIZE });
  const queue = [];
  let wake = null;
  const push = (event) => {
    queue.push(event);
    if (wake) wake();
  };
  ws.on('open', () => push({ type: 'open' }));
  ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
  ws.on('ping', (data) => push({ type: 'ping', data }));
  ws.on('pong', (data) => push({ type: 'pong', data }));
  ws.on('error', (err) => push({ type: 'error', status: statusOf(err) }));
  ws.on('close', (code) => push({ type: 'close', code }));
  const next = async () => {
    const deadline = Date.now() + TIMEOUT_MS;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for an event');
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
      wake = null;
    }
    return queue.shift();
  };
  const expectEvent = async (type, check = () => true, what = type) => {
    const event = await next();
    if (event.type !== type || !check(event)) throw new Error(`expected ${what}, got ${JSON.stringify(event)}`);
    return event;
  };
  await expectEvent('open');
  return { ws, next, expectEvent };
}

/** Waits for the end of a connection and describes it as peer.py does. */
async function outcome(conn) {
  let failed = null;
  for (;;) {
    const event = await conn.next();
    if (event.type === 'error') failed = event.status;
    else if (event.type === 'close') return failed !== null ? `failed sent=${failed}` : `closed rcvd=${event.code}`;
    else throw new Error(`expected the close, got ${JSON.stringify(event)}`);
  }
}

async function client(url) {
  let conn = await open(url);
  let i = 0;
  for (const [isText, payload] of script()) {
    conn.ws.send(payload, { binary: !isText });
    await conn.expectEvent('message', (e) => e.isBinary === !isText && e.data.equals(payload), `echo of message ${i}`);
    i++;
  }
  FRAG_TEXT.forEach((piece, k) => conn.ws.send(piece, { binary: false, fin: k === FRAG_TEXT.length - 1 }));
  await conn.expectEvent('message', (e) => !e.isBinary && e.data.equals(Buffer.concat(FRAG_TEXT)), 'fragmented text echo');
  FRAG_BINARY.forEach((piece, k) => {
    conn.ws.send(piece, { binary: true, fin: k === FRAG_BINARY.length - 1 });
    if (k === 0) conn.ws.ping('mid-fragment');
  });
  await conn.expectEvent('pong', (e) => e.data.toString() === 'mid-fragment');
  await conn.expectEvent('message', (e) => e.isBinary && e.data.equals(Buffer.concat(FRAG_BINARY)), 'fragmented binary echo');
  conn.ws.ping('ping-1');
  await conn.expectEvent('pong', (e) => e.data.toString() === 'ping-1');
  conn.ws.send('please-ping:srv-ping');
  await conn.expectEvent('ping', (e) => e.data.toString() === 'srv-ping');
  await conn.expectEvent('message', (e) => !e.isBinary && e.data.toString() === 'pong-ok:srv-ping');
  conn.ws.close(4000, 'client done');
  console.log(`main: ${await outcome(conn)}`);

  conn = await open(url);
  conn.ws.send('please-close:4001');
  console.log(`server-close: ${await outcome(conn)}`);

  conn = await open(url);
  conn.ws._socket.write(INVALID_FROM_CLIENT);
  console.log(`invalid-to-server: ${await outcome(conn)}`);

  conn = await open(url);
  conn.ws.send('please-send-invalid');
  console.log(`invalid-to-client: ${await outcome(conn)}`);
  console.log('PASS');
}

const [mode, arg, flag, ...rest] = process.argv.slice(2);
if (mode === 'echo-server' && arg && (flag === undefined || flag === 'deflate') && rest.length === 0) {
  echoServer(arg, flag === 'deflate');
} else if (mode === 'client' && arg) {
  setTimeout(() => process.exit(3), LIFETIME_MS).unref();
  client(arg).then(
    () => process.exit(0),
    (err) => {
      console.error(`FAIL: ${err.stack ?? err}`);
      process.exit(1);
    },
  );
} else {
  console.error('usage: peer.mjs echo-server PORT_FILE [deflate] | client URL');
  process.exit(2);
}
