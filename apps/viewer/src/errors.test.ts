import { describe, expect, it } from 'vitest';
import { userMessage } from './errors';

describe('errors shown to users (issue 12, item 5)', () => {
  it('never contain a server path', () => {
    const raw = new Error(
      '/tmp/gradscope-viewer-e2e-aaaPwc/runs.gradscope: snapshot 12 of run 7f3c2a9e has no timestep axis (400)',
    );
    const shown = userMessage(raw);
    expect(shown).not.toContain('/tmp');
    expect(shown).not.toContain('runs.gradscope');
    expect(shown).toContain('has no timestep axis (400)');
    expect(userMessage('C:\\Users\\me\\runs.gradscope: locked')).toBe('…: locked');
    // a run name with one slash is not a path
    expect(userMessage(new Error('no run "ex1/a" on this server'))).toBe('no run "ex1/a" on this server');
  });
});
