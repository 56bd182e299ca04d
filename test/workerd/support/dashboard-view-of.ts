/**
 * The dashboard's view of a report (worker/dashboard/dashboard-view.ts) as the page draws it, with no bandit, model,
 * versions or drift unless the test says otherwise: for the tests of what the page says.
 */
import { type DashboardInput, dashboardView } from "../../../worker/dashboard/dashboard-view";

export const viewOf = (input: Pick<DashboardInput, "experiments" | "current" | "report"> & Partial<DashboardInput>) =>
  dashboardView({
    bandit: [],
    model: null,
    versions: [],
    drift: [],
    psiThreshold: 0.25,
    eceThreshold: 0.1,
    ...input,
  });
