import { LlmClient } from '../../../service-tasks/generator/llm-client.js';
import { scaffoldTopic } from '../../../service-tasks/generator/scaffold.js';
import { defineModule } from '../product-module.js';

/** The generator: code scaffolds from templates, through an LLM provider when one is configured. */
export const generatorModule = defineModule({
  name: 'generator',
  tables: [],
  init({ config }) {
    return {
      service: undefined,
      topics: () => {
        const llm = config.LLM_BASE_URL ? new LlmClient({ baseUrl: config.LLM_BASE_URL, model: config.LLM_MODEL, apiKey: config.LLM_API_KEY }) : undefined;
        return [scaffoldTopic(llm)];
      },
    };
  },
});
