/** The model fixture the workerd tests get from global setup (trained in Node, passed by `provide`). */
import type { Profile } from "../../core/profile";

export interface GoldenCaseFixture {
  user: string;
  vector: number[];
  k: number;
  expectedIndices: number[];
  expectedScores: number[];
  floatTop10: number[];
}

export interface ModelFixture {
  version: string;
  manifestJson: string;
  catalogJson: string;
  onnxBase64: string;
  golden: GoldenCaseFixture[];
  profiles: Profile[];
  /** the demo generator's planted favourite categories for each profile's user */
  plantedCategories: Record<string, string[]>;
}

export const TEST_TOKEN_SECRET = "workerd-test-secret-0123456789abcdef";

declare module "vitest" {
  export interface ProvidedContext {
    model: ModelFixture;
  }
}
