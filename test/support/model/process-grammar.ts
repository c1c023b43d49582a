/**
 * A small process grammar for the model test: sequences of user, external and inline service
 * tasks, timers, message catches, exclusive and parallel gateways, embedded sub-processes and
 * external tasks guarded by an interrupting boundary timer. Generated from a seed, so a failing
 * seed regenerates the same process.
 */

/** mulberry32: a tiny seeded PRNG, good enough to choose shapes and interleavings. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Simple = 'user' | 'external' | 'inline' | 'timer' | 'message';
type Block =
  | { kind: Simple }
  | { kind: 'xor'; variable: string; branches: [Block[], Block[]] }
  | { kind: 'and'; branches: [Block[], Block[]] }
  | { kind: 'sub'; body: Block[] }
  | { kind: 'guarded' };

export interface GeneratedProcess {
  processId: string;
  xml: string;
  /** Gateway variables a start must set: each instance draws its own values. */
  variables: string[];
}

const SIMPLE: Simple[] = ['user', 'external', 'inline', 'timer', 'message'];

export function generateProcess(random: () => number, processId: string): GeneratedProcess {
  const variables: string[] = [];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const simple = (): Block => ({ kind: pick(SIMPLE) });
  const sequence = (length: number, depth: number): Block[] =>
    Array.from({ length }, () => {
      const roll = random();
      if (depth >= 2 || roll < 0.5) return simple();
      if (roll < 0.62) {
        const variable = `g${variables.length}`;
        variables.push(variable);
        return { kind: 'xor', variable, branches: [sequence(1 + Math.floor(random() * 2), depth + 1), sequence(1, depth + 1)] };
      }
      if (roll < 0.76) return { kind: 'and', branches: [sequence(1 + Math.floor(random() * 2), depth + 1), sequence(1, depth + 1)] };
      if (roll < 0.88) return { kind: 'sub', body: sequence(1 + Math.floor(random() * 2), depth + 1) };
      return { kind: 'guarded' };
    });
  const blocks = sequence(2 + Math.floor(random() * 3), 0);

  let counter = 0;
  const messages: string[] = [];
  const next = (prefix: string) => `${prefix}${++counter}`;

  /** Emits blocks into a container; returns [first id, last id]. */
  function emit(items: Block[], out: string[]): [string, string] {
    let first = '';
    let last = '';
    for (const block of items) {
      const [entry, exit] = emitBlock(block, out);
      if (!first) first = entry;
      if (last) out.push(flow(last, entry));
      last = exit;
    }
    return [first, last];
  }

  function flow(source: string, target: string, condition?: string): string {
    const id = next('f');
    return condition
      ? `<bpmn:sequenceFlow id="${id}" sourceRef="${source}" targetRef="${target}"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${condition}</bpmn:conditionExpression></bpmn:sequenceFlow>`
      : `<bpmn:sequenceFlow id="${id}" sourceRef="${source}" targetRef="${target}" />`;
  }

  function emitBlock(block: Block, out: string[]): [string, string] {
    switch (block.kind) {
      case 'user': {
        const id = next('user');
        out.push(`<bpmn:userTask id="${id}" />`);
        return [id, id];
      }
      case 'external': {
        const id = next('ext');
        out.push(`<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="fuzz.work" />`);
        return [id, id];
      }
      case 'inline': {
        const id = next('inline');
        out.push(`<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="fuzz.inline" />`);
        return [id, id];
      }
      case 'timer': {
        const id = next('timer');
        out.push(`<bpmn:intermediateCatchEvent id="${id}"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`);
        return [id, id];
      }
      case 'message': {
        const id = next('msg');
        messages.push(id);
        out.push(`<bpmn:intermediateCatchEvent id="${id}"><bpmn:messageEventDefinition messageRef="m_${id}" /></bpmn:intermediateCatchEvent>`);
        return [id, id];
      }
      case 'xor': {
        const split = next('xsplit');
        const join = next('xjoin');
        const [aFirst, aLast] = emit(block.branches[0], out);
        const [bFirst, bLast] = emit(block.branches[1], out);
        const otherwise = next('f');
        out.push(`<bpmn:exclusiveGateway id="${split}" default="${otherwise}" />`, `<bpmn:exclusiveGateway id="${join}" />`);
        out.push(flow(split, aFirst, `\${${block.variable} == true}`));
        out.push(`<bpmn:sequenceFlow id="${otherwise}" sourceRef="${split}" targetRef="${bFirst}" />`);
        out.push(flow(aLast, join), flow(bLast, join));
        return [split, join];
      }
      case 'and': {
        const split = next('psplit');
        const join = next('pjoin');
        const [aFirst, aLast] = emit(block.branches[0], out);
        const [bFirst, bLast] = emit(block.branches[1], out);
        out.push(`<bpmn:parallelGateway id="${split}" />`, `<bpmn:parallelGateway id="${join}" />`);
        out.push(flow(split, aFirst), flow(split, bFirst), flow(aLast, join), flow(bLast, join));
        return [split, join];
      }
      case 'sub': {
        const id = next('sub');
        const inner: string[] = [];
        const [first, last] = emit(block.body, inner);
        inner.push(`<bpmn:startEvent id="${id}_start" />`, `<bpmn:endEvent id="${id}_end" />`, flow(`${id}_start`, first), flow(last, `${id}_end`));
        out.push(`<bpmn:subProcess id="${id}">${inner.join('\n')}</bpmn:subProcess>`);
        return [id, id];
      }
      case 'guarded': {
        const id = next('guarded');
        const join = next('gjoin');
        out.push(
          `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="fuzz.work" />`,
          `<bpmn:boundaryEvent id="${id}_late" attachedToRef="${id}"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>`,
          `<bpmn:userTask id="${id}_fallback" />`,
          `<bpmn:exclusiveGateway id="${join}" />`,
          flow(id, join),
          flow(`${id}_late`, `${id}_fallback`),
          flow(`${id}_fallback`, join),
        );
        return [id, join];
      }
    }
  }

  const body: string[] = [];
  const [first, last] = emit(blocks, body);
  body.push('<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />', flow('start', first), flow(last, 'end'));
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs_${processId}" targetNamespace="http://regenflow.test/model">
  ${messages.map((id) => `<bpmn:message id="m_${id}" name="${processId}.${id}" />`).join('\n  ')}
  <bpmn:process id="${processId}" isExecutable="true">
    ${body.join('\n    ')}
  </bpmn:process>
</bpmn:definitions>`;
  return { processId, xml, variables };
}
