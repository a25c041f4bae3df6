// A small HTTP load generator for the benches, run in its own process: `connections` keep-alive
// connections loop GET requests for `duration` seconds, discarding bodies, timing each request.
// (autocannon parses bodies in JS and tops out near 40 MB/s here, which hides the server on 8 MB tensors.)
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
