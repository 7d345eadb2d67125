export { shiftTree } from '../runtime/shift-ownership.js';
export { type BuildTemplateOptions, type BuildTemplateResult, buildTemplate } from './builder.js';
export {
  BuiltTemplate,
  listBuiltTemplates,
  readBuiltTemplate,
  removeStaleBuilds,
  removeTemplateFiles,
  templateRootfs,
} from './layout.js';
export { BUILDER_VERSION, type ContextFiles, parseTemplateSpec, specHash, validateTemplateSpec } from './spec.js';
