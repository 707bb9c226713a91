// A tiny PNG encoder, so the tests can upload real pictures without shipping binary
// fixtures: RGB, 8 bits, no filter, zlib from Node.

import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A `size`×`size` PNG whose pixel (x, y) is `pixel(x, y)` → [r, g, b]. */
export function png(size, pixel) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y += 1) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // no filter
    for (let x = 0; x < size; x += 1) {
      const [r, g, b] = pixel(x, y);
      raw.set([r, g, b], row + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A made-up portrait: a warm background, a head and shoulders in large shapes (which
 * survive the server's blur, so the blurred photo still looks like something), and a
 * fine pattern on the clothes (which does not, so sharpening can be measured).
 */
export function portrait(hue) {
  const size = 256;
  const bgA = hue ? [92, 170, 230] : [255, 170, 120];
  const bgB = hue ? [40, 70, 160] : [220, 80, 140];
  const shirt = hue ? [250, 210, 80] : [90, 200, 170];
  const skin = [240, 196, 160];
  const hair = hue ? [40, 30, 30] : [90, 50, 30];
  return png(size, (x, y) => {
    const t = y / size;
    let color = bgA.map((v, i) => Math.round(v * (1 - t) + bgB[i] * t));
    const head = (x - 128) ** 2 / 52 ** 2 + (y - 104) ** 2 / 62 ** 2;
    const hairShape = (x - 128) ** 2 / 60 ** 2 + (y - 88) ** 2 / 60 ** 2;
    const body = (x - 128) ** 2 / 100 ** 2 + (y - 270) ** 2 / 100 ** 2;
    if (body < 1) color = ((x >> 3) + (y >> 3)) % 2 === 0 ? shirt : shirt.map((v) => v * 0.55);
    else if (head < 1) color = skin;
    else if (hairShape < 1 && y < 100) color = hair;
    if (head < 1 && hairShape < 1 && y < 62) color = hair;
    return color.map((v) => Math.max(0, Math.min(255, Math.round(v))));
  });
}
