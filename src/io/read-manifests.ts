// Reads Kubernetes manifests (YAML or JSON, several documents, `kind: List` expanded) from a file or stdin.
// A syntax error names the file, line and column, so the user can go straight to it.

import { parseAllDocuments } from 'yaml';
import { KirsaError } from '../errors.ts';
import { readInputText } from './read-input.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string> | null;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

async function readSource(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readInputText(path, 'manifest file');
}

/** Parses every document in the text; throws INPUT_UNREADABLE naming the first syntax error's position. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text, { uniqueKeys: false })) {
    const problem = document.errors[0];
    if (problem) {
      const position = problem.linePos?.[0];
      const where = position ? `${source}:${position.line}:${position.col}` : source;
      throw new KirsaError(
        'FILE_SYNTAX',
        `${where}: not valid YAML or JSON: ${problem.message.split('\n')[0]}`,
        {
          hint: 'fix the document at that line and run again',
        },
      );
    }
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) continue; // an empty document between separators
    if (typeof value !== 'object' || Array.isArray(value)) {
      const line = document.contents?.range ? lineOf(text, document.contents.range[0]) : 1;
      throw new KirsaError(
        'MANIFEST_NOT_OBJECT',
        `${source}:${line}: expected a Kubernetes object, found ${Array.isArray(value) ? 'a list' : typeof value}`,
        {
          hint: 'each document must be an object with apiVersion, kind and metadata',
        },
      );
    }
    const object = value as KubeObject;
    if (typeof object.kind !== 'string' || object.kind === '') {
      const line = document.contents?.range ? lineOf(text, document.contents.range[0]) : 1;
      throw new KirsaError('MANIFEST_NO_KIND', `${source}:${line}: this document has no kind`, {
        hint: 'a stray --- splits one object in two: remove it, or give the document its apiVersion and kind',
      });
    }
    if (object.kind === 'List' && Array.isArray(object.items))
      objects.push(...(object.items as KubeObject[]));
    else objects.push(object);
  }
  return objects;
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

export async function readManifests(path: string): Promise<KubeObject[]> {
  return parseManifests(await readSource(path), path === '-' ? '<stdin>' : path);
}
