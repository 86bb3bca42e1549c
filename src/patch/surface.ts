/**
 * What each patch replaces, as data: the `*_FUNCTIONS` lists the patch modules install their
 * wrappers on and `greenhub/patch` exports. Kept apart from the patch modules (and free of
 * imports) so that the preload's stand-ins (deferred.ts) can be placed without loading greenhub.
 *
 * It also holds the defaults the preload needs (the shutdown signals, the blocking limit).
 *
 * A list is keyed by where its functions live: a builtin module (`fs/promises`), `global`,
 * `Atomics`, or a prototype (`net.Socket.prototype`), which code reaches through instances and so
 * never copies early.
 */
import type { BlockingMode } from './blocking.js';
import type { PatchTarget } from './table.js';

/**
 * What `patchTimers()` replaces, per object.
 *
 * @example
 * ```ts
 * TIMER_FUNCTIONS['timers/promises']; // ['setTimeout', 'setImmediate', 'setInterval']
 * ```
 */
export const TIMER_FUNCTIONS = {
  global: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'],
  timers: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'],
  'timers/promises': ['setTimeout', 'setImmediate', 'setInterval'],
  Timeout: ['close', 'Symbol.dispose', 'Symbol.toPrimitive'],
} as const;

/**
 * What `patchFetch()` replaces.
 *
 * @example
 * ```ts
 * FETCH_FUNCTIONS['Response.prototype'].includes('json'); // true
 * ```
 */
export const FETCH_FUNCTIONS = {
  global: ['fetch'],
  'Response.prototype': ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'],
} as const;

/**
 * What `patchNet()` replaces.
 *
 * @example
 * ```ts
 * isObjectPatched(net.Socket.prototype, 'connect'); // true after patchNet()
 * ```
 */
export const NET_FUNCTIONS = { 'net.Socket.prototype': ['connect'] } as const;

/**
 * What the client half of `patchHttp()` replaces.
 *
 * @example
 * ```ts
 * HTTP_CLIENT_FUNCTIONS.https; // ['request', 'get']
 * ```
 */
export const HTTP_CLIENT_FUNCTIONS = { http: ['request', 'get'], https: ['request', 'get'] } as const;

/**
 * What the server half of `patchHttp()` replaces (defined on these prototypes).
 *
 * @example
 * ```ts
 * isObjectPatched(http.Server.prototype, 'emit'); // true after patchHttp()
 * ```
 */
export const HTTP_SERVER_FUNCTIONS = {
  'http.Server.prototype': ['emit'],
  'https.Server.prototype': ['emit'],
} as const;

/** The query functions of `dns`, `dns/promises` and their `Resolver`s. */
export const QUERIES = [
  'resolve',
  'resolve4',
  'resolve6',
  'resolveAny',
  'resolveCaa',
  'resolveCname',
  'resolveMx',
  'resolveNaptr',
  'resolveNs',
  'resolvePtr',
  'resolveSoa',
  'resolveSrv',
  'resolveTxt',
  'reverse',
] as const;

/**
 * What `patchDns()` replaces.
 *
 * @example
 * ```ts
 * DNS_FUNCTIONS['dns/promises'].includes('resolve4'); // true
 * ```
 */
export const DNS_FUNCTIONS = {
  dns: [...QUERIES, 'lookupService', 'setServers'],
  'dns/promises': [...QUERIES, 'lookup', 'lookupService', 'setServers'],
  'dns.Resolver.prototype': QUERIES,
  'dns/promises.Resolver.prototype': QUERIES,
} as const;

const PATH_FUNCTIONS = [
  'access',
  'appendFile',
  'chmod',
  'chown',
  'copyFile',
  'cp',
  'lchown',
  'link',
  'lstat',
  'lutimes',
  'mkdir',
  'mkdtemp',
  'opendir',
  'readdir',
  'readFile',
  'readlink',
  'realpath',
  'rename',
  'rm',
  'rmdir',
  'stat',
  'statfs',
  'symlink',
  'truncate',
  'unlink',
  'utimes',
  'writeFile',
] as const;

/**
 * What `patchFs()` replaces.
 *
 * @example
 * ```ts
 * FS_FUNCTIONS['fs/promises'].includes('readFile'); // true
 * ```
 */
export const FS_FUNCTIONS = {
  fs: PATH_FUNCTIONS,
  'fs/promises': [...PATH_FUNCTIONS, 'open'],
} as const;

/**
 * What `patchChildProcess()` replaces.
 *
 * @example
 * ```ts
 * CHILD_PROCESS_FUNCTIONS.child_process; // ['spawn', 'fork', 'exec', 'execFile']
 * ```
 */
export const CHILD_PROCESS_FUNCTIONS = {
  child_process: ['spawn', 'fork', 'exec', 'execFile'],
  /** Where every start ends: sets `detached` for a child started in a greenlet (see the module comment). */
  'ChildProcess.prototype': ['spawn'],
} as const;

/**
 * What `patchEvents()` replaces.
 *
 * @example
 * ```ts
 * EVENTS_FUNCTIONS.events; // ['once', 'on']
 * ```
 */
export const EVENTS_FUNCTIONS = { events: ['once', 'on'] } as const;

/**
 * What `patchStream()` replaces.
 *
 * @example
 * ```ts
 * STREAM_FUNCTIONS['stream/promises']; // ['pipeline', 'finished']
 * ```
 */
export const STREAM_FUNCTIONS = { 'stream/promises': ['pipeline', 'finished'] } as const;

/**
 * What `patchSignal()` replaces (besides installing the signal handlers).
 *
 * @example
 * ```ts
 * isObjectPatched(net.Server.prototype, 'listen'); // true after patchSignal()
 * ```
 */
export const SIGNAL_FUNCTIONS = { 'net.Server.prototype': ['listen'] } as const;

const FS_SYNC = [
  'accessSync',
  'appendFileSync',
  'chmodSync',
  'chownSync',
  'closeSync',
  'copyFileSync',
  'cpSync',
  'existsSync',
  'fchmodSync',
  'fchownSync',
  'fdatasyncSync',
  'fstatSync',
  'fsyncSync',
  'ftruncateSync',
  'futimesSync',
  'globSync',
  'lchownSync',
  'linkSync',
  'lstatSync',
  'lutimesSync',
  'mkdirSync',
  'mkdtempSync',
  'openSync',
  'opendirSync',
  'readdirSync',
  'readFileSync',
  'readlinkSync',
  'readSync',
  'readvSync',
  'realpathSync',
  'renameSync',
  'rmdirSync',
  'rmSync',
  'statfsSync',
  'statSync',
  'symlinkSync',
  'truncateSync',
  'unlinkSync',
  'utimesSync',
  'writeFileSync',
  'writeSync',
  'writevSync',
] as const;

/**
 * What `patchBlocking()` replaces.
 *
 * @example
 * ```ts
 * BLOCKING_FUNCTIONS.zlib.includes('gzipSync'); // true
 * ```
 */
export const BLOCKING_FUNCTIONS = {
  fs: FS_SYNC,
  child_process: ['execSync', 'execFileSync', 'spawnSync'],
  crypto: [
    'pbkdf2Sync',
    'scryptSync',
    'hkdfSync',
    'generateKeyPairSync',
    'generateKeySync',
    'generatePrimeSync',
    'checkPrimeSync',
    'randomFillSync',
  ],
  zlib: [
    'deflateSync',
    'inflateSync',
    'deflateRawSync',
    'inflateRawSync',
    'gzipSync',
    'gunzipSync',
    'unzipSync',
    'brotliCompressSync',
    'brotliDecompressSync',
  ],
  Atomics: ['wait'],
} as const;

/** The signals that start a graceful shutdown unless `signal.signals` says otherwise. */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** The blocking patch's mode and threshold until configured, and after `unpatchAll()`. */
export const BLOCKING_DEFAULTS = { mode: 'warn', maxBlockingTime: 100 } as const satisfies {
  mode: BlockingMode;
  maxBlockingTime: number;
};

/** The lists of each target whose functions live on a module object or a global. */
export const TARGET_SURFACES: Readonly<
  Partial<Record<PatchTarget, Readonly<Record<string, readonly string[]>>>>
> = {
  timers: TIMER_FUNCTIONS,
  fetch: FETCH_FUNCTIONS,
  http: HTTP_CLIENT_FUNCTIONS,
  dns: DNS_FUNCTIONS,
  fs: FS_FUNCTIONS,
  childProcess: CHILD_PROCESS_FUNCTIONS,
  events: EVENTS_FUNCTIONS,
  stream: STREAM_FUNCTIONS,
  blocking: BLOCKING_FUNCTIONS,
};
