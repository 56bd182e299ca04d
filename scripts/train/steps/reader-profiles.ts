/**
 * Training step 4: every reader's profile as `npm run seed` writes it (scripts/profiles/build-profiles.ts):
 * their model vectors, purchase history, segment, send time and propensity. Readers of the interaction log and
 * of the purchase log, once each.
 */
import type { Profile } from "../../../core/profile";
import { buildProfile, purchaseSummaries } from "../../profiles/build-profiles";
import type { TrainingSet } from "../training-set";
import type { Engagement } from "./fit-engagement";
import type { Recommenders } from "./fit-recommenders";

export function readerProfiles(ts: TrainingSet, recs: Recommenders, engagement: Engagement): Profile[] {
  const { full, purchases: plog } = ts;
  const { segments, segmentOf, sendTime, hoursByCustomer, propensity, buyWithin7d } = engagement;
  const summaries = purchaseSummaries(plog);
  const customerIndex = new Map(plog.customerIds.map((id, i) => [id, i]));
  const userRow = new Map(full.userIds.map((id, i) => [id, i]));
  const allUsers = [...new Set([...full.userIds, ...plog.customerIds])];
  return allUsers.map((userId) => {
    const row = userRow.get(userId);
    const c = customerIndex.get(userId);
    const seg = c === undefined ? undefined : segmentOf.get(c);
    return buildProfile(userId, {
      model: recs.version,
      factors: row === undefined ? undefined : recs.als.userVector(row),
      content: row === undefined || !recs.content ? undefined : recs.content.userVector(row),
      purchases: c === undefined ? [] : summaries.get(c),
      segment: seg === undefined || !segments ? undefined : { id: seg, name: segments.model.segments[seg]?.name ?? "" },
      sendTime: c === undefined || !sendTime ? undefined : sendTime.customer(hoursByCustomer.get(c) ?? [], seg ?? -1),
      propensity: c === undefined ? undefined : propensity.get(c),
      buyWithin7d: c === undefined ? undefined : buyWithin7d.get(c),
    });
  });
}
