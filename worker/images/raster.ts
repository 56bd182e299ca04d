/**
 * Rasters (premultiplied RGBA, as resvg draws them) and the one operation the cards need on them: laying
 * a card whose picture box was left transparent over its picture (Porter-Duff "over", card on top, so the
 * painted corners and the badge stay above the picture).
 */

export interface Raster {
  width: number;
  height: number;
  /** 4: premultiplied RGBA (what resvg draws); 3: opaque RGB (a decoded picture, used as it came) */
  channels: 3 | 4;
  /** `width * height * channels` bytes */
  data: Uint8Array;
}

/**
 * Lays `card` over `picture`, placed at (x, y) in the card, in place. Pixels of the card outside the
 * picture are left as they are; inside, `card + picture * (1 - card alpha)`.
 */
export function underlay(card: Raster, picture: Raster, x: number, y: number): void {
  const { data: c, width } = card;
  const { data: p, channels: n } = picture;
  if (card.channels !== 4) throw new Error("underlay: the card must be RGBA");
  const w = Math.min(picture.width, card.width - x);
  const h = Math.min(picture.height, card.height - y);
  if (x < 0 || y < 0 || w <= 0 || h <= 0) throw new Error("underlay: the picture is outside the card");
  for (let row = 0; row < h; row++) {
    let s = row * picture.width * n;
    let o = ((y + row) * width + x) * 4;
    for (let col = 0; col < w; col++, s += n, o += 4) {
      const a = c[o + 3] as number;
      if (a === 255) continue;
      const pa = n === 4 ? (p[s + 3] as number) : 255;
      if (a === 0) {
        c[o] = p[s] as number;
        c[o + 1] = p[s + 1] as number;
        c[o + 2] = p[s + 2] as number;
        c[o + 3] = pa;
        continue;
      }
      const k = 255 - a;
      c[o] = ((c[o] as number) + ((p[s] as number) * k + 127) / 255) | 0;
      c[o + 1] = ((c[o + 1] as number) + ((p[s + 1] as number) * k + 127) / 255) | 0;
      c[o + 2] = ((c[o + 2] as number) + ((p[s + 2] as number) * k + 127) / 255) | 0;
      c[o + 3] = (a + (pa * k + 127) / 255) | 0;
    }
  }
}
