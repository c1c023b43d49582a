import type { Command } from 'commander';

type Request = (method: string, path: string, body?: string) => Promise<unknown>;

const PHASES = ['define', 'measure', 'explore', 'develop', 'implement', 'auto'] as const;

/** `regenflow dmedi <phase> --system NAME`: one DMEDI phase (or the whole cycle) on the server. */
export function registerDmediCommand(program: Command, request: Request): void {
  program
    .command('dmedi')
    .description(`run a DMEDI phase for a system on the server (${PHASES.join('|')})`)
    .argument('<phase>', PHASES.join('|'))
    .requiredOption('--system <name>', 'the system (service.name, or regenflow/<process key>)')
    .option('--window <seconds>', 'window judged', (value) => Number(value))
    .option('--baseline <seconds>', 'baseline window before it', (value) => Number(value))
    .option('--strategy <id>', 'strategy for develop/implement (default: the best ranked)')
    .action(async (phase: string, options: { system: string; window?: number; baseline?: number; strategy?: string }) => {
      if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`unknown phase ${phase}; use ${PHASES.join(', ')}`);
      const body = {
        system: options.system,
        ...(options.window && { windowSeconds: options.window }),
        ...(options.baseline && { baselineSeconds: options.baseline }),
        ...(options.strategy && { strategyId: options.strategy }),
      };
      const result = (await request('POST', `/api/entropy/dmedi/${phase}`, JSON.stringify(body))) as Record<string, unknown>;
      if (phase === 'define' && typeof result.charter === 'string') console.log(result.charter);
      else console.log(JSON.stringify(result, null, 2));
    });
}
