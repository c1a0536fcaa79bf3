/** Parser plugin replacing ref-parser's js-yaml based one (see deref.mjs). */
export declare const yamlParserPlugin: {
  order: number;
  allowEmpty: boolean;
  canParse: string[];
  parse(file: { url: string; extension: string; data: unknown }): unknown;
};

/** Loads one OpenAPI yaml file and resolves every `$ref` in it (relative to the file). */
export declare function dereferenceSpecFile(absPath: string): Promise<Record<string, unknown>>;
