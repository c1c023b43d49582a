import { DmnModdle } from 'dmn-moddle';
import { AppError } from '../errors.js';

/**
 * A DMN 1.3 resource reduced to what evaluation needs: plain, JSON-serialisable data, so a
 * parsed resource is cached per decision version and never walks moddle objects again.
 */
export type HitPolicy = 'UNIQUE' | 'FIRST' | 'PRIORITY' | 'ANY' | 'COLLECT' | 'RULE ORDER' | 'OUTPUT ORDER';
export type Aggregation = 'SUM' | 'MIN' | 'MAX' | 'COUNT';

export interface TableInput {
  id: string;
  label: string | null;
  /** The FEEL input expression (DMN `inputExpression/text`). */
  expression: string;
  typeRef: string | null;
  /** Camunda 7's `camunda:inputVariable`: the name the input value has in its rules' unary tests. @default 'cellInput' */
  inputVariable: string;
  /** The allowed values as FEEL unary tests (`inputValues/text`), if any. */
  allowedValues: string | null;
}

export interface TableOutput {
  id: string;
  name: string;
  label: string | null;
  typeRef: string | null;
  /** `outputValues/text`: the allowed values, which PRIORITY and OUTPUT ORDER rank by. */
  outputValues: string | null;
}

export interface TableRule {
  id: string;
  description: string | null;
  /** Unary tests, one per input; '' and '-' match anything. */
  inputEntries: Array<{ id: string; text: string }>;
  /** FEEL expressions, one per output; '' yields no entry. */
  outputEntries: Array<{ id: string; text: string }>;
}

export interface DecisionTable {
  kind: 'table';
  id: string;
  hitPolicy: HitPolicy;
  aggregation: Aggregation | null;
  inputs: TableInput[];
  outputs: TableOutput[];
  rules: TableRule[];
}

export interface LiteralExpression {
  kind: 'literal';
  id: string;
  text: string;
  /** The result's name: the decision's `variable/@name`, else its id. */
  variableName: string;
  typeRef: string | null;
}

export interface DecisionModel {
  /** The decision id: its key, versioned on deploy. */
  id: string;
  name: string | null;
  /** `versionTag` (Camunda 7's `camunda:versionTag`). */
  versionTag: string | null;
  /** Ids of the decisions this one requires (evaluated first, results in its context). */
  requiredDecisions: string[];
  /** Names of the input data elements it requires (declared inputs, when the DRG has them). */
  requiredInputs: string[];
  /** The name a requiring decision reads this one's result under (DMN `variable/@name`, else the name, else the id). */
  variableName: string;
  logic: DecisionTable | LiteralExpression | null;
}

export interface DecisionRequirements {
  /** The `definitions` id (Camunda 7's decision requirements definition key). */
  id: string;
  name: string | null;
  namespace: string | null;
  decisions: DecisionModel[];
  inputData: Array<{ id: string; name: string }>;
  /**
   * The variable names the DRG's expressions read (set at deploy by the worker): a business
   * rule task sends only these. Absent (older deploys) or null (not analysable): all variables.
   */
  variableNames?: string[] | null;
}

export const DMN13_NAMESPACE = 'https://www.omg.org/spec/DMN/20191111/MODEL/';
const OLDER_DMN = /http:\/\/www\.omg\.org\/spec\/DMN\/20151101\/dmn\.xsd|http:\/\/www\.omg\.org\/spec\/DMN\/20180521\/MODEL\//;
const HIT_POLICIES = new Set<HitPolicy>(['UNIQUE', 'FIRST', 'PRIORITY', 'ANY', 'COLLECT', 'RULE ORDER', 'OUTPUT ORDER']);
const AGGREGATIONS = new Set<Aggregation>(['SUM', 'MIN', 'MAX', 'COUNT']);

/** Thrown when a `.dmn` resource cannot be read as DMN 1.3 (code DMN_INVALID). */
export class DmnParseError extends AppError {
  constructor(resource: string, message: string, readonly element?: string) {
    super('INVALID_DEFINITION', `${resource}: ${element ? `${element}: ` : ''}${message}`, {
      details: { resource, errors: [{ element: element ?? null, rule: 'dmn-parse', message }] },
    });
  }
}

/**
 * Parses DMN 1.3 XML. Moddle warnings (unknown elements, duplicate ids, unresolved
 * references) are errors here, as they are for BPMN: a half-read table would decide wrongly.
 */
export async function parseDmn(resource: string, xml: string): Promise<DecisionRequirements> {
  if (OLDER_DMN.test(xml.slice(0, 4000))) {
    throw new DmnParseError(resource, 'DMN 1.1/1.2 is not supported: open and save it in the Camunda Modeler or dmn-js to migrate it to DMN 1.3');
  }
  const moddle = new DmnModdle();
  let parsed: { rootElement: any; warnings: Array<{ message: string; element?: { id?: string } }> };
  try {
    parsed = (await moddle.fromXML(xml, 'dmn:Definitions')) as any;
  } catch (error) {
    throw new DmnParseError(resource, `not DMN 1.3 XML: ${(error as Error).message}`);
  }
  if (parsed.warnings.length) {
    const first = parsed.warnings[0]!;
    throw new DmnParseError(resource, first.message.split('\n')[0]!, first.element?.id);
  }
  return compileDefinitions(resource, parsed.rootElement);
}

function text(value: any): string {
  return typeof value?.text === 'string' ? value.text.trim() : '';
}

function hrefId(reference: any): string | null {
  const href = String(reference?.href ?? '');
  const hash = href.lastIndexOf('#');
  return hash >= 0 ? href.slice(hash + 1) || null : null;
}

function compileDefinitions(resource: string, definitions: any): DecisionRequirements {
  const decisions: DecisionModel[] = [];
  const inputData: Array<{ id: string; name: string }> = [];
  for (const element of definitions.drgElement ?? []) {
    if (element.$type === 'dmn:InputData') inputData.push({ id: element.id, name: element.variable?.name ?? element.name ?? element.id });
  }
  const inputNames = new Map(inputData.map((input) => [input.id, input.name]));
  for (const element of definitions.drgElement ?? []) {
    if (element.$type !== 'dmn:Decision') continue;
    const requiredDecisions: string[] = [];
    const requiredInputs: string[] = [];
    for (const requirement of element.informationRequirement ?? []) {
      if (requirement.requiredDecision) {
        const id = hrefId(requirement.requiredDecision);
        if (!id) throw new DmnParseError(resource, 'a required decision has no href', element.id);
        requiredDecisions.push(id);
      }
      if (requirement.requiredInput) {
        const id = hrefId(requirement.requiredInput);
        const name = id ? inputNames.get(id) : undefined;
        if (!name) throw new DmnParseError(resource, `requires input data '${id}', which the DRG does not declare`, element.id);
        requiredInputs.push(name);
      }
    }
    decisions.push({
      id: element.id,
      name: element.name ?? null,
      versionTag: element.$attrs?.['camunda:versionTag'] ?? null,
      requiredDecisions,
      requiredInputs,
      variableName: element.variable?.name ?? element.name ?? element.id,
      logic: compileLogic(resource, element),
    });
  }
  const ids = new Set(decisions.map((decision) => decision.id));
  for (const decision of decisions) {
    for (const required of decision.requiredDecisions) {
      if (!ids.has(required)) throw new DmnParseError(resource, `requires decision '${required}', which this file does not define`, decision.id);
    }
  }
  return { id: definitions.id, name: definitions.name ?? null, namespace: definitions.namespace ?? null, decisions, inputData };
}

function compileLogic(resource: string, decision: any): DecisionTable | LiteralExpression | null {
  const logic = decision.decisionLogic;
  if (!logic) return null;
  const language = logic.expressionLanguage ?? logic.inputExpression?.expressionLanguage;
  if (language && !/feel/i.test(language)) {
    throw new DmnParseError(resource, `expression language '${language}' is not supported (FEEL only)`, logic.id ?? decision.id);
  }
  if (logic.$type === 'dmn:LiteralExpression') {
    return {
      kind: 'literal',
      id: logic.id ?? decision.id,
      text: text(logic),
      variableName: decision.variable?.name ?? decision.id,
      typeRef: decision.variable?.typeRef ?? logic.typeRef ?? null,
    };
  }
  if (logic.$type !== 'dmn:DecisionTable') {
    throw new DmnParseError(resource, `${String(logic.$type).replace('dmn:', '')} is not supported (decision tables and literal expressions are)`, decision.id);
  }
  const hitPolicy = (logic.hitPolicy ?? 'UNIQUE') as HitPolicy;
  if (!HIT_POLICIES.has(hitPolicy)) throw new DmnParseError(resource, `unknown hit policy '${hitPolicy}'`, logic.id);
  const aggregation = logic.aggregation ? (String(logic.aggregation) as Aggregation) : null;
  if (aggregation && !AGGREGATIONS.has(aggregation)) throw new DmnParseError(resource, `unknown aggregation '${aggregation}'`, logic.id);
  if (aggregation && hitPolicy !== 'COLLECT') throw new DmnParseError(resource, `aggregation ${aggregation} needs hit policy COLLECT`, logic.id);
  const inputs: TableInput[] = (logic.input ?? []).map((input: any) => {
    for (const part of [input.inputExpression, input]) {
      const inputLanguage = part?.expressionLanguage;
      if (inputLanguage && !/feel/i.test(inputLanguage)) {
        throw new DmnParseError(resource, `expression language '${inputLanguage}' is not supported (FEEL only)`, input.id);
      }
    }
    return {
      id: input.id,
      label: input.label ?? null,
      expression: text(input.inputExpression),
      typeRef: input.inputExpression?.typeRef ?? null,
      inputVariable: input.$attrs?.['camunda:inputVariable'] || 'cellInput',
      allowedValues: text(input.inputValues) || null,
    };
  });
  const outputs: TableOutput[] = (logic.output ?? []).map((output: any) => ({
    id: output.id,
    // A single unnamed output still needs a result name: Camunda 7 would use null; its id is kinder.
    name: output.name ?? (logic.output.length === 1 ? (decision.variable?.name ?? output.id) : ''),
    label: output.label ?? null,
    typeRef: output.typeRef ?? null,
    outputValues: text(output.outputValues) || null,
  }));
  for (const output of outputs) if (!output.name) throw new DmnParseError(resource, 'an output of a table with several outputs needs a name', output.id);
  const rules: TableRule[] = (logic.rule ?? []).map((rule: any) => ({
    id: rule.id,
    description: rule.description ?? null,
    inputEntries: (rule.inputEntry ?? []).map((entry: any) => ({ id: entry.id, text: text(entry) })),
    outputEntries: (rule.outputEntry ?? []).map((entry: any) => ({ id: entry.id, text: text(entry) })),
  }));
  for (const rule of rules) {
    if (rule.inputEntries.length !== inputs.length) {
      throw new DmnParseError(resource, `has ${rule.inputEntries.length} input entries for ${inputs.length} inputs`, rule.id);
    }
    if (rule.outputEntries.length !== outputs.length) {
      throw new DmnParseError(resource, `has ${rule.outputEntries.length} output entries for ${outputs.length} outputs`, rule.id);
    }
  }
  if (!outputs.length) throw new DmnParseError(resource, 'a decision table needs at least one output', logic.id);
  if (aggregation && outputs.length !== 1) throw new DmnParseError(resource, `aggregation ${aggregation} needs exactly one output`, logic.id);
  return { kind: 'table', id: logic.id ?? decision.id, hitPolicy, aggregation, inputs, outputs, rules };
}
