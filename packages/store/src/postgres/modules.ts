// pg and pg-copy-streams, loaded on first use: a store or reader on a file, and the CLI on one, never load
// them (importing both took 60 ms of a process's start, measured, a fifth of importing the whole store).
import { createRequire } from 'node:module';
import type Pg from 'pg';
import type * as CopyStreams from 'pg-copy-streams';

const require = createRequire(import.meta.url);
let pg: typeof Pg | undefined;
let copyStreams: typeof CopyStreams | undefined;

/** The pg module (node-postgres). */
export function pgModule(): typeof Pg {
  pg ??= require('pg') as typeof Pg;
  return pg;
}

/** pg-copy-streams' `to`: a COPY … TO STDOUT as a readable stream. */
export function copyTo(text: string): CopyStreams.CopyToStreamQuery {
  copyStreams ??= require('pg-copy-streams') as typeof CopyStreams;
  return copyStreams.to(text);
}
