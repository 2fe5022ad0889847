/**
 * A cycle-level simulation of one weight-stationary systolic array of R x C processing elements
 * (PEs), used to validate the tile-level model: it computes a matmul element by element, one
 * clock at a time, and counts the clocks.
 *
 * The machine: PE (r, c) holds an active weight and a shadow weight. A weight tile is B[k0 .. k0
 * + R) x [n0 .. n0 + C); the loader puts one tile row per cycle on row r's weight bus, which
 * moves one PE right per cycle into the shadow registers, so PE (r, c) is written c + r cycles
 * after the load starts. Rows of A enter on the left, row r skewed r cycles behind row 0, and
 * move one PE right per cycle; partial sums start at zero at the top and move one PE down per
 * cycle, p' = p + a * w in float32, so a column's sum leaves the bottom R - 1 + c cycles after
 * its row entered. Each datum carries the tile it belongs to, and a PE swaps its shadow weights
 * in when the first datum of a new tile reaches it: the swap travels the array with the data.
 * Results leaving the bottom are added to float32 accumulators the next cycle.
 *
 * The sequencer starts a weight load when the bus is free and the previous tile's data has
 * begun to enter (so the load's wave never catches up with the swap wave ahead of it), and
 * starts a tile's data when the previous tile's rows have all entered and PE (0, 0) holds the
 * new tile's weights. Hazards (writing a shadow still waiting to be swapped in, data meeting
 * weights of the wrong tile) throw: the schedule must never produce them.
 */
export interface SystolicResult {
  /** C = A @ B, [m, n], float32. */
  out: Float32Array;
  /** Clock cycles from the first weight load to the last accumulator write, inclusive. */
  cycles: number;
  /** Multiply-adds done on real (not padding) data. */
  macs: number;
}

interface Tile {
  k0: number;
  n0: number;
}

/** The registers that move each cycle: A data with its tile and row, partial sums, weight buses. */
class Wires {
  readonly a: Float32Array;
  readonly aTile: Int32Array;
  readonly aRow: Int32Array;
  readonly p: Float32Array;
  readonly wTile: Int32Array;
  constructor(pe: number) {
    this.a = new Float32Array(pe);
    this.aTile = new Int32Array(pe).fill(-1);
    this.aRow = new Int32Array(pe);
    this.p = new Float32Array(pe);
    this.wTile = new Int32Array(pe).fill(-1);
  }
  clear(): void {
    this.aTile.fill(-1);
    this.wTile.fill(-1);
  }
}

/**
 * Simulates A [m, k] @ B [k, n] on an R x C array, tiles in the order the tile-level model
 * uses: for each column block, every K block in turn. A and B must hold bfloat16 values.
 */
export function simulateSystolic(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  R: number,
  C: number,
): SystolicResult {
  const tiles: Tile[] = [];
  for (let n0 = 0; n0 < n; n0 += C) for (let k0 = 0; k0 < k; k0 += R) tiles.push({ k0, n0 });
  const out = new Float32Array(m * n);
  if (tiles.length === 0 || m === 0) return { out, cycles: 0, macs: 0 };
  const pe = R * C;
  const wActive = new Float32Array(pe), wShadow = new Float32Array(pe);
  const activeTile = new Int32Array(pe).fill(-1), shadowTile = new Int32Array(pe).fill(-1);
  let now = new Wires(pe), next = new Wires(pe);
  // What entered row 0 at each cycle (tile, row of A), so row r can replay it r cycles later.
  const enteredTile: number[] = [], enteredRow: number[] = [];
  const startedAt = new Array<number>(tiles.length).fill(-1);
  let loadTile = -1, loadStep = R, nextLoad = 0; // the load in flight and its next tile row
  let dataTile = 0, dataRow = 0;
  let lastWrite = -1, macs = 0;
  const weight = (t: number, r: number, c: number) => {
    const kk = tiles[t].k0 + r, nn = tiles[t].n0 + c;
    return kk < k && nn < n ? b[kk * n + nn] : 0;
  };

  for (let cycle = 0;; cycle++) {
    // Sequencer: start the next load once the tile before it has begun to enter.
    const prior = nextLoad - 1;
    if (loadStep === R && nextLoad < tiles.length && (prior < 0 || startedAt[prior] >= 0)) {
      (loadTile = nextLoad++), (loadStep = 0);
    }
    // A tile's first row enters once PE (0, 0) holds its weights.
    let enter = -1;
    if (dataTile < tiles.length && (dataRow > 0 || shadowTile[0] === dataTile)) {
      enter = dataTile;
      if (dataRow === 0) startedAt[dataTile] = cycle;
    }
    enteredTile.push(enter);
    enteredRow.push(dataRow);
    if (enter >= 0 && ++dataRow === m) (dataTile++), (dataRow = 0);

    // Clock edge: every PE computes from the registers of the cycle before.
    next.clear();
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        const i = r * C + c;
        // Data: row r replays what entered row 0 r cycles ago, then moves right.
        let av = 0, at = -1, ar = 0;
        if (c > 0) (av = now.a[i - 1]), (at = now.aTile[i - 1]), (ar = now.aRow[i - 1]);
        else if (cycle >= r && enteredTile[cycle - r] >= 0) {
          (at = enteredTile[cycle - r]), (ar = enteredRow[cycle - r]);
          const kk = tiles[at].k0 + r;
          av = kk < k ? a[ar * k + kk] : 0;
        }
        if (at >= 0) {
          if (activeTile[i] !== at) {
            if (shadowTile[i] !== at) throw new Error(`hazard: PE (${r}, ${c}) lacks tile ${at}`);
            (wActive[i] = wShadow[i]), (activeTile[i] = at), (shadowTile[i] = -1);
          }
          const pin = r === 0 ? 0 : now.p[i - C];
          next.p[i] = Math.fround(pin + Math.fround(av * wActive[i]));
          (next.a[i] = av), (next.aTile[i] = at), (next.aRow[i] = ar);
          if (tiles[at].k0 + r < k && tiles[at].n0 + c < n) macs++;
        }
        // Weight bus: the loader drives row loadStep at column 0; the wave moves right.
        const wt = c > 0 ? now.wTile[i - 1] : loadStep === r ? loadTile : -1;
        if (wt >= 0) {
          if (shadowTile[i] >= 0) throw new Error(`hazard: shadow of PE (${r}, ${c}) is full`);
          (wShadow[i] = weight(wt, r, c)), (shadowTile[i] = wt), (next.wTile[i] = wt);
        }
      }
    }
    // Results that left the bottom row last cycle reach the accumulators now.
    for (let c = 0; c < C; c++) {
      const i = (R - 1) * C + c, t = now.aTile[i];
      if (t < 0) continue;
      const nn = tiles[t].n0 + c;
      if (nn < n) out[now.aRow[i] * n + nn] += now.p[i];
      lastWrite = cycle;
    }
    [now, next] = [next, now];
    if (loadStep < R) loadStep++;
    const moving = now.aTile.some((t) => t >= 0) || now.wTile.some((t) => t >= 0);
    if (!moving && loadStep === R && dataTile === tiles.length) {
      return { out, cycles: lastWrite + 1, macs };
    }
  }
}
