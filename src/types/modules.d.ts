// Packages that ship no type declarations.
declare module 'bpmn-moddle' {
  export class BpmnModdle {
    constructor(packages?: Record<string, unknown>);
    fromXML(xml: string, typeName?: string): Promise<{ rootElement: any; warnings: Array<{ message: string; element?: any }> }>;
    toXML(element: unknown, options?: { format?: boolean }): Promise<{ xml: string }>;
  }
}

declare module 'dmn-moddle' {
  export class DmnModdle {
    constructor(packages?: Record<string, unknown>);
    fromXML(xml: string, typeName?: string): Promise<{ rootElement: any; warnings: Array<{ message: string; element?: any }> }>;
  }
}

declare module '@bpmn-io/feel-lint' {
  export function lintExpression(
    expression: string,
    options?: { dialect?: 'expression' | 'unaryTests'; parserDialect?: string },
  ): Array<{ from: number; to: number; severity: 'error' | 'warning'; type: string; message: string }>;
}
