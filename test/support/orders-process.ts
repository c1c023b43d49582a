import { bpmn } from './bpmn.js';

/**
 * The `orders` process of the self-healing tests: version `good` charges; version `broken`
 * adds a fraud check before it (served on `orders.fraud-check`).
 */
export function ordersProcess(version: 'good' | 'broken'): string {
  return bpmn(
    'orders',
    `<bpmn:startEvent id="start" />
    ${version === 'broken' ? '<bpmn:serviceTask id="fraud_check" camunda:type="external" camunda:topic="orders.fraud-check" />' : ''}
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="orders.charge" />
    <bpmn:endEvent id="end" />
    ${
      version === 'broken'
        ? '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fraud_check" /><bpmn:sequenceFlow id="f1" sourceRef="fraud_check" targetRef="charge" />'
        : '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge" />'
    }
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="end" />`,
  );
}
