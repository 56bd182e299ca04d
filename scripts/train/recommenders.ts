/** Registry of recommender trainers: every entry passes the shared contract suite. */

import type { Recommender } from "../ranking/recommender-contract";
import { ImplicitAls } from "./als";
import { ContentLsa } from "./content";
import { Ease } from "./ease";
import { HybridRecommender } from "./hybrid";
import { ItemKnn } from "./item-knn";
import { OwnThen } from "./own-then";
import { Popularity } from "./popularity";
import { RepeatPurchases } from "./repeat";
import { Rp3Beta } from "./rp3beta";

export const RECOMMENDERS: Readonly<Record<string, (seed: number) => Recommender>> = {
  popularity: () => new Popularity(),
  repeat: () => new RepeatPurchases(),
  item_knn: () => new ItemKnn(),
  ease: () => new Ease({ lambda: 10 }),
  own_then_ease: () => new OwnThen(new Ease({ lambda: 10 })),
  rp3beta: () => new Rp3Beta(),
  als: (seed) => new ImplicitAls({ seed, factors: 16, iterations: 10 }),
  content: (seed) => new ContentLsa({ seed, dims: 16 }),
  hybrid: (seed) => new HybridRecommender({ seed, factors: 16, iterations: 10 }, { seed, dims: 16 }),
};
