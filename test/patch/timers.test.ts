import { describe, expect, it } from 'vitest';
import { scenario } from './scenario.js';

const PATCHED = `
import { patchAll } from 'greenhub/patch';
import { spawn, sleep, getHub, GreenletExit, Timeout, withTimeout } from 'greenhub';
patchAll({ signal: false });
const since = (t) => Math.round(performance.now() - t);
`;

describe.concurrent('patchTimers', () => {
  it('killing a greenlet in timers/promises.setTimeout(60000) clears the timer at once and the greenlet dies of the kill', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      const g = spawn(() => delay(60_000));
      await sleep(5);
      const pending = getHub().stats().operations.timer;
      const t = performance.now();
      await g.kill();
      report({ pending, killMs: since(t), killed: g.value instanceof GreenletExit, after: getHub().stats().operations.timer });
      // Nothing else holds the loop: the process exits now, not in 60 s.
    `);
    expect(code).toBe(0);
    expect(result).toMatchObject({ pending: 1, killed: true, after: 0 });
    expect((result as { killMs: number }).killMs).toBeLessThan(50);
  });

  it('a kill reaches `await new Promise((r) => setTimeout(r, ms))`: the sleep rejects and finally blocks run', async () => {
    const { code, result } = await scenario(`${PATCHED}
      const steps = [];
      const g = spawn(async () => {
        try { await new Promise((resolve) => setTimeout(resolve, 60_000)); steps.push('woke'); }
        finally { steps.push('finally'); }
      });
      await sleep(5);
      const t = performance.now();
      await g.kill();
      report({ steps, killMs: since(t), killed: g.value instanceof GreenletExit, timers: getHub().stats().operations.timer });
    `);
    expect(code).toBe(0);
    expect(result).toMatchObject({ steps: ['finally'], killed: true, timers: 0 });
    expect((result as { killMs: number }).killMs).toBeLessThan(50);
  });

  it('callback timers and intervals a killed greenlet started outlive it (a kill reaches the wait, not the world)', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      let timeoutFired, ticked;
      const fired = new Promise((r) => (timeoutFired = r));
      const ticks = new Promise((r) => (ticked = r));
      let interval;
      let n = 0;
      const g = spawn(async () => {
        setTimeout(() => timeoutFired('timeout'), 30);
        interval = setInterval(() => { if (++n === 3) ticked('interval'); }, 10);
        await delay(60_000);
      });
      await sleep(5);
      await g.kill();
      // Were they cleared by the kill, these would never settle and the scenario would time out.
      const outcome = [await fired, await ticks];
      const beforeClear = getHub().stats().operations.timer;
      clearInterval(interval);
      report({ outcome, killed: g.value instanceof GreenletExit, beforeClear, afterClear: getHub().stats().operations.timer });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ outcome: ['timeout', 'interval'], killed: true, beforeClear: 1, afterClear: 0 });
  });

  it('a greenlet killed while awaiting a timer the kill cannot reach dies at once; its continuation is fenced', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      const steps = [];
      let resumed;
      const done = new Promise((r) => (resumed = r));
      const g = spawn(async () => {
        await new Promise((resolve) => setTimeout(() => resolve(), 200)); // a closure: not a resolve function
        steps.push('woke');
        try { await delay(0); steps.push('checkpoint passed'); } // a checkpoint
        catch (e) { steps.push(e instanceof GreenletExit ? 'kill raised at the checkpoint' : String(e)); }
        finally { resumed(); }
      });
      await sleep(5);
      const t = performance.now();
      await g.kill();
      const killMs = since(t);
      const dead = g.dead;
      const abandoned = getHub().stats().abandoned.running;
      await done;
      await sleep(0);
      report({ steps, killMs, dead, abandoned, after: getHub().stats().abandoned.running, killed: g.value instanceof GreenletExit });
    `);
    expect(code).toBe(0);
    expect(result).toMatchObject({
      steps: ['woke', 'kill raised at the checkpoint'],
      dead: true,
      abandoned: 1,
      after: 0,
      killed: true,
    });
    expect((result as { killMs: number }).killMs).toBeLessThan(150); // it did not wait for the 200 ms timer
  });

  it("an unref'd timer started in a greenlet is background work: a kill leaves it alone", async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      import { Event } from 'greenhub';
      const fired = [];
      const keepAlive = setTimeout(() => {}, 200);
      const armed = new Event();
      const g = spawn(async () => {
        setTimeout(() => fired.push('background'), 30).unref();
        armed.set();
        await delay(60_000);
      });
      // Not sleep(5): on a loaded machine that timer can fire before the greenlet first ran.
      await armed.wait();
      await g.kill();
      await new Promise((r) => setTimeout(r, 60));
      clearTimeout(keepAlive);
      report({ fired });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ fired: ['background'] });
  });

  it('withTimeout() gets its own Timeout from a promise timer, and a caught Timeout does not poison the next operation', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { setTimeout as delay } from 'node:timers/promises';
      const g = spawn(async () => {
        let first;
        try { await withTimeout(20, () => delay(10_000)); } catch (e) { first = e instanceof Timeout; }
        const value = await delay(5, 'next');
        const fallback = await withTimeout(10, () => delay(10_000), { fallback: 'fallback' });
        return { first, value, fallback };
      });
      report(await g.get());
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ first: true, value: 'next', fallback: 'fallback' });
  });

  it('util.promisify(setTimeout), timers/promises.setImmediate and setInterval are cancellable too', async () => {
    const { code, result } = await scenario(`${PATCHED}
      import { promisify } from 'node:util';
      import { setImmediate as immediate, setInterval as every } from 'node:timers/promises';
      const outcomes = [];
      for (const body of [
        () => promisify(setTimeout)(60_000),
        async () => { for await (const _ of every(60_000)) outcomes.push('tick'); },
        async () => { for (;;) await immediate(); },
      ]) {
        const g = spawn(body);
        await sleep(5);
        await g.kill();
        outcomes.push(g.value instanceof GreenletExit);
      }
      report({ outcomes, timers: getHub().stats().operations.timer });
    `);
    expect(code).toBe(0);
    expect(result).toEqual({ outcomes: [true, true, true], timers: 0 });
  });

  it('run info and hub stats account pending timers to their greenlet; every way of clearing ends them', async () => {
    const { code, result } = await scenario(`${PATCHED}
      const counts = [];
      const g = spawn(async () => {
        const a = setTimeout(() => {}, 1000);
        const b = setTimeout(() => {}, 1000);
        const c = setInterval(() => {}, 1000);
        const d = setTimeout(() => {}, 1000);
        const e = setTimeout(() => {}, 5);
        counts.push(getHub().stats().operations.timer);
        counts.push(getHub().formatRunInfo().includes('awaiting timer ×5'));
        clearTimeout(a);
        b.close();
        clearInterval(c);
        clearTimeout(+d); // by numeric id
        await sleep(20); // e fired
        counts.push(getHub().stats().operations.timer);
      });
      await g.join();
      report(counts);
    `);
    expect(code).toBe(0);
    expect(result).toEqual([5, true, 0]);
  });

  it('outside any greenlet, timers behave as the originals: handles, this, arguments, order', async () => {
    const program = `
      const seen = [];
      const h = setTimeout(function (a, b) { seen.push(['timeout', a, b, this === h]); }, 20, 'x', 'y');
      setTimeout(() => seen.push(['zero']), 0);
      const i = setInterval(() => { seen.push(['interval']); clearInterval(i); }, 1);
      const cleared = setTimeout(() => seen.push(['cleared']), 1);
      clearTimeout(cleared);
      seen.push(['types', typeof h.ref, typeof h.hasRef, typeof h.refresh, typeof +h]);
      await new Promise((r) => setTimeout(r, 40));
      report(seen);
    `;
    const [plain, patched] = await Promise.all([
      scenario(program),
      scenario(`import { patchAll } from 'greenhub/patch'; patchAll({ signal: false });\n${program}`),
    ]);
    expect(patched.code).toBe(0);
    expect(patched.result).toEqual(plain.result);
  });

  it('in a greenlet, timers/promises resolves, rejects and validates as the originals do', async () => {
    const program = (wrap: string) => `
      import { setTimeout as delay, setImmediate as immediate } from 'node:timers/promises';
      const settled = (p) => p.then((v) => ['ok', v], (e) => ['error', e.code ?? e.name]);
      const outcomes = () => Promise.all([
        settled(delay()), settled(delay(1)), settled(delay(1, 'v')), settled(delay(1, 'v', {})),
        settled(delay('1')), settled(delay(1, 'v', null)), settled(delay(1, 'v', { ref: 'no' })),
        settled(immediate()), settled(immediate('v')), settled(immediate('v', 1)),
      ]);
      report(await ${wrap});
    `;
    const [plain, patched] = await Promise.all([
      scenario(program('outcomes()')),
      scenario(`${PATCHED}\n${program('spawn(outcomes).get()')}`),
    ]);
    expect(patched.code).toBe(0);
    expect(patched.result).toEqual(plain.result);
    expect(plain.result).toContainEqual(['error', 'ERR_INVALID_ARG_TYPE']);
  });
});
