// Typed task references. The `@ts-expect-error` lines are the specification: `npm run typecheck`
// (tsc over test/) fails if any of them compiles, i.e. if a wrong export name were accepted.
import { type TaskRef, task } from 'greenhub/threadpool';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { TASKS } from './helpers.js';

type Tasks = typeof import('./fixtures/tasks.mjs');

describe('task() types', () => {
  it('with the function’s type: arguments checked, result inferred', () => {
    const add = task<Tasks['add']>(TASKS, 'add');
    expectTypeOf(add).toEqualTypeOf<TaskRef<(a: number, b: number) => number>>();
    expect(add.exportName).toBe('add');
  });

  it('with the module’s type: the export name is checked against the module’s functions', () => {
    const add = task<Tasks, 'add'>(TASKS, 'add');
    expectTypeOf(add).toEqualTypeOf<TaskRef<(a: number, b: number) => number>>();
    const anyOf = task<Tasks>(TASKS, 'later'); // without the name as a type: any of its functions
    expectTypeOf(anyOf).toExtend<TaskRef<(...args: never[]) => unknown>>();
    expect(anyOf.label).toBe('later (tasks.mjs)');
    // @ts-expect-error: the module exports no `ad`
    expect(() => task<Tasks>(TASKS, 'ad')).not.toThrow(); // a wrong name fails only at its first run
    // @ts-expect-error: the name given as a type must be one of the module's functions too
    task<Tasks, 'ad'>(TASKS, 'ad');
    // @ts-expect-error: the type and the name must agree
    task<Tasks, 'add'>(TASKS, 'echo');
  });
});
