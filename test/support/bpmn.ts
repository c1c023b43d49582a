/** Builds small BPMN documents for tests: a process body in, a full definitions file out. */
export function bpmn(processId: string, body: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="defs_${processId}" targetNamespace="http://regenflow.test">
  ${extra}
  <bpmn:process id="${processId}" isExecutable="true">
    ${body}
  </bpmn:process>
</bpmn:definitions>`;
}

/** start -> steps... -> end, each step an element string with id `${id}` and flows between. */
export function sequence(processId: string, steps: Array<{ id: string; xml: string }>, extra = ''): string {
  const ids = ['start', ...steps.map((step) => step.id), 'end'];
  const flows = ids
    .slice(1)
    .map((target, index) => `<bpmn:sequenceFlow id="flow_${index}" sourceRef="${ids[index]}" targetRef="${target}" />`)
    .join('\n    ');
  return bpmn(
    processId,
    `<bpmn:startEvent id="start" />
    ${steps.map((step) => step.xml).join('\n    ')}
    <bpmn:endEvent id="end" />
    ${flows}`,
    extra,
  );
}
