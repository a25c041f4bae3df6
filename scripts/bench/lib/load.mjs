// A small HTTP load generator for the benches, run in its own process: `connections` keep-alive
// connections loop GET requests for `duration` seconds, discarding bodies, timing each request.
// (autocannon parses bodies in JS and tops out near 40 MB/s here, which hides the server on 8 MB tensors.)
// `sequential`: one client's GETs one after another, for a route's latency on its own; `interleaved`: the
// GETs of several URLs taking turns, for a comparison.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function generate({ url, connections, duration, headers = {} }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let bytes = 0;
  let errors = 0;
  const until = performance.now() + duration * 1000;
  const one = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      http
        .get(url, { agent, headers }, (res) => {
          if (res.statusCode !== 200) errors++;
          res.on('data', (chunk) => {
            bytes += chunk.length;
          });
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            resolve();
          });
        })
        .on('error', () => {
          errors++;
          resolve();
        });
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    bytesPerSecond: bytes / seconds,
    requestsPerSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/**
 * `n` sequential GETs of `url` from this process after one warm-up (a status other than 200 throws): their
 * median and p90 ms, and the body's bytes.
 */
export async function sequential(url, n) {
  return (await interleaved([url], n))[0];
}

/**
 * `n` GETs of each URL, taking turns (a, b, a, b, …), so that a comparison of two servers is not skewed by
 * the machine's load drifting between them: per URL, as `sequential`.
 */
export async function interleaved(urls, n) {
  const bytes = [];
  for (const url of urls) {
    const first = await fetch(url);
    if (first.status !== 200) throw new Error(`${url}: HTTP ${first.status} ${await first.text()}`);
    bytes.push((await first.arrayBuffer()).byteLength);
  }
  const times = urls.map(() => []);
  for (let i = 0; i < n; i++) {
    for (const [k, url] of urls.entries()) {
      const t0 = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      times[k].push(performance.now() - t0);
    }
  }
  return times.map((t, k) => {
    t.sort((x, y) => x - y);
    return { median: t[Math.floor(n / 2)], p90: t[Math.floor(n * 0.9)], bytes: bytes[k] };
  });
}

/** Runs the load in a child process (the other core) and resolves with its figures. */
export function load(options) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', resolve);
    child.on('error', reject);
    child.on('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const result = await generate(JSON.parse(process.argv[2]));
  process.send(result, () => process.exit(0));
}
