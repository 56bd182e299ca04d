/** The model fixtures the workerd tests get from global setup (trained in Node, passed by `provide`). */
import type { Golden } from "../../core/golden";
import type { Profile } from "../../core/profile";

export interface ModelFixture {
  version: string;
  manifestJson: string;
  catalogJson: string;
  onnxBase64: string;
  contentOnnxBase64: string | null;
  itemTableJson: string | null;
  /** the learned ranker's neighbour table (neighbours.bin), when the model has one */
  neighboursBase64: string | null;
  golden: Golden;
  profiles: Profile[];
  /** the demo generator's planted favourite categories for each profile's user (demo fixture only) */
  plantedCategories: Record<string, string[]>;
}

export const TEST_TOKEN_SECRET = "workerd-test-secret-0123456789abcdef";
export const TEST_EVENTS_KEY = "events-key-for-tests-0123456789";
export const TEST_ADMIN_KEY = "admin-key-for-tests-0123456789ab";
export const TEST_WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789";

declare module "vitest" {
  export interface ProvidedContext {
    /** demo shop events: ALS only */
    model: ModelFixture;
    /** a UCI-layout purchase log: ALS + content + hybrid + ranker + segments + send time */
    retail: ModelFixture;
  }
}
