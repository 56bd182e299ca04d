/**
 * Whether a request may record anything about its reader (an open, impression, exposure, click or pixel event):
 * the one rule the email routes ask. It needs a verified token that is not a staff preview's (core/token.ts,
 * claim p: a preview is answered as the email would be and records nothing), a reader whose data may be recorded
 * (`recordable`: tracking allowed, not erased, as the open's read found them) and the reader's own request (not a
 * HEAD, not a mail provider's prefetch: `own`, as each route can tell). Never for a reader whose id reads as an
 * email address (core/events.ts looksLikeEmail): a token an earlier version signed for one shaped like it only
 * through a look-alike still verifies, so that its links opt out, but records nothing new under it.
 */
import { looksLikeEmail } from "../../core/events";
import type { TokenClaims } from "../../core/token";

export function mayRecord(
  claims: TokenClaims | null | undefined,
  recordable: boolean,
  own: boolean,
): claims is TokenClaims {
  return claims !== null && claims !== undefined && claims.p !== 1 && recordable && own && !looksLikeEmail(claims.u);
}
