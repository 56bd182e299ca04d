/**
 * Splits `/v1/img/<token>/<slot>.png` and `/v1/c/<token>/<slot>` without trusting any part: a path that
 * cannot be read still yields a slot to draw (the layout it names, else the single card).
 */
import { LAYOUT_NAMES, type LayoutName, parseSlot, type Slot } from "../../core/layouts";

export interface SlotPath {
  token: string;
  /** the slot asked for, or null when the name is not a slot */
  slot: Slot | null;
  /** what to draw: the slot, or a generic slot of the size the request most likely wanted */
  drawAs: Slot;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseSlotPath(pathname: string, prefix: string, suffix = ""): SlotPath {
  const rest = pathname.startsWith(prefix) ? pathname.slice(prefix.length) : "";
  const cut = rest.lastIndexOf("/");
  const token = cut > 0 ? safeDecode(rest.slice(0, cut)) : "";
  let name = safeDecode(cut >= 0 ? rest.slice(cut + 1) : rest);
  if (suffix && name.toLowerCase().endsWith(suffix)) name = name.slice(0, -suffix.length);
  const slot = parseSlot(name);
  if (slot) return { token, slot, drawAs: slot };
  const layout = LAYOUT_NAMES.find((l) => name.startsWith(l)) as LayoutName | undefined;
  return { token, slot: null, drawAs: { layout: layout ?? "card", index: 0, scale: name.includes("@2x") ? 2 : 1 } };
}
