import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { filterContext, selectContextFiles } from '../../packages/server/src/templates/dockerfile/build-context.js';
import {
  type ParseDockerfileOptions,
  parseDockerfile,
} from '../../packages/server/src/templates/dockerfile/parse-dockerfile.js';

const OPTIONS: ParseDockerfileOptions = {
  isTemplate: (name) => name === 'base',
  baseConfig: (base) =>
    base.kind === 'template' ? { env: { PATH: '/usr/bin:/bin' }, workdir: '/home/user' } : undefined,
};
const parse = (text: string, options: ParseDockerfileOptions = {}) => parseDockerfile(text, { ...OPTIONS, ...options });
const steps = (text: string, options: ParseDockerfileOptions = {}) => parse(text, options).stages.at(-1)?.steps;

function rejectsAt(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => parse(text),
    (err: unknown) => {
      assert.ok(err instanceof PaddockError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.equal(err.details?.line, line);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('parseDockerfile', () => {
  it('FROM: stages first, then templates, then images; scratch; AS names', () => {
    const plan = parse('FROM base AS one\nFROM one\nFROM python:3.12-slim AS py\nFROM scratch\n');
    assert.deepEqual(
      plan.stages.map((s) => s.base),
      [
        { kind: 'template', name: 'base' },
        { kind: 'stage', stage: 'one' },
        { kind: 'image', ref: 'python:3.12-slim' },
        { kind: 'scratch' },
      ],
    );
    assert.deepEqual(
      plan.stages.map((s) => s.name),
      ['one', undefined, 'py', undefined],
    );
  });

  it('RUN shell and exec forms; SHELL is honoured; ARGs in scope travel with RUN', () => {
    assert.deepEqual(
      steps('FROM base\nARG A=1\nRUN echo $A\nRUN ["ls", "-l"]\nSHELL ["/bin/bash", "-c"]\nRUN echo hi\n'),
      [
        { kind: 'run', command: 'echo $A', args: { A: '1' } },
        { kind: 'run', command: ['ls', '-l'], args: { A: '1' } },
        { kind: 'run', command: ['/bin/bash', '-c', 'echo hi'], args: { A: '1' } },
      ],
    );
    assert.deepEqual(steps('FROM base\nRUN --network=default true\n'), [
      { kind: 'run', command: 'true', network: true },
    ]);
  });

  it('line continuations, comments between them, and the escape directive', () => {
    assert.deepEqual(steps('FROM base\nRUN echo a \\\n# a comment\n    && echo b\n'), [
      { kind: 'run', command: 'echo a     && echo b' },
    ]);
    assert.deepEqual(steps('# escape=`\nFROM base\nRUN echo a `\n  b\nWORKDIR C:\\dir\n'), [
      { kind: 'run', command: 'echo a   b' },
      { kind: 'workdir', path: '/home/user/C:\\dir' },
    ]);
  });

  it('ENV in both forms, expanding the base env, ARG defaults, build-args and ${V:-x}/${V:+x}', () => {
    const text = [
      'ARG TAG=base',
      'FROM ${TAG}',
      'ARG TAG',
      'ARG MODE=dev',
      'ARG EMPTY',
      'ENV PATH=/opt/bin:$PATH WHO="a b" TAGGED=${TAG}',
      'ENV LEGACY some words here',
      "ENV D=${EMPTY:-dflt} P=${MODE:+plus} Q=${EMPTY:+never} S='$MODE'",
    ].join('\n');
    assert.deepEqual(steps(text, { buildArgs: { MODE: 'prod' } }), [
      { kind: 'env', vars: { PATH: '/opt/bin:/usr/bin:/bin', WHO: 'a b', TAGGED: 'base' } },
      { kind: 'env', vars: { LEGACY: 'some words here' } },
      { kind: 'env', vars: { D: 'dflt', P: 'plus', Q: '', S: '$MODE' } },
    ]);
    assert.deepEqual(parse('ARG T=base\nFROM $T\n', { buildArgs: { T: 'python:3' } }).stages[0]?.base, {
      kind: 'image',
      ref: 'python:3',
    });
  });

  it('COPY/ADD flags, dests relative to WORKDIR, trailing slashes', () => {
    assert.deepEqual(
      steps(
        'FROM base AS b\nFROM base\nWORKDIR /app\nCOPY --chown=user:user --chmod=0755 a.sh b.sh ./\nCOPY --from=b /x y\nADD pkg.tar.gz /opt/\n',
      ),
      [
        { kind: 'workdir', path: '/app' },
        { kind: 'copy', sources: ['a.sh', 'b.sh'], dest: '/app/', chown: 'user:user', mode: 0o755 },
        { kind: 'copy', sources: ['/x'], dest: '/app/y', fromStage: 'b' },
        { kind: 'copy', sources: ['pkg.tar.gz'], dest: '/opt/', add: true },
      ],
    );
    assert.deepEqual(steps('FROM base\nCOPY ["a b.txt", "/d/"]\n'), [
      { kind: 'copy', sources: ['a b.txt'], dest: '/d/' },
    ]);
  });

  it('USER, WORKDIR (relative), ENTRYPOINT/CMD shell and exec forms; ignored instructions', () => {
    assert.deepEqual(
      steps(
        'FROM base\nLABEL a=b\nEXPOSE 80\nSTOPSIGNAL SIGTERM\nWORKDIR sub\nUSER 1000:1000\nENTRYPOINT ["node"]\nCMD server.js --port 80\n',
      ),
      [
        { kind: 'workdir', path: '/home/user/sub' },
        { kind: 'user', user: '1000:1000' },
        { kind: 'entrypoint', argv: ['node'] },
        { kind: 'cmd', argv: ['/bin/sh', '-c', 'server.js --port 80'] },
      ],
    );
  });

  it('bad input is INVALID_ARGUMENT naming the line', () => {
    rejectsAt('FROM base\nRUN true\n\nFOO bar\n', 4, /unknown instruction FOO/);
    rejectsAt('RUN true\n', 1, /before the first FROM/);
    rejectsAt('# just a comment\n', 1, /no FROM/);
    rejectsAt('FROM base\nADD http://example.com/a.tgz /a\n', 2, /network/);
    rejectsAt('FROM base\nCOPY ../secret /s\n', 2, /outside the build context/);
    rejectsAt('FROM base\nCOPY --from=nope /a /b\n', 2, /no earlier stage/);
    rejectsAt('FROM base\nENV A="unterminated\n', 2, /unterminated/);
    rejectsAt('FROM base\nRUN --mount=type=cache,target=/x true\n', 2, /--mount/);
    rejectsAt('FROM base\nCOPY onlyone\n', 2, /source and a dest/);
    rejectsAt('FROM base AS x\nFROM base AS x\n', 2, /duplicate stage/);
  });
});

describe('build context', () => {
  const file = (text = '') => ({ data: new TextEncoder().encode(text), mode: 0o644 });
  const context = new Map([
    ['.dockerignore', file('*.log\nsecret/\n!keep.log\n')],
    ['a.log', file()],
    ['keep.log', file()],
    ['secret/key', file()],
    ['src/main.py', file()],
    ['src/lib/util.py', file()],
    ['README.md', file()],
  ]);

  it('.dockerignore drops what it lists (with ! exceptions)', () => {
    assert.deepEqual([...filterContext(context).keys()].sort(), [
      '.dockerignore',
      'README.md',
      'keep.log',
      'src/lib/util.py',
      'src/main.py',
    ]);
  });

  it('selects files, directory contents and globs; refuses escapes and misses', () => {
    assert.deepEqual(selectContextFiles(context, ['README.md'], false), {
      files: [{ source: 'README.md', target: '' }],
      intoDir: false,
    });
    assert.deepEqual(selectContextFiles(context, ['src'], false).files, [
      { source: 'src/lib/util.py', target: 'lib/util.py' },
      { source: 'src/main.py', target: 'main.py' },
    ]);
    assert.deepEqual(
      selectContextFiles(context, ['*.log'], true).files.map((f) => f.target),
      ['a.log', 'keep.log'],
    );
    assert.throws(() => selectContextFiles(context, ['../x'], true), /outside the build context/);
    assert.throws(() => selectContextFiles(context, ['nothing*'], true), /matches no file/);
  });
});
