import { createHook } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Completion } from '../../src/greenlet/internal.js';
import { Event, Greenlet, GreenletExit, getCurrent, spawn } from '../../src/index.js';
import { captureErrors } from '../helpers.js';

afterEach(() => captureErrors.restore());

describe('a greenlet whose body returns a Completion (internal: the http server patch)', () => {
  it('lives until the Completion settles, then ends with its value', async () => {
    const completion = new Completion();
    const started = new Event();
    const g = spawn(() => {
      started.set();
      return completion;
    });
    await started.wait();
    expect(g.dead).toBe(false);
    expect(g.state).toBe('running');
    completion.settle(false, 42);
    expect(g.dead).toBe(true);
    expect(await g.get()).toBe(42);
  });

  it('fails with the reason of a failed settle, as a rejected body would', async () => {
    const completion = new Completion();
    const g = spawn(() => completion);
    await new Promise((resolve) => setImmediate(resolve));
    const error = new Error('handler failed');
    completion.settle(true, error);
    await expect(g.get()).rejects.toBe(error);
    expect(g.exception).toBe(error);
  });

  it('settled before the body returns it: the greenlet ends as the body returns', async () => {
    const g = spawn(() => {
      const completion = new Completion();
      completion.settle(false, 'early');
      return completion;
    });
    expect(await g.get()).toBe('early');
  });

  it('only the first settle counts', async () => {
    const completion = new Completion();
    const g = spawn(() => completion);
    await new Promise((resolve) => setImmediate(resolve));
    completion.settle(false, 'first');
    completion.settle(true, new Error('second'));
    expect(await g.get()).toBe('first');
  });

  it('is killable while it waits: the kill ends it, a later settle changes nothing', async () => {
    const completion = new Completion();
    const started = new Event();
    const g = new Greenlet(() => {
      started.set();
      return completion;
    });
    g.start();
    await started.wait();
    expect(g.dead).toBe(false);
    await g.kill({ exception: new GreenletExit('stop'), block: false });
    completion.settle(false, 'late');
    await g.join();
    expect(g.dead).toBe(true);
    expect(g.value).not.toBe('late');
  });

  it('makes no promise in the greenlet', async () => {
    let promises = 0;
    const completion = new Completion();
    const ready = new Event();
    let inside: unknown;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE' && getCurrent() === inside) promises++;
      },
    });
    const g = new Greenlet(() => {
      inside = getCurrent();
      hook.enable();
      return completion;
    });
    g.start();
    g.rawlink(() => ready.set());
    await new Promise((resolve) => setImmediate(resolve));
    expect(g.dead).toBe(false);
    completion.settle(false, undefined);
    hook.disable();
    await ready.wait();
    expect(inside).toBe(g);
    expect(promises).toBe(0);
  });
});
