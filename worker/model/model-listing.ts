/**
 * A page of the model versions stored, each checked, with the pointer and its history (core/model-versions.ts
 * Listing), as the moves' one writer sees them: read in the ModelMover Durable Object, after any move in progress,
 * so a move just made shows even where KV's copy is still older. Without the MODEL_MOVER binding it is read here.
 */
import { type Listing, type ListingPage, listVersions } from "../../core/model-versions";
import type { Bindings } from "../env";
import { bindingKvClient } from "./binding-kv-client";

export function modelListing(env: Bindings, page: ListingPage = {}): Promise<Listing> {
  return env.MODEL_MOVER
    ? env.MODEL_MOVER.get(env.MODEL_MOVER.idFromName("models")).list(page)
    : listVersions(bindingKvClient(env.OPENTIME_KV), page, 1);
}
