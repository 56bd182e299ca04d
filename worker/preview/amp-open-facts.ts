/**
 * The facts the preview's AMP open is decided on: those of a real AMP open from Gmail (worker/routes/amp-recs.ts),
 * whatever the staff member's own request says. Mail providers proxy AMP requests, so the reader's country is
 * unknown and their hour is the campaign's `timeZone`'s (none named: unknown); the preview shows what the reader
 * gets, not what the staff member's location would.
 */
import type { Facts } from "../../core/conditions";
import { openFacts } from "../campaigns/open-facts";

export function ampOpenFacts(campaignZone: string | undefined, now: number): Facts {
  return openFacts({ format: "amp", fetcher: "gmail-proxy", timezone: null, country: null, campaignZone, now });
}
