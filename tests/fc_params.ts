// fast-check parameters: CI runs with a fixed seed, a local run with a fresh one (printed on failure).
export function fcParams(numRuns = 25): { numRuns: number; seed?: number } {
  const fixed = Deno.env.get("CI") ? 42 : Deno.env.get("FC_SEED");
  return fixed === undefined ? { numRuns } : { numRuns, seed: Number(fixed) };
}
