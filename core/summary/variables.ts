/**
 * Histograms of variables' current values (what a training loop logs per epoch): one session run
 * reads them all, each is written under its variable's name.
 */
import type { Session } from "../session.ts";
import type { Variable } from "../variables.ts";
import type { SummaryWriter } from "./writer.ts";

export async function writeVariableHistograms(
  writer: SummaryWriter,
  session: Session,
  variables: readonly Variable[],
  step: number,
): Promise<void> {
  if (variables.length === 0) return;
  const values = await session.run(variables.map((v) => v.read()));
  await Promise.all(values.map((t, i) => writer.histogram(variables[i].name, t, step)));
}
