/**
 * Open-time image blocks: a block is a layout (a single card, a row of 3, a grid of 2x2) and a slot is one
 * position in it, rendered as its own image with its own click URL. Slot names in URLs: `<layout>-<index>`,
 * with `@2x` for the retina variant (`row-1@2x`). Shared by the Worker and the email builder.
 */

export const LAYOUTS = {
  /** one wide card: picture left, text right */
  card: { slots: 1, width: 600, height: 260 },
  /** three cards side by side in a 600px email */
  row: { slots: 3, width: 200, height: 300 },
  /** two by two */
  grid: { slots: 4, width: 300, height: 340 },
} as const;
export type LayoutName = keyof typeof LAYOUTS;
export const LAYOUT_NAMES = Object.keys(LAYOUTS) as LayoutName[];

export interface Slot {
  layout: LayoutName;
  /** position in the block, 0-based; also the rank of the item shown */
  index: number;
  /** 1, or 2 for retina */
  scale: 1 | 2;
}

const SLOT_PATTERN = /^(card|row|grid)-(\d)(@2x)?$/;

/** `row-1@2x` -> slot; null for anything else (the image route then serves its fallback). */
export function parseSlot(raw: string): Slot | null {
  const m = SLOT_PATTERN.exec(raw);
  if (!m) return null;
  const layout = m[1] as LayoutName;
  const index = Number(m[2]);
  if (index >= LAYOUTS[layout].slots) return null;
  return { layout, index, scale: m[3] ? 2 : 1 };
}

/** The slot's name without the scale: decisions and clicks are the same for 1x and 2x. */
export function slotKey(slot: Pick<Slot, "layout" | "index">): string {
  return `${slot.layout}-${slot.index}`;
}

export function slotName(slot: Slot): string {
  return slot.scale === 2 ? `${slotKey(slot)}@2x` : slotKey(slot);
}

/** Pixel size of a slot's PNG. */
export function slotPixels(slot: Slot): { width: number; height: number } {
  const l = LAYOUTS[slot.layout];
  return { width: l.width * slot.scale, height: l.height * slot.scale };
}

/** Every slot of a layout, at 1x. */
export function layoutSlots(layout: LayoutName): Slot[] {
  return Array.from({ length: LAYOUTS[layout].slots }, (_, index) => ({ layout, index, scale: 1 as const }));
}
