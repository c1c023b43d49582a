import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { declaredFormLinks, parseForm } from '../../src/forms/index.js';
import { repositoryRoot } from '../support/server-process.js';

const processes = join(repositoryRoot, 'processes');
const sources = join(repositoryRoot, 'scripts', 'process-sources');
const formFiles = async (folder: string) => (await readdir(folder)).filter((file) => file.endsWith('.form')).sort();

describe('shipped forms', () => {
  it('when a shipped form is compared with its source, then they are the same file', async () => {
    const shipped = await formFiles(processes);
    expect(shipped.length).toBeGreaterThan(0);
    expect(await formFiles(sources)).toEqual(shipped);
    for (const file of shipped) {
      expect({ file, text: await readFile(join(processes, file), 'utf8') }).toEqual({ file, text: await readFile(join(sources, file), 'utf8') });
    }
  });

  it('when the shipped diagrams link forms, then each is a shipped form that parses and holds the fields camunda:formData declares', async () => {
    const forms = new Map<string, ReturnType<typeof parseForm>>();
    for (const file of await formFiles(processes)) {
      const form = parseForm(file, await readFile(join(processes, file), 'utf8'));
      expect(`${form.key}.form`).toBe(file);
      forms.set(form.key, form);
    }
    const linked = new Set<string>();
    for (const file of (await readdir(processes)).filter((name) => name.endsWith('.bpmn'))) {
      const xml = await readFile(join(processes, file), 'utf8');
      for (const link of declaredFormLinks(file, xml)) {
        const key = 'key' in link.ref ? link.ref.key : link.ref.resourceName.replace(/\.form$/, '');
        const form = forms.get(key);
        expect({ file, activity: link.activityId, form: key, shipped: Boolean(form) }).toEqual({ file, activity: link.activityId, form: key, shipped: true });
        linked.add(key);
        // The Camunda 7 form fields kept for C7 clients name no variable the form lacks.
        const element = xml.slice(xml.indexOf(`id="${link.activityId}"`));
        const formData = element.slice(0, element.indexOf('</bpmn:userTask>'));
        const declared = [...formData.matchAll(/<camunda:formField id="([^"]+)"/g)].map((match) => match[1]);
        const keys = form!.fields.map((field) => field.path.join('.'));
        expect({ activity: link.activityId, missing: declared.filter((id) => !keys.includes(id!)) }).toEqual({ activity: link.activityId, missing: [] });
      }
    }
    expect([...linked].sort()).toEqual([...forms.keys()].sort());
  });
});
