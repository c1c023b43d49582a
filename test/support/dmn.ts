/** Builds small DMN 1.3 documents for tests: one decision table (or literal) per decision. */
export interface TableSpec {
  id: string;
  name?: string;
  hitPolicy?: string;
  aggregation?: string;
  inputs: Array<{ expression: string; typeRef?: string; inputVariable?: string }>;
  outputs: Array<{ name: string; typeRef?: string; values?: string }>;
  rules: Array<[inputs: string[], outputs: string[]]>;
  requires?: string[];
  requiredInputs?: string[];
}
export interface LiteralSpec {
  id: string;
  literal: string;
  variable?: string;
  typeRef?: string;
  requires?: string[];
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function dmn(decisions: Array<TableSpec | LiteralSpec>, options: { id?: string; inputData?: string[] } = {}): string {
  const body = decisions
    .map((decision) => {
      const requirements = [
        ...(decision.requires ?? []).map((id, n) => `<informationRequirement id="ir_${decision.id}_${n}"><requiredDecision href="#${id}" /></informationRequirement>`),
        ...('requiredInputs' in decision ? (decision.requiredInputs ?? []) : []).map(
          (id, n) => `<informationRequirement id="iri_${decision.id}_${n}"><requiredInput href="#${id}" /></informationRequirement>`,
        ),
      ].join('');
      if ('literal' in decision) {
        return `<decision id="${decision.id}" name="${decision.id}">${requirements}<variable id="var_${decision.id}" name="${decision.variable ?? decision.id}"${decision.typeRef ? ` typeRef="${decision.typeRef}"` : ''} /><literalExpression id="lit_${decision.id}"><text>${escape(decision.literal)}</text></literalExpression></decision>`;
      }
      const attributes = `${decision.hitPolicy ? ` hitPolicy="${decision.hitPolicy}"` : ''}${decision.aggregation ? ` aggregation="${decision.aggregation}"` : ''}`;
      const inputs = decision.inputs
        .map(
          (input, n) =>
            `<input id="in_${decision.id}_${n}" label="${escape(input.expression)}"${input.inputVariable ? ` camunda:inputVariable="${input.inputVariable}"` : ''}><inputExpression id="ie_${decision.id}_${n}"${input.typeRef ? ` typeRef="${input.typeRef}"` : ''}><text>${escape(input.expression)}</text></inputExpression></input>`,
        )
        .join('');
      const outputs = decision.outputs
        .map(
          (output, n) =>
            `<output id="out_${decision.id}_${n}" name="${output.name}"${output.typeRef ? ` typeRef="${output.typeRef}"` : ''}>${output.values ? `<outputValues id="ov_${decision.id}_${n}"><text>${escape(output.values)}</text></outputValues>` : ''}</output>`,
        )
        .join('');
      const rules = decision.rules
        .map(
          ([ins, outs], r) =>
            `<rule id="${decision.id}_r${r + 1}">${ins.map((text, n) => `<inputEntry id="${decision.id}_r${r + 1}_i${n}"><text>${escape(text)}</text></inputEntry>`).join('')}${outs
              .map((text, n) => `<outputEntry id="${decision.id}_r${r + 1}_o${n}"><text>${escape(text)}</text></outputEntry>`)
              .join('')}</rule>`,
        )
        .join('');
      return `<decision id="${decision.id}" name="${decision.name ?? decision.id}">${requirements}<decisionTable id="table_${decision.id}"${attributes}>${inputs}${outputs}${rules}</decisionTable></decision>`;
    })
    .join('\n');
  const inputData = (options.inputData ?? []).map((name) => `<inputData id="${name}" name="${name}"><variable id="v_${name}" name="${name}" /></inputData>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn" id="${options.id ?? 'drg'}" name="test" namespace="http://regenflow.dev/test">
${body}
${inputData}
</definitions>`;
}
