/** The few opentype.js 2.0 calls the font-metrics generator uses (the package ships no types). */
declare module "opentype.js" {
  interface Glyph {
    index: number;
    advanceWidth?: number;
  }
  interface Font {
    unitsPerEm: number;
    ascender: number;
    descender: number;
    charToGlyph(ch: string): Glyph;
  }
  const opentype: { parse(buffer: ArrayBuffer): Font };
  export default opentype;
}
