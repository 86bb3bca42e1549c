/**
 * The hub's default thread pool (`getHub().threadpool`): installed here rather than imported by the
 * hub, so that `greenhub` reaches the pool through its index and the hub module stays free of it.
 */
import { defaultPool } from '../greenlet/hub.js';
import { ThreadPool } from './pool.js';

defaultPool.create = () => new ThreadPool({ name: 'default' });
defaultPool.isPool = (value: unknown): value is ThreadPool => value instanceof ThreadPool;
