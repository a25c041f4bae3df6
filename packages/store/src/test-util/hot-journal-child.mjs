// Leaves a hot journal behind, as a writer killed in the middle of a commit does: opens a gradscope file,
// rewrites every payload in one transaction with a page cache too small to hold it (so changed pages are
// written to the file before the commit, their old contents in the -journal), then SIGKILLs itself.
//   node hot-journal-child.mjs <db>
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]);
db.pragma('journal_mode = truncate');
db.pragma('cache_size = 4');
db.exec('BEGIN IMMEDIATE');
db.prepare('UPDATE payloads SET ipc = zeroblob(length(ipc))').run();
process.kill(process.pid, 'SIGKILL');
