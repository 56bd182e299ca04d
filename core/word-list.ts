/** A list as a sentence says it (the dashboard's arms and metrics, OpenAPI's statuses). */

/** `a`, `a and b`, `a, b and c`; "" for none. */
export function wordList(items: readonly (string | number)[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
