/** Registry of recommender trainers: every entry passes the shared contract suite. */
import { ImplicitAls } from "./als";
import { Popularity } from "./popularity";
import type { Recommender } from "./recommender";

export const RECOMMENDERS: Readonly<Record<string, (seed: number) => Recommender>> = {
  als: (seed) => new ImplicitAls({ seed, factors: 16, iterations: 10 }),
  popularity: () => new Popularity(),
};
