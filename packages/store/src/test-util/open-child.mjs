// Child process for the read-only test: tries to open a database for writing (and for reading) and prints
// the outcome as one JSON line. Spawned as an unprivileged user when the tests run as root.
import { openReader, openStore } from '../../dist/index.js';

const [path, mode] = process.argv.slice(2);
try {
  if (mode === 'read') {
    const r = openReader(path);
    const runs = r.listRuns().length;
    r.close();
    console.log(JSON.stringify({ ok: true, runs }));
  } else {
    const store = openStore(path);
    await store.close();
    console.log(JSON.stringify({ ok: true }));
  }
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }));
}
