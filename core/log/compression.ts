import * as zlib from 'node:zlib';
import type { Compression } from './topicConfig.ts';

/**
 * Batch payload compression. zstd comes from `node:zlib` (Node >= 22.15); level 3 is zstd's own
 * default and the usual speed/ratio balance. gzip uses level 6, zlib's default.
 */
export function compress(codec: Compression, payload: Uint8Array): Uint8Array {
  switch (codec) {
    case 'none':
      return payload;
    case 'gzip':
      return zlib.gzipSync(payload);
    case 'zstd':
      return zlib.zstdCompressSync(payload, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } });
  }
}

export function decompress(codec: Compression, stored: Uint8Array): Uint8Array {
  switch (codec) {
    case 'none':
      return stored;
    case 'gzip':
      return zlib.gunzipSync(stored);
    case 'zstd':
      return zlib.zstdDecompressSync(stored);
  }
}
