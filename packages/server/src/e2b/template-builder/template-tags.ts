import { PaddockError, TEMPLATE_NAME, TEMPLATE_TAG } from '@paddock/protocol';
import { paddockTemplateOf } from '../template-names.js';

/** E2B's tag for a build named without one: `Sandbox.create('my-env')` starts it. */
export const DEFAULT_TAG = 'default';

export interface NameAndTag {
  name: string;
  tag: string | undefined;
}

/** `my-env:v1` → name and tag; the name must be a Paddock template name (checked, `field` named). */
export function parseNameTag(ref: string, field: string): NameAndTag {
  const colon = ref.lastIndexOf(':');
  const name = colon < 0 ? ref : ref.slice(0, colon);
  const tag = colon < 0 ? undefined : ref.slice(colon + 1);
  if (!TEMPLATE_NAME.test(name)) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `${field}: '${name}' is not a template name (lowercase letters, digits, ".", "_" or "-", at most 64)`,
      { field },
    );
  }
  if (tag !== undefined) checkTag(tag, field);
  return { name, tag };
}

export function checkTag(tag: string, field: string): void {
  if (!TEMPLATE_TAG.test(tag)) {
    throw new PaddockError('INVALID_ARGUMENT', `${field}: '${tag}' is not a tag (letters, digits, ".", "_" or "-")`, {
      field,
    });
  }
}

/**
 * The store name of a tagged build: the default tag is the plain name, any other `name:tag`.
 * User names cannot contain `:`, so a tag never collides with a name made through /v1.
 */
export function storeNameOf(name: string, tag: string | undefined): string {
  return tag === undefined || tag === DEFAULT_TAG ? name : `${name}:${tag}`;
}

/** An E2B template reference (`base`, `code-interpreter-v1`, `my-env:v1`) → its store name. */
export function storeNameOfRef(ref: string, field: string): string {
  const { name, tag } = parseNameTag(ref, field);
  return storeNameOf(paddockTemplateOf(name), tag);
}
