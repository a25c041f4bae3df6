// Layers matched by role across runs: the first recurrent layer of an LSTM run is the first recurrent layer of
// a GRU run, whatever Keras named them (lstm_1, gru_3, …). Pure.
import type { LayerSummary } from '@gradscope/format';

const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN', 'RNN', 'Bidirectional', 'ConvLSTM2D']);

/** A layer's role: 'recurrent:0' for the first recurrent layer, 'Dense:1' for the second Dense one, … */
export interface LayerRole {
  role: string;
  /** "recurrent layer 1", "Dense layer 2". */
  label: string;
}

export function isRecurrent(className: string): boolean {
  return RECURRENT.has(className);
}

/**
 * The role of every recorded layer of a run, in model order: recurrent layers are counted together
 * (whatever their cell), the others per class. Layers without snapshots are left out.
 */
export function layerRoles(
  model: readonly Pick<LayerSummary, 'index' | 'name' | 'className'>[],
  recorded: readonly string[],
): Map<string, LayerRole> {
  const have = new Set(recorded);
  const counts = new Map<string, number>();
  const out = new Map<string, LayerRole>();
  for (const l of [...model].sort((a, b) => a.index - b.index)) {
    if (!have.has(l.name)) continue;
    const group = isRecurrent(l.className) ? 'recurrent' : l.className;
    const k = counts.get(group) ?? 0;
    counts.set(group, k + 1);
    out.set(l.name, { role: `${group}:${k}`, label: `${group} layer ${k + 1}` });
  }
  // Recorded layers the model summary does not list (should not happen): a role of their own.
  for (const name of recorded) if (!out.has(name)) out.set(name, { role: `name:${name}`, label: name });
  return out;
}

export interface RunLayers {
  model: readonly Pick<LayerSummary, 'index' | 'name' | 'className'>[];
  recorded: readonly string[];
}

export interface LayerMatch {
  role: string;
  label: string;
  /** The layer of each run playing that role (null: the run has none). */
  names: (string | null)[];
}

/** Every role any run has, in order of first appearance (first run first), with their labels. */
export function rolesOf(runs: readonly RunLayers[]): LayerRole[] {
  const seen = new Map<string, LayerRole>();
  for (const r of runs)
    for (const role of layerRoles(r.model, r.recorded).values())
      if (!seen.has(role.role)) seen.set(role.role, role);
  const rank = (role: string) => (role.startsWith('recurrent:') ? 0 : 1);
  return [...seen.values()].sort((a, b) => rank(a.role) - rank(b.role));
}

/**
 * The layer of each run to compare. `wanted` is a layer name (of any of the runs) or a role ('recurrent:1');
 * its role is looked up in the first run that has it, and each run contributes its layer of that role (the
 * same name when it has one of that role). Without `wanted`, or when no run knows it, the first recurrent
 * layer (else the first recorded layer of the first run); `unknown` says the wanted one was not found.
 */
export function matchLayers(
  runs: readonly RunLayers[],
  wanted: string | null,
): LayerMatch & { unknown: boolean } {
  const roles = runs.map((r) => layerRoles(r.model, r.recorded));
  let role: LayerRole | undefined;
  if (wanted !== null) {
    for (const m of roles) {
      role = m.get(wanted) ?? [...m.values()].find((x) => x.role === wanted);
      if (role) break;
    }
  }
  const unknown = wanted !== null && role === undefined;
  if (!role) {
    const all = rolesOf(runs);
    role = all.find((x) => x.role === 'recurrent:0') ?? all[0];
  }
  if (!role) return { role: '', label: '', names: runs.map(() => null), unknown };
  const r = role;
  const names = roles.map((m) => {
    if (wanted !== null && m.get(wanted)?.role === r.role) return wanted;
    for (const [name, x] of m) if (x.role === r.role) return name;
    return null;
  });
  return { role: r.role, label: r.label, names, unknown };
}

type ShapeSummary = Pick<LayerSummary, 'index' | 'name' | 'className' | 'outputShape' | 'returnSequences'>;

function rank(shape: LayerSummary['outputShape'] | undefined): number {
  if (!shape || shape.length === 0) return 0;
  // A multi-output layer lists one shape per output: the first decides.
  return Array.isArray(shape[0]) ? (shape[0] as unknown[]).length : shape.length;
}

/**
 * Whether a layer's snapshots of `kind` have a timestep axis (so the flow route can answer for them), from the
 * model summary: outputs (and their gradients) when the output is a sequence; the input gradient when the
 * layer is recurrent (it reads a sequence) or the layer before it outputs one; the jacobian likewise.
 */
export function hasTimeAxis(model: readonly ShapeSummary[], layer: string, kind: string): boolean {
  const sorted = [...model].sort((a, b) => a.index - b.index);
  const i = sorted.findIndex((l) => l.name === layer);
  const l = sorted[i];
  if (!l) return true; // unknown: let the server say
  // The jacobian ∂h_T/∂x_t is over the input's timesteps, like the input gradient, whatever the output.
  if (kind === 'input-grad' || kind === 'jacobian')
    return isRecurrent(l.className) || (i > 0 && rank(sorted[i - 1]!.outputShape) >= 3);
  if (l.returnSequences === false) return false;
  return rank(l.outputShape) >= 3;
}
