// A greenlet waits on an Event that nobody will ever set. What does the program do?
// Plain Node: the event loop runs dry and the process just exits, status 0, saying nothing.
// greenhub: the wait fails with LoopExit, which says who waits on what, since when; the process
// exits non-zero with that diagnostic.
import { execFileSync } from 'node:child_process';

/**
 * @param {string} label
 * @param {string} source
 */
function run(label, source) {
  console.log(`--- ${label} ---`);
  let status = 0;
  let output;
  try {
    output = execFileSync(process.execPath, ['--input-type=module', '-e', source], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (e) {
    const error = /** @type {{ status: number, stdout: string, stderr: string }} */ (e);
    status = error.status;
    output = `${error.stdout}${error.stderr}`;
  }
  console.log(output.trim() || '(no output)');
  console.log(`exit status: ${status}\n`);
}

run(
  'plain Node: an async task awaits a promise nobody resolves',
  `
  const nobodySetsThis = new Promise(() => {});
  (async function consumer() {
    await nobodySetsThis;
    console.log('never printed');
  })();
  `,
);

run(
  'greenhub: a greenlet waits on an Event nobody sets',
  `
  import { Event, spawn } from 'greenhub';
  const nobodySetsThis = new Event();
  const consumer = spawn(async () => {
    await nobodySetsThis.wait();
    console.log('never printed');
  });
  consumer.name = 'consumer';
  `,
);
