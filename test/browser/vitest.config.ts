/**
 * Tests in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH, driven by playwright-core): the staff
 * pages (preview and dashboard) against the real Worker in workerd (Miniflare) with a freshly trained demo model,
 * the HTML email's layout as mail clients show it, and the dashboard's SVG charts.
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
