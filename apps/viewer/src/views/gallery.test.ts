import { describe, expect, it } from 'vitest';
import { firstSentences } from './gallery';

describe('firstSentences', () => {
  it('keeps at most n sentences; a decimal point or an abbreviation inside a word ends none', () => {
    const text =
      'The loss falls to 0.03× the baseline. The jacobian reaches t = 0! Look at the flow map? More.';
    expect(firstSentences(text, 2)).toBe('The loss falls to 0.03× the baseline. The jacobian reaches t = 0!');
    expect(firstSentences(text, 4)).toBe(text);
    expect(firstSentences('One sentence', 2)).toBe('One sentence');
  });
});
