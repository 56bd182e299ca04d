/**
 * How many ReaderShards hold the readers (worker/state/shard-routing.ts). Part of the data's address: changing it
 * would move readers to shards that do not hold their state, so it is a constant, not a setting (README, "State":
 * why 16, and what it costs). Alone in its file, free of Workers types, for the request schemas that name a shard.
 */
export const READER_SHARDS = 16;
