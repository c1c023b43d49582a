declare module 'saxen' {
  /** saxen's streaming XML parser (what moddle-xml parses with). */
  export class Parser {
    constructor(options?: { proxy?: boolean });
    /** Namespace mode: element and attribute prefixes are rewritten to the given ones per URI. */
    ns(prefixes: Record<string, string>): void;
    on(event: 'openTag', handler: (name: string, attributes: () => Record<string, string>, decodeEntities: (text: string) => string, selfClosing: boolean) => void): void;
    on(event: 'closeTag' | 'error' | 'warn' | 'text', handler: (...args: any[]) => void): void;
    parse(xml: string): void;
  }
}
