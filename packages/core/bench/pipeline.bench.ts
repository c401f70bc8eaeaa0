/**
 * What `pipeline()` costs on its own: pass-through stages (which admit everything and hand out
 * nothing to give back) measured against bare calls, on the three ways a caller goes through a
 * gate — sync `tryAcquire()` + `release()`, `await acquire()` + `release()`, and `await run(fn)` —
 * plus 100,000 concurrent `run()` calls in flight at once.
 */
import { passThrough, pipeline, type Gate, type Permit, type Refusal } from '@sluice/core';
import { suite } from '../../../bench/harness.ts';

/** The work every async case runs. */
const work = async (): Promise<number> => 1;

function refused(result: Refusal): Error {
  return new Error(`pipeline bench: a pass-through gate refused (${result.reason} at ${result.gate})`);
}

function emptyCall(): void {}

/** The three gates every group measures, fresh per group so counters start at 0. */
function gates(): { alone: Gate; one: Gate; three: Gate } {
  return {
    alone: passThrough(),
    one: pipeline(passThrough()),
    three: pipeline(passThrough(), passThrough(), passThrough()),
  };
}

/** Fails the group early if a gate does not behave as the cases assume. */
async function checkGates(all: { alone: Gate; one: Gate; three: Gate }): Promise<void> {
  for (const gate of [all.alone, all.one, all.three]) {
    if ((await gate.run(work)) !== 1) throw new Error('pipeline bench: run() did not return the value of fn');
    const permit = gate.tryAcquire();
    if (!permit.granted) throw refused(permit);
    permit.release();
  }
}

const CONCURRENT = 100_000;

suite('pipeline', (s) => {
  s.group(
    'sync tryAcquire() + release()',
    {
      note:
        'One op = `tryAcquire()` then `release()` of the permit (no outcome), on an always-granting gate; the floor ' +
        'is a call of an empty function (what the measuring loop itself costs). `pipeline(passThrough())` has one stage, ' +
        '`pipeline(3 × passThrough())` three; `passThrough()` alone is the gate without a pipeline, and "chained by hand" ' +
        'acquires three separate pass-through gates in a row and releases them in reverse (what a pipeline does, minus ' +
        'its own bookkeeping).',
      added: true,
    },
    async (g) => {
      const { alone, one, three } = gates();
      await checkGates({ alone, one, three });
      const [first, second, third] = [passThrough(), passThrough(), passThrough()];
      g.floor('empty function call', () => {
        emptyCall();
      });
      g.time('passThrough() alone', () => {
        const result: Permit | Refusal = alone.tryAcquire();
        if (!result.granted) throw refused(result);
        result.release();
      });
      g.time('pipeline(passThrough())', () => {
        const result: Permit | Refusal = one.tryAcquire();
        if (!result.granted) throw refused(result);
        result.release();
      });
      g.time('3 × passThrough() chained by hand', () => {
        const a = first.tryAcquire();
        if (!a.granted) throw refused(a);
        const b = second.tryAcquire();
        if (!b.granted) throw refused(b);
        const c = third.tryAcquire();
        if (!c.granted) throw refused(c);
        c.release();
        b.release();
        a.release();
      });
      g.time('pipeline(3 × passThrough())', () => {
        const result: Permit | Refusal = three.tryAcquire();
        if (!result.granted) throw refused(result);
        result.release();
      });
    },
  );

  s.group(
    'await acquire() + release()',
    {
      note:
        'One op = `await gate.acquire()` then `release()` inside an async function, awaited by the measuring loop; ' +
        'the floor is the same async function awaiting an already-resolved promise of a permit-like object and ' +
        'calling its empty `release()`.',
      added: true,
    },
    async (g) => {
      const { alone, one, three } = gates();
      await checkGates({ alone, one, three });
      const resolvedPermit = Promise.resolve({ granted: true as const, release(): void {} });
      g.floor('await resolved promise + release()', async () => {
        const permit = await resolvedPermit;
        permit.release();
      });
      g.time('passThrough() alone', async () => {
        const permit = await alone.acquire();
        permit.release();
      });
      g.time('pipeline(passThrough())', async () => {
        const permit = await one.acquire();
        permit.release();
      });
      g.time('pipeline(3 × passThrough())', async () => {
        const permit = await three.acquire();
        permit.release();
      });
    },
  );

  s.group(
    'await run(fn)',
    {
      note:
        'One op = `await gate.run(fn)` with `fn = async () => 1` (acquire, run, release with `{ ok, durationMs }`); the ' +
        'floor is a bare `await fn()`. The measuring loop awaits the promise each case body returns.',
      added: true,
    },
    async (g) => {
      const { alone, one, three } = gates();
      await checkGates({ alone, one, three });
      g.floor('bare await fn()', () => work());
      g.time('passThrough() alone', () => alone.run(work));
      g.time('pipeline(passThrough())', () => one.run(work));
      g.time('pipeline(3 × passThrough())', () => three.run(work));
    },
  );

  s.group(
    '100,000 concurrent run(fn) (macro)',
    {
      note:
        'One run = 100,000 `gate.run(fn)` calls with `fn = async () => 1` started in one synchronous loop, then ' +
        '`await Promise.all(...)`: every call is in flight at once, so this includes the GC cost of 100k live ' +
        'promises. Timed with `process.hrtime.bigint()` after a full GC; the floor starts 100,000 bare `fn()` calls.',
      added: true,
    },
    (g) => {
      const { alone, one, three } = gates();
      g.macro(
        'bare fn() × 100k',
        {
          ops: CONCURRENT,
          run: () => {
            const pending = new Array<Promise<number>>(CONCURRENT);
            for (let i = 0; i < CONCURRENT; i++) pending[i] = work();
            return Promise.all(pending);
          },
        },
        { floor: true },
      );
      g.macro('passThrough() alone', {
        ops: CONCURRENT,
        run: () => {
          const pending = new Array<Promise<number>>(CONCURRENT);
          for (let i = 0; i < CONCURRENT; i++) pending[i] = alone.run(work);
          return Promise.all(pending);
        },
      });
      g.macro('pipeline(passThrough())', {
        ops: CONCURRENT,
        run: () => {
          const pending = new Array<Promise<number>>(CONCURRENT);
          for (let i = 0; i < CONCURRENT; i++) pending[i] = one.run(work);
          return Promise.all(pending);
        },
      });
      g.macro('pipeline(3 × passThrough())', {
        ops: CONCURRENT,
        run: () => {
          const pending = new Array<Promise<number>>(CONCURRENT);
          for (let i = 0; i < CONCURRENT; i++) pending[i] = three.run(work);
          return Promise.all(pending);
        },
      });
      g.teardown(() => {
        for (const gate of [alone, one, three]) {
          const stats = gate.stats();
          if (stats.waiting !== 0 || stats.admitted === 0) {
            throw new Error(`pipeline bench: ${gate.name} ended with ${stats.waiting} waiting, ${stats.admitted} admitted`);
          }
        }
      });
    },
  );
});
