/**
 * A list route's query with an empty `cursor` left out: `?cursor=` (a client's template for the first page, as the
 * README's `?limit=1000&cursor=` reads, or a last page's null cursor sent back as "") asks for the first page, not a
 * `400` for a cursor too short. Any other cursor is checked by the route's schema as it is.
 */
export function pageQuery(query: Record<string, string>): Record<string, string> {
  if (query.cursor !== "") return query;
  const { cursor: _, ...rest } = query;
  return rest;
}
