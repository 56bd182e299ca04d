/**
 * End-to-end test of the preview page in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against the real Worker in workerd (Miniflare) with a freshly trained demo model.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
