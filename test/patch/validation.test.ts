// Bad input is refused before anything is patched, so these run in the test process itself.
import { describe, expect, it } from 'vitest';
import { parsePatchEnv } from '../../src/patch/env.js';
import {
  getOriginal,
  isModulePatched,
  isObjectPatched,
  onBlockingCall,
  onShutdown,
  patchAll,
  patchBlocking,
  patchHttp,
  patchSignal,
  shutdown,
} from '../../src/patch/index.js';

describe('patch options are checked, with messages that name the argument', () => {
  it.each([
    [
      () => patchAll({ blocking: 'loud' as never }),
      RangeError,
      "expected `opts.blocking` to be 'warn', 'count', 'throw' or false",
    ],
    [() => patchAll({ blocking: 1 as never }), TypeError, 'expected `opts.blocking`'],
    [() => patchAll({ timerz: true } as never), TypeError, 'unknown option `opts.timerz`'],
    [
      () => patchAll({ fs: 'yes' as never }),
      TypeError,
      'expected `opts.fs` to be a boolean, got `"yes"` (string)',
    ],
    [() => patchAll({ maxBlockingTime: -1 }), RangeError, 'expected `opts.maxBlockingTime`'],
    [
      () => patchAll({ http: { maxConcurrency: 0 } }),
      RangeError,
      'expected `opts.http.maxConcurrency` to be a positive integer',
    ],
    [
      () => patchAll({ http: { cancelOnDisconnect: 'yes' as never } }),
      TypeError,
      'expected `opts.http.cancelOnDisconnect` to be a boolean, got `"yes"` (string)',
    ],
    [
      () => patchAll({ http: { requestTimout: 5 } as never }),
      TypeError,
      'unknown option `opts.http.requestTimout`',
    ],
    [
      () => patchAll({ signal: { gracePeriod: Number.NaN } }),
      RangeError,
      'expected `opts.signal.gracePeriod`',
    ],
    [() => patchHttp({ name: 'GET' as never }), TypeError, 'expected `opts.name` to be a function'],
    [
      () => patchSignal({ signals: ['SIGNOPE' as never] }),
      RangeError,
      'expected `opts.signals` to be signal names',
    ],
    [
      () => patchBlocking({ mode: false as never }),
      RangeError,
      "expected `opts.mode` to be 'warn', 'count' or 'throw'",
    ],
    [
      () => isModulePatched(5 as never),
      TypeError,
      'isModulePatched(): expected `name` to be a string, got `5` (number)',
    ],
    [
      () => isObjectPatched(null as never, 'x'),
      TypeError,
      'expected `module` to be a builtin module name or an object',
    ],
    [
      () => getOriginal('no-such-module', 'x'),
      RangeError,
      'expected `module` to be a builtin module name or an object, got `"no-such-module"`',
    ],
    [() => getOriginal('fs', 42 as never), TypeError, 'expected `attr` to be a property name'],
    [() => onShutdown('close' as never), TypeError, 'onShutdown(): expected `hook` to be a function'],
    [
      () => onBlockingCall(undefined as never),
      TypeError,
      'onBlockingCall(): expected `listener` to be a function',
    ],
    [() => shutdown({ exit: 'no' as never }), TypeError, 'shutdown(): expected `opts.exit` to be a boolean'],
  ])('%#: refused with the expected error', (call, type, message) => {
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it('nothing was patched by the refused calls', () => {
    expect(['timers', 'fs', 'http', 'signal', 'blocking'].map(isModulePatched)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('isModulePatched answers false for names it does not know, as gevent does', () => {
    expect(isModulePatched('left-pad')).toBe(false);
  });
});

describe('GREENHUB_PATCH format', () => {
  it('unset or empty: the defaults; off, 0, false, none: nothing', () => {
    expect(parsePatchEnv(undefined)).toEqual({});
    expect(parsePatchEnv('  ')).toEqual({});
    for (const off of ['off', '0', 'false', 'none', 'OFF']) expect(parsePatchEnv(off)).toBeNull();
  });

  it('a comma-separated list: -target, target=value, group.option=value, numbers and booleans', () => {
    expect(
      parsePatchEnv(
        '-signal, fs, blocking=throw, maxBlockingTime=50, http.requestTimeout=30000, http.maxConcurrency=64, signal.signals=SIGTERM|SIGHUP, dns=false',
      ),
    ).toEqual({
      signal: { signals: ['SIGTERM', 'SIGHUP'] },
      fs: true,
      blocking: 'throw',
      maxBlockingTime: 50,
      http: { requestTimeout: 30_000, maxConcurrency: 64 },
      dns: false,
    });
    expect(parsePatchEnv('blocking=false')).toEqual({ blocking: false });
  });

  it('a JSON object is taken as it is; other JSON is refused', () => {
    expect(parsePatchEnv('{"blocking":"count","http":{"maxConcurrency":8}}')).toEqual({
      blocking: 'count',
      http: { maxConcurrency: 8 },
    });
    expect(() => parsePatchEnv('{nope')).toThrow('GREENHUB_PATCH: not valid JSON');
  });
});
