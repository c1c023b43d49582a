import { declaredFormLinks, parseForm, validateSubmission } from '../../src/forms/index.js';

const form = (components: object[]) => parseForm('test.form', JSON.stringify({ type: 'default', id: 'test', components }));
const fieldsOf = (violations: Array<{ field: string }>) => violations.map((violation) => violation.field);

describe('form submissions', () => {
  it('when a dynamic list holds items, then each item is checked against the list fields, named by its index', () => {
    const { fields } = form([
      { type: 'dynamiclist', id: 'Items', path: 'items', components: [{ type: 'number', id: 'Qty', key: 'qty', validate: { required: true, min: 1 } }] },
    ]);
    expect(fieldsOf(validateSubmission(fields, { items: [{ qty: 2 }, { qty: 0 }, {}] }))).toEqual(['items.1.qty', 'items.2.qty']);
    expect(fieldsOf(validateSubmission(fields, { items: 'three' }))).toEqual(['items']);
    expect(validateSubmission(fields, {})).toEqual([]);
  });

  it('when checklists, tag lists, radios and dates are submitted, then values outside their options or formats are named', () => {
    const options = [
      { label: 'A', value: 'a' },
      { label: 'B', value: 'b' },
    ];
    const { fields } = form([
      { type: 'checklist', id: 'Tags', key: 'tags', values: options },
      { type: 'radio', id: 'Pick', key: 'pick', values: options },
      { type: 'taglist', id: 'Free', key: 'free', valuesKey: 'choices' },
      { type: 'datetime', id: 'Day', key: 'day', subtype: 'date' },
      { type: 'datetime', id: 'At', key: 'at', subtype: 'time' },
    ]);
    expect(fieldsOf(validateSubmission(fields, { tags: ['a', 'c'], pick: 'c', free: ['anything'], day: '2026-13-45', at: 'noon' }))).toEqual(['tags', 'pick', 'day', 'at']);
    expect(validateSubmission(fields, { tags: ['a', 'b'], pick: 'a', free: ['x'], day: '2026-12-07', at: '09:30' })).toEqual([]);
  });

  it('when a group is hidden by a condition over the instance variables, then its required fields are not checked', () => {
    const { fields } = form([
      { type: 'group', id: 'Extra', path: 'extra', conditional: { hide: '=mode = "simple"' }, components: [{ type: 'textfield', id: 'Why', key: 'why', validate: { required: true } }] },
    ]);
    expect(validateSubmission(fields, {}, { mode: 'simple' })).toEqual([]);
    expect(fieldsOf(validateSubmission(fields, {}, { mode: 'full' }))).toEqual(['extra.why']);
  });

  it('when a required checkbox is unchecked, then it is missing, as form-js says', () => {
    const { fields } = form([{ type: 'checkbox', id: 'Agree', key: 'agree', validate: { required: true } }]);
    expect(fieldsOf(validateSubmission(fields, { agree: false }))).toEqual(['agree']);
    expect(validateSubmission(fields, { agree: true })).toEqual([]);
  });

  it('when a schema has keys that collide through a group path, then it is refused naming the component', () => {
    expect(() =>
      form([
        { type: 'textfield', id: 'Flat', key: 'a.b' },
        { type: 'group', id: 'G', path: 'a', components: [{ type: 'textfield', id: 'Nested', key: 'b' }] },
      ]),
    ).toThrow(/component Nested\): key 'a.b' is also the key of component Flat/);
    expect(() => form([{ type: 'textfield', id: 'Cond', key: 'x', conditional: { hide: '=x = ' } }])).toThrow(/component Cond\): its hide condition does not parse/);
  });
});

describe('form links in a diagram', () => {
  it('when a diagram uses other prefixes, a default namespace or the Activiti alias, then its form links are read all the same', () => {
    const xml = `<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:act="http://activiti.org/bpmn" xmlns:other="urn:other">
  <process id="first"><userTask id="a" act:formRef="approve" act:formRefBinding="version" act:formRefVersion="2"/><startEvent id="s" act:formKey="camunda-forms:deployment:start&amp;go.form"/></process>
  <collaboration id="c"><participant id="p" processRef="second"/></collaboration>
  <process id="second"><userTask id="b" other:formRef="ignored"/><userTask id="c2" act:formKey="embedded:app:x.html"/><userTask id="d" act:formKey="plain-id"/></process>
</definitions>`;
    expect(declaredFormLinks('x.bpmn', xml)).toEqual([
      { processId: 'first', activityId: 'a', ref: { key: 'approve' }, binding: 'version', version: 2, optional: false },
      { processId: 'first', activityId: 's', ref: { resourceName: 'start&go.form' }, binding: 'deployment', optional: false },
      { processId: 'second', activityId: 'd', ref: { key: 'plain-id' }, binding: 'latest', optional: true },
    ]);
  });

  it('when a formRef is an expression or a binding is unknown, then the deploy is refused naming the element', () => {
    const diagram = (attributes: string) =>
      `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><bpmn:process id="p"><bpmn:userTask id="t" ${attributes}/></bpmn:process></bpmn:definitions>`;
    expect(() => declaredFormLinks('x.bpmn', diagram('camunda:formRef="${formId}"'))).toThrow(/t \(form\): camunda:formRef '\$\{formId\}' is not a form id/);
    expect(() => declaredFormLinks('x.bpmn', diagram('camunda:formRef="f" camunda:formRefBinding="versionTag"'))).toThrow(/formRefBinding 'versionTag' is not supported/);
  });
});
