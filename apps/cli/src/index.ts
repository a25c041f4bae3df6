// The command line's parts for programs built on it (apps/demo): the run of a program with its one-line
// errors, the server with the viewer, and the doctor's table. The `gradscope` binary is main.ts.
export { doctorTable } from './commands/doctor.js';
export { openUrl, parsePort, startServer } from './commands/serve.js';
export { UserError, type UserErrorCode } from './errors.js';
export { buildProgram, runProgram, VERSION } from './program.js';
