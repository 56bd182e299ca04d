/**
 * `__proto__` as a key a user writes. zod builds a record as a plain object and so skips an input key
 * `__proto__` altogether, its value unchecked: parsed, it would vanish with no word. Where a user names the keys
 * (a campaign's boost weights by category or tag, core/item-rules.ts; an event's properties, core/events.ts) it
 * is refused instead, by its path: `protoKeyIssues` over a whole body before it is parsed (campaign bodies:
 * a preprocess inside them would drop their `default`s from the OpenAPI document, which shows bodies as input),
 * `refuseProtoKey` around one record (event properties: nothing above them has a default).
 */
import { z } from "zod";

/** The one key a plain object cannot hold as its own through assignment. */
export const PROTO_KEY = "__proto__";

const refusal = (what: string) => `"${PROTO_KEY}" cannot be used as ${what}`;

/** A value met in the walk, with the way back to the root (a path is built only for an issue). */
interface Node {
  value: unknown;
  key: PropertyKey | null;
  parent: Node | null;
}

function pathOf(node: Node): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let n: Node | null = node; n !== null && n.key !== null; n = n.parent) path.push(n.key);
  return path.reverse();
}

/**
 * An issue at each own `__proto__` key of a JSON value, at any depth (its path ends with the key). One pass over
 * the value's nodes, whatever its depth (no path is copied per node: a deep body costs its size, not its square).
 */
export function protoKeyIssues(raw: unknown, what: string): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  const stack: Node[] = [{ value: raw, key: null, parent: null }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { value } = node;
    if (value === null || typeof value !== "object") continue;
    if (!Array.isArray(value) && Object.hasOwn(value, PROTO_KEY))
      issues.push({ code: "custom", path: [...pathOf(node), PROTO_KEY], message: refusal(what), input: value });
    // depth-first, in key order (the stack pops the last pushed first)
    const entries = Object.entries(value).filter(([k]) => k !== PROTO_KEY);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i] as [string, unknown];
      stack.push({ value: v, key: Array.isArray(value) ? Number(k) : k, parent: node });
    }
  }
  return issues;
}

/** `record`, refusing an input holding `__proto__` as its own key. A preprocess: see the module comment. */
export function refuseProtoKey<T extends z.ZodType>(record: T, what: string) {
  return z.preprocess((raw, ctx) => {
    if (raw !== null && typeof raw === "object" && Object.hasOwn(raw, PROTO_KEY))
      ctx.addIssue({ code: "custom", path: [PROTO_KEY], message: refusal(what), input: raw });
    return raw;
  }, record);
}
