// The benchmark's two kinds of work, identical for every server (the gevent app mirrors them):
// /io waits IO_DELAY_MS (a timer standing in for an upstream call); /cpu runs cpuWork() for the
// iteration count harness.js's calibrate() finds once per benchmark run (about 20 ms of CPU time).
// They are the demo's own functions (src/cli/demo/work.ts, built: `npm run bench:http` builds first), so the
// greenhub servers and the plain ones run the very same code.
export { cpuWork, IO_DELAY_MS } from '../../../dist/cli/demo/work.js';
