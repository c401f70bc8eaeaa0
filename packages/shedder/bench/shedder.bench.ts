/**
 * The shedder's decisions. Target: a refusal costs ≤ 50 ns and allocates nothing (the refusal
 * value is reused while its retry hint is unchanged).
 */
import { bytesAllocatedPerOp, suite } from '../../../bench/harness.ts';
import { LoadShedder } from '@sluice/shedder';

/** The least a threshold shedder can do: compare in-flight with the level's limit, return a constant. */
class FloorShedder {
  inFlight = 0;
  private readonly refusal = Object.freeze({ granted: false as const, reason: 'shed' as const });
  private readonly grant = Object.freeze({ granted: true as const });
  constructor(private readonly limits: readonly number[]) {}
  tryTake(level: number): { readonly granted: boolean } {
    if (this.inFlight + 1 > (this.limits[level] as number)) return this.refusal;
    this.inFlight++;
    return this.grant;
  }
}

suite('shedder', (s) => {
  s.group(
    'refusal: tryAcquire on a loaded shedder',
    {
      note:
        'One op = one synchronous `tryAcquire(1, { priority })` that is refused (options object hoisted, as a server ' +
        'would keep one per priority class). Rows: a `low` request at 95 % utilisation (threshold rule); a `normal` ' +
        'request refused by a load signal at 0.97 (signals rule); a `low` request while `shedBelow(0)` is on. Floor: ' +
        'compare in-flight with a per-level limit and return a frozen constant. None of the peers has a load shedder ' +
        'to compare with. The allocation column is heap bytes per op over a GC-free loop.',
      added: true,
      columns: [{ key: 'alloc', label: 'bytes allocated per op', format: 'bytes-per-item' }],
    },
    (g) => {
      const floor = new FloorShedder([98, 95, 90]);
      floor.inFlight = 95;
      const loaded = new LoadShedder({ capacity: 100 });
      for (let i = 0; i < 95; i++) loaded.tryAcquire(1, { priority: 0 });
      const signal = { value: 0.97 };
      const signalled = new LoadShedder({ capacity: 100, signals: [signal] });
      const switched = new LoadShedder({ capacity: 100 });
      switched.shedBelow(0);
      const low = { priority: -1 };
      const normal = { priority: 0 };
      for (const [label, result] of [
        ['threshold', loaded.tryAcquire(1, low)],
        ['signal', signalled.tryAcquire(1, normal)],
        ['shedBelow', switched.tryAcquire(1, low)],
      ] as const) {
        if (result.granted) throw new Error(`shedder bench: the ${label} case was admitted`);
      }
      g.floor('floor: compare + constant', () => floor.tryTake(2), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => floor.tryTake(2)) }),
      });
      g.time('LoadShedder, low at 95 % (threshold)', () => loaded.tryAcquire(1, low), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => loaded.tryAcquire(1, low)) }),
      });
      g.time('LoadShedder, normal with signal 0.97', () => signalled.tryAcquire(1, normal), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => signalled.tryAcquire(1, normal)) }),
      });
      g.time('LoadShedder, low under shedBelow(0)', () => switched.tryAcquire(1, low), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => switched.tryAcquire(1, low)) }),
      });
    },
  );

  s.group(
    'admission: tryAcquire + release',
    {
      note:
        'One op = `tryAcquire(1, { priority: 0 })` admitted at 50 % utilisation, then `release()`. Floor: increment and ' +
        'decrement a counter behind the same comparison.',
      added: true,
      columns: [{ key: 'alloc', label: 'bytes allocated per op', format: 'bytes-per-item' }],
    },
    (g) => {
      const floor = new FloorShedder([98, 95, 90]);
      const shedder = new LoadShedder({ capacity: 100 });
      for (let i = 0; i < 50; i++) shedder.tryAcquire(1);
      const normal = { priority: 0 };
      const floorOp = () => {
        floor.tryTake(1);
        floor.inFlight--;
      };
      const op = () => {
        const result = shedder.tryAcquire(1, normal);
        if (result.granted) result.release();
      };
      g.floor('floor: compare + count', floorOp, { metrics: () => ({ alloc: bytesAllocatedPerOp(floorOp) }) });
      g.time('LoadShedder tryAcquire + release', op, { metrics: () => ({ alloc: bytesAllocatedPerOp(op) }) });
    },
  );
});
