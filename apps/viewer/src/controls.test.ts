import { describe, expect, it } from 'vitest';
import { VIEW_LABELS, viewLabel } from './controls';
import { flowLabels, flowTabLabel } from './flow';

describe('view tab labels', () => {
  it('name the flow figure of the kind: gradients are a gradient flow, activations are not', () => {
    expect(viewLabel('flow', 'output-grad')).toBe('Gradient flow');
    expect(viewLabel('flow', 'input-grad')).toBe('Gradient flow');
    expect(viewLabel('flow', 'output')).toBe('Activation norms');
    expect(viewLabel('flow', 'output')).not.toMatch(/gradient/i);
  });

  it('come from the flow view’s own wording (its noun, the start of its title)', () => {
    for (const kind of ['output', 'output-grad', 'input-grad'] as const) {
      const { noun, title } = flowLabels(kind);
      expect(flowTabLabel(kind).toLowerCase()).toBe(noun);
      expect(title.toLowerCase().startsWith(noun)).toBe(true);
    }
  });

  it('leave the other views as they are whatever the kind', () => {
    for (const v of ['2d', '1d', '0d', 'dist', 'weights'] as const)
      for (const kind of ['output', 'output-grad'] as const) expect(viewLabel(v, kind)).toBe(VIEW_LABELS[v]);
  });
});
