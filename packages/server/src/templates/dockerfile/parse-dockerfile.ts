/**
 * Dockerfile text → BuildPlan. Our own small parser rather than `dockerfile-ast`: that package
 * answers "what is on line N" for editors, but the meaning (ARG scopes, expansion where Docker
 * does it, stage references, relative paths against WORKDIR) would still be ours to write; the
 * lexing it would save is `dockerfile-lines.ts` (~70 lines).
 *
 * `FROM name`: a stage of this Dockerfile first (as in Docker), then a Paddock template of that
 * name (`isTemplate`), else an image reference. `scratch` is the empty base.
 */
import { posix } from 'node:path';
import type { ImageConfig } from '../images/image-types.js';
import type { BuildBase, BuildPlan, BuildStage, BuildStep } from '../plan.js';
import { dockerfileLines, invalid, type LogicalLine } from './dockerfile-lines.js';
import { expandWord, splitWords, type Vars } from './expand-vars.js';

export interface ParseDockerfileOptions {
  /** `--build-arg` values: they override ARG defaults. */
  buildArgs?: Readonly<Record<string, string>>;
  /** Whether a plain `FROM name` names a Paddock template. */
  isTemplate?: (name: string) => boolean;
  /** A template's or image's config, so that `ENV PATH=/x:$PATH` and relative WORKDIRs see it. */
  baseConfig?: (base: BuildBase) => ImageConfig | undefined;
}

/** What the parser tracks per stage: what expansions and relative paths see. */
interface StageState {
  env: Record<string, string>;
  /** ARGs declared in this stage, with their value (undefined: declared without one). */
  args: Record<string, string | undefined>;
  workdir: string;
  shell: string[];
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Instructions that change nothing a sandbox sees: accepted and ignored. */
const IGNORED = new Set(['LABEL', 'EXPOSE', 'STOPSIGNAL', 'VOLUME', 'HEALTHCHECK', 'MAINTAINER', 'ONBUILD']);

export function parseDockerfile(text: string, options: ParseDockerfileOptions = {}): BuildPlan {
  return new DockerfileParser(options).parse(text);
}

class DockerfileParser {
  private escape = '\\';
  private readonly globalArgs: Record<string, string | undefined> = {};
  private readonly stages: BuildStage[] = [];
  private readonly states = new Map<string, StageState>();
  private state: StageState | undefined;

  constructor(private readonly options: ParseDockerfileOptions) {}

  parse(text: string): BuildPlan {
    const parsed = dockerfileLines(text);
    this.escape = parsed.escape;
    const { lines } = parsed;
    for (const line of lines) this.instruction(line);
    if (this.stages.length === 0) throw invalid(1, 'no FROM instruction: a Dockerfile starts from a base');
    return { stages: this.stages };
  }

  private instruction(line: LogicalLine): void {
    const { keyword } = line;
    if (keyword === 'FROM') {
      this.from(line);
      return;
    }
    if (keyword === 'ARG') {
      this.arg(line);
      return;
    }
    if (IGNORED.has(keyword)) return;
    const state = this.state;
    if (state === undefined) throw invalid(line.line, `${keyword} before the first FROM`);
    const step = this.step(line, state);
    if (step !== undefined) (this.stages.at(-1) as BuildStage).steps.push(step);
  }

  private step(line: LogicalLine, state: StageState): BuildStep | undefined {
    switch (line.keyword) {
      case 'RUN':
        return this.run(line, state);
      case 'COPY':
      case 'ADD':
        return this.copy(line, state);
      case 'ENV':
        return this.env(line, state);
      case 'WORKDIR': {
        const path = this.expand(line, line.rest, state);
        if (path === '') throw invalid(line.line, 'WORKDIR needs a path');
        state.workdir = posix.resolve(state.workdir, path);
        return { kind: 'workdir', path: state.workdir };
      }
      case 'USER': {
        const user = this.expand(line, line.rest, state);
        if (user === '' || /\s/.test(user)) throw invalid(line.line, 'USER needs one user[:group]');
        return { kind: 'user', user };
      }
      case 'ENTRYPOINT':
        return { kind: 'entrypoint', argv: this.command(line, state.shell) };
      case 'CMD':
        return { kind: 'cmd', argv: this.command(line, state.shell) };
      case 'SHELL': {
        const shell = jsonArray(line.rest);
        if (shell === undefined || shell.length === 0) throw invalid(line.line, 'SHELL needs a JSON array');
        state.shell = shell;
        return undefined;
      }
      default:
        throw invalid(line.line, `unknown instruction ${line.keyword}`);
    }
  }

  private from(line: LogicalLine): void {
    const { flags, words } = this.flagsAndWords(line, this.globalVars(), ['platform']);
    void flags;
    const [ref, as, name, ...extra] = words;
    if (ref === undefined || (as !== undefined && (as.toUpperCase() !== 'AS' || name === undefined)) || extra.length) {
      throw invalid(line.line, 'FROM takes an image or template and an optional "AS name"');
    }
    if (name !== undefined && !/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(name)) {
      throw invalid(line.line, `stage name "${name}" must start with a letter (letters, digits, _ . -)`);
    }
    const stageName = name?.toLowerCase();
    if (stageName !== undefined && this.states.has(stageName)) {
      throw invalid(line.line, `duplicate stage name "${stageName}"`);
    }
    const base = this.base(ref.toLowerCase() === ref ? ref : ref, line);
    const from = base.kind === 'stage' ? this.states.get(base.stage) : undefined;
    const config = base.kind === 'stage' ? undefined : this.options.baseConfig?.(base);
    this.state = {
      env: { ...(from?.env ?? config?.env ?? {}) },
      args: {},
      workdir: from?.workdir ?? config?.workdir ?? '/',
      shell: from?.shell ?? DEFAULT_SHELL,
    };
    this.stages.push({ ...(stageName === undefined ? {} : { name: stageName }), base, steps: [] });
    this.states.set(stageName ?? String(this.stages.length - 1), this.state);
  }

  private base(ref: string, line: LogicalLine): BuildBase {
    if (ref === 'scratch') return { kind: 'scratch' };
    if (this.states.has(ref.toLowerCase())) return { kind: 'stage', stage: ref.toLowerCase() };
    if (this.options.isTemplate?.(ref)) return { kind: 'template', name: ref };
    if (/\s/.test(ref)) throw invalid(line.line, `"${ref}" is not an image reference`);
    return { kind: 'image', ref };
  }

  private arg(line: LogicalLine): void {
    const state = this.state;
    const vars = state === undefined ? this.globalVars() : this.vars(state);
    const words = splitWords(line.rest, this.wordOptions(line, vars));
    if (words.length === 0) throw invalid(line.line, 'ARG needs a name');
    for (const word of words) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word : word.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalid(line.line, `"${name}" is not a valid ARG name`);
      const given = this.options.buildArgs?.[name];
      // An ARG in a stage without a default takes the global one of the same name.
      const fallback = eq < 0 ? (state === undefined ? undefined : this.globalArgs[name]) : word.slice(eq + 1);
      const value = given ?? fallback;
      if (state === undefined) this.globalArgs[name] = value;
      else state.args[name] = value;
    }
  }

  private run(line: LogicalLine, state: StageState): BuildStep {
    const { flags, rest } = this.leadingFlags(line, ['network', 'mount', 'security']);
    if (flags.mount !== undefined) throw invalid(line.line, 'RUN --mount is not supported');
    if (flags.security !== undefined && flags.security !== 'sandbox') {
      throw invalid(line.line, 'RUN --security=insecure is not supported');
    }
    if (rest === '') throw invalid(line.line, 'RUN needs a command');
    const exec = jsonArray(rest);
    const command = exec ?? (state.shell === DEFAULT_SHELL ? rest : [...state.shell, rest]);
    const args = Object.fromEntries(
      Object.entries(state.args).filter((e): e is [string, string] => e[1] !== undefined && !(e[0] in state.env)),
    );
    return {
      kind: 'run',
      command,
      ...(flags.network !== undefined && flags.network !== 'none' ? { network: true } : {}),
      ...(Object.keys(args).length > 0 ? { args } : {}),
    };
  }

  private copy(line: LogicalLine, state: StageState): BuildStep {
    const add = line.keyword === 'ADD';
    const allowed = add ? ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir'] : ['from', 'chown', 'chmod', 'link'];
    const { flags, rest } = this.leadingFlags(line, allowed);
    const paths = jsonArray(rest)?.map((p) => this.expand(line, p, state)) ?? this.words(line, rest, state);
    const dest = paths.pop();
    if (dest === undefined || paths.length === 0) throw invalid(line.line, `${line.keyword} needs a source and a dest`);
    if (add && paths.some((p) => /^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(p))) {
      throw invalid(
        line.line,
        'ADD of a URL needs network access, which builds do not have: download it into the context',
      );
    }
    const fromStage = flags.from === undefined ? undefined : this.expand(line, flags.from, state).toLowerCase();
    if (fromStage !== undefined && !this.states.has(fromStage)) {
      throw invalid(
        line.line,
        `--from=${fromStage}: no earlier stage of that name or index (images are not supported)`,
      );
    }
    const outside = fromStage === undefined ? paths.find((p) => /^\.\.(\/|$)/.test(posix.normalize(p))) : undefined;
    if (outside !== undefined) throw invalid(line.line, `"${outside}" is outside the build context`);
    let mode: number | undefined;
    if (flags.chmod !== undefined) {
      if (!/^[0-7]{1,4}$/.test(flags.chmod)) throw invalid(line.line, `--chmod=${flags.chmod}: give an octal mode`);
      mode = Number.parseInt(flags.chmod, 8);
    }
    const chown = flags.chown === undefined ? undefined : this.expand(line, flags.chown, state);
    const absolute = posix.resolve(state.workdir, dest);
    return {
      kind: 'copy',
      sources: paths,
      // A trailing slash (or `.`) says "into this directory": keep it.
      dest: /\/\.?$|^\.$/.test(dest) && absolute !== '/' ? `${absolute}/` : absolute,
      ...(fromStage === undefined ? {} : { fromStage }),
      ...(chown === undefined ? {} : { chown }),
      ...(mode === undefined ? {} : { mode }),
      ...(add ? { add: true } : {}),
    };
  }

  private env(line: LogicalLine, state: StageState): BuildStep {
    const vars: Record<string, string> = {};
    const options = this.wordOptions(line, this.vars(state));
    const legacy = /^([A-Za-z_][A-Za-z0-9_]*)(\s+)([\s\S]*)$/.exec(line.rest);
    if (legacy !== null && !(legacy[1] as string).includes('=')) {
      // `ENV NAME value with spaces` (one variable, the rest of the line is its value).
      vars[legacy[1] as string] = expandWord(legacy[3] as string, options);
    } else {
      for (const word of splitWords(line.rest, options)) {
        const eq = word.indexOf('=');
        const name = word.slice(0, eq);
        if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
          throw invalid(line.line, `ENV needs NAME=value, got "${word}"`);
        vars[name] = word.slice(eq + 1);
      }
    }
    if (Object.keys(vars).length === 0) throw invalid(line.line, 'ENV needs NAME=value');
    Object.assign(state.env, vars);
    return { kind: 'env', vars };
  }

  /** ENTRYPOINT/CMD: exec form (a JSON array) as it is, shell form through the stage's SHELL. */
  private command(line: LogicalLine, shell: string[]): string[] {
    const exec = jsonArray(line.rest);
    if (exec !== undefined) return exec;
    if (line.rest === '') throw invalid(line.line, `${line.keyword} needs a command`);
    return [...shell, line.rest];
  }

  /** `--name=value` flags before the arguments (RUN/COPY/ADD: the rest stays raw). */
  private leadingFlags(line: LogicalLine, allowed: string[]): { flags: Record<string, string>; rest: string } {
    const flags: Record<string, string> = {};
    let rest = line.rest;
    for (let m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); m !== null; m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
      const name = m[1] as string;
      if (!allowed.includes(name)) throw invalid(line.line, `${line.keyword} does not support --${name}`);
      flags[name] = m[2] ?? 'true';
      rest = rest.slice(m[0].length);
    }
    return { flags, rest };
  }

  private flagsAndWords(line: LogicalLine, vars: Vars, allowed: string[]) {
    const { flags, rest } = this.leadingFlags(line, allowed);
    return { flags, words: splitWords(rest, this.wordOptions(line, vars)) };
  }

  private words(line: LogicalLine, text: string, state: StageState): string[] {
    return splitWords(text, this.wordOptions(line, this.vars(state)));
  }

  private expand(line: LogicalLine, text: string, state: StageState): string {
    return expandWord(text.trim(), this.wordOptions(line, this.vars(state)));
  }

  private wordOptions(line: LogicalLine, vars: Vars) {
    return { escape: this.escape, vars, fail: (message: string) => invalid(line.line, message) };
  }

  /** What `$NAME` means in a stage: its ARGs, overridden by ENV (as in Docker). */
  private vars(state: StageState): Vars {
    return { ...state.args, ...state.env };
  }

  /** Before the first FROM (and in FROM lines) only global ARGs expand. */
  private globalVars(): Vars {
    return this.globalArgs;
  }
}

/** A JSON array of strings (exec form), or undefined when `text` is not one. */
function jsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  } catch {
    // Not JSON: Docker treats it as shell form.
  }
  return undefined;
}
