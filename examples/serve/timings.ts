/**
 * `--timings`: where a cold start goes. Marks are milliseconds since the process started
 * (`performance.now()`'s origin); the server prints the start-up marks once it listens and the
 * first request's marks once it is answered, on stderr (stdout's first line stays `listening on`).
 */
export class Timings {
  private readonly marks: [string, number][] = [];
  private first = true;

  constructor(readonly enabled: boolean) {}

  mark(name: string): void {
    if (this.enabled) this.marks.push([name, performance.now()]);
  }

  /** Prints the marks so far as `timings <what>: name ms, ...` and forgets them. */
  print(what: string): void {
    if (!this.enabled) return;
    const line = this.marks.map(([n, t]) => `${n} ${t.toFixed(1)}`).join(", ");
    console.error(`timings ${what}: ${line}`);
    this.marks.length = 0;
  }

  /** Whether this is the first request's call (then marks it `name`), once. */
  firstRequest(name: string): boolean {
    if (!this.enabled || !this.first) return false;
    this.first = false;
    this.mark(name);
    return true;
  }
}
