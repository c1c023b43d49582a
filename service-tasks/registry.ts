import type { z } from 'zod';
import { AppError } from '../src/errors.js';
import type { InlineHandler, InlineHandlerContext } from '../src/engine/runtime/service-binding.js';

/**
 * A built-in service task: topic name -> input schema, output schema, one handler.
 * `inline` handlers are short and run inside the transition (at least once: they get an
 * idempotency key); other topics are served as external tasks by in-process or remote
 * workers.
 */
export interface ServiceTaskDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  topic: string;
  description: string;
  input: I;
  output: O;
  mode: 'inline' | 'worker';
  /** Codes of the BPMN errors the handler throws: a process using the topic must catch them, or the instance ends failed. */
  bpmnErrors?: readonly string[];
  handler(input: z.infer<I>, context: InlineHandlerContext): Promise<z.infer<O>>;
}

export class ServiceTaskRegistry {
  private readonly tasks = new Map<string, ServiceTaskDefinition>();

  register(definition: ServiceTaskDefinition): this {
    if (this.tasks.has(definition.topic)) throw new Error(`service task topic ${definition.topic} is registered twice`);
    this.tasks.set(definition.topic, definition);
    return this;
  }

  get(topic: string): ServiceTaskDefinition | undefined {
    return this.tasks.get(topic);
  }

  topics(): ServiceTaskDefinition[] {
    return [...this.tasks.values()];
  }

  /** The handler the engine runs inline for a topic, with both schemas enforced. */
  inlineHandler = (topic: string): InlineHandler | undefined => {
    const definition = this.tasks.get(topic);
    if (!definition || definition.mode !== 'inline') return undefined;
    return async (input, context) => {
      const parsedInput = definition.input.safeParse(input);
      if (!parsedInput.success) {
        throw new AppError('HANDLER_INPUT_INVALID', `${topic} input: ${parsedInput.error.issues.map(describe).join('; ')}`);
      }
      const output = await definition.handler(parsedInput.data, context);
      const parsedOutput = definition.output.safeParse(output);
      if (!parsedOutput.success) {
        throw new AppError('HANDLER_OUTPUT_INVALID', `${topic} output: ${parsedOutput.error.issues.map(describe).join('; ')}`);
      }
      return parsedOutput.data as Record<string, unknown>;
    };
  };
}

const describe = (issue: z.core.$ZodIssue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`;
