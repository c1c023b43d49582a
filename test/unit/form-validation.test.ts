import { parseForm, validateSubmission } from '../../src/forms/index.js';

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
