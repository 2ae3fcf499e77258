import type { AlarmState } from '../alarmState.js';
import { type ExpressionNode, type SubExpression } from '../expression/alarmExpression.js';
import { parseAlarmExpression } from '../expression/parseAlarmExpression.js';
import type { AlarmDefinitionRecord } from '../store/alarmStore.js';
import { fail, ok, type Checked } from '../../core/outcome.js';

/**
 * A stored definition made ready for the stream: its expression parsed once, its
 * sub-expressions numbered in Monasca's order, and a tree over those numbers.
 */

export type StateTree = { readonly kind: 'sub'; readonly index: number } | { readonly kind: 'and' | 'or'; readonly operands: readonly StateTree[] };

export interface CompiledDefinition {
  readonly record: AlarmDefinitionRecord;
  readonly subs: readonly SubExpression[];
  readonly tree: StateTree;
}

export function compileDefinition(record: AlarmDefinitionRecord): Checked<CompiledDefinition> {
  // The grammar's rules: the API refuses periods that are not multiples of 60 on the way in, but the
  // file's single-threshold form allowed any period, and windows work for any period.
  const parsed = parseAlarmExpression(record.expression, { rules: 'grammar' });
  if (!parsed.ok) return fail(`definition ${record.id}: ${parsed.error}`);
  const subs: SubExpression[] = [];
  const tree = number(parsed.value, subs);
  return ok({ record, subs, tree });
}

function number(node: ExpressionNode, subs: SubExpression[]): StateTree {
  if (node.kind === 'sub') {
    subs.push(node.sub);
    return { kind: 'sub', index: subs.length - 1 };
  }
  return { kind: node.kind, operands: node.operands.map((operand) => number(operand, subs)) };
}

/**
 * The alarm's state from its sub-alarms' states, in three-valued logic: ALARM is true, OK is
 * false, UNDETERMINED is unknown. `a and b` is OK as soon as one side is OK; `a or b` is
 * ALARM as soon as one side is ALARM; otherwise an UNDETERMINED side makes it
 * UNDETERMINED. (monasca-thresh's first versions made any UNDETERMINED sub-alarm make the
 * whole alarm UNDETERMINED; a decided `or` side is enough to know.)
 */
export function combineStates(tree: StateTree, states: readonly AlarmState[]): AlarmState {
  if (tree.kind === 'sub') return states[tree.index] ?? 'UNDETERMINED';
  const decisive: AlarmState = tree.kind === 'and' ? 'OK' : 'ALARM';
  let unknown = false;
  for (const operand of tree.operands) {
    const state = combineStates(operand, states);
    if (state === decisive) return decisive;
    if (state === 'UNDETERMINED') unknown = true;
  }
  if (unknown) return 'UNDETERMINED';
  return tree.kind === 'and' ? 'ALARM' : 'OK';
}
