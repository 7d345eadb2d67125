import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { parseTemplateSpec, specHash } from '../../packages/server/src/templates/spec.js';

function invalid(text: string, field: RegExp): void {
  assert.throws(
    () => parseTemplateSpec(text),
    (err: unknown) => {
      assert.ok(err instanceof PaddockError, `not a PaddockError: ${String(err)}`);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, field);
      return true;
    },
  );
}

describe('parseTemplateSpec', () => {
  it('reads YAML and fills defaults', () => {
    const spec = parseTemplateSpec('packages: [python3]\nenv:\n  LANG: C.UTF-8\n');
    assert.deepEqual(spec, {
      from: 'debian:bookworm',
      packages: ['python3'],
      run: [],
      files: [],
      env: { LANG: 'C.UTF-8' },
      workdir: '/home/user',
      user: 'user',
    });
  });

  it('reads JSON', () => {
    const spec = parseTemplateSpec('{"packages": ["git"], "files": [{"dest": "/etc/x", "content": "x", "mode": 420}]}');
    assert.deepEqual(spec.packages, ['git']);
    assert.equal(spec.files[0]?.mode, 0o644);
  });

  it('reads an empty document as the default spec', () => {
    assert.equal(parseTemplateSpec('').user, 'user');
  });

  it('names an unknown field', () => {
    invalid('packages: [git]\npackage: [vim]\n', /^package: unknown field/);
    invalid('files:\n  - dest: /x\n    content: y\n    owner: root\n', /^files\[0\]\.owner: unknown field/);
  });

  it('names a bad package name with its index', () => {
    invalid('packages: [git, python3, "Not A Package"]\n', /^packages\[2\]: not a Debian package name/);
  });

  it('names a relative file dest', () => {
    invalid('files:\n  - dest: etc/motd\n    content: hi\n', /^files\[0\]\.dest: dest must be an absolute path/);
  });

  it('rejects a file with both content and src', () => {
    invalid('files:\n  - dest: /a\n    content: x\n    src: a.txt\n', /^files\[0\]: give exactly one/);
  });

  it('reports YAML syntax errors with their position', () => {
    invalid('packages: [git\nrun: [', /not valid YAML or JSON: .*line/);
  });

  it('reads a start command with its ready check', () => {
    const spec = parseTemplateSpec(
      'start:\n  command: python3 -m http.server 8000\n  ready: { port: 8000, timeoutMs: 5000 }\n',
    );
    assert.deepEqual(spec.start, { command: 'python3 -m http.server 8000', ready: { port: 8000, timeoutMs: 5000 } });
  });

  it('names start.ready when it gives two checks or none', () => {
    invalid(
      'start:\n  command: x\n  ready: { port: 80, command: "true" }\n',
      /^start\.ready: give exactly one of command, port or url/,
    );
    invalid(
      'start:\n  command: x\n  ready: { timeoutMs: 100 }\n',
      /^start\.ready: give exactly one of command, port or url/,
    );
    invalid('start:\n  command: x\n  ready: { url: "not a url" }\n', /^start\.ready\.url: /);
    invalid('start:\n  ready: { port: 80 }\n', /^start\.command: /);
  });

  it('rejects a document that is not a mapping', () => {
    invalid('- git\n- vim\n', /^spec: /);
  });
});

describe('specHash', () => {
  const base = parseTemplateSpec('packages: [python3, git]\nenv: {A: "1", B: "2"}\nrun: ["echo hi"]\n');

  it('is 16 hex chars and stable', () => {
    const hash = specHash(base);
    assert.match(hash, /^[0-9a-f]{16}$/);
    assert.equal(
      specHash(parseTemplateSpec('packages: [python3, git]\nenv: {A: "1", B: "2"}\nrun: ["echo hi"]\n')),
      hash,
    );
  });

  it('ignores key order, package order and defaults written out', () => {
    const reordered = parseTemplateSpec(
      '{"run": ["echo hi"], "user": "user", "env": {"B": "2", "A": "1"}, "packages": ["git", "python3", "git"]}',
    );
    assert.equal(specHash(reordered), specHash(base));
  });

  it('changes when a package, a run step or an env value changes', () => {
    const hashes = new Set([
      specHash(base),
      specHash({ ...base, packages: ['python3', 'vim'] }),
      specHash({ ...base, run: ['echo ho'] }),
      specHash({ ...base, env: { A: '1', B: '3' } }),
      specHash({ ...base, user: 'alice' }),
    ]);
    assert.equal(hashes.size, 5);
  });

  it('changes with the start command and its ready check', () => {
    const plain = parseTemplateSpec('packages: [git]\n');
    const started = parseTemplateSpec('packages: [git]\nstart: { command: "sleep 1" }\n');
    const ready = parseTemplateSpec('packages: [git]\nstart: { command: "sleep 1", ready: { port: 1 } }\n');
    assert.equal(new Set([specHash(plain), specHash(started), specHash(ready)]).size, 3);
  });

  it('covers the bytes of src files and requires them', () => {
    const spec = parseTemplateSpec('files: [{dest: /app/main.py, src: main.py}]\n');
    const a = specHash(spec, { 'main.py': new TextEncoder().encode('print(1)') });
    const b = specHash(spec, new Map([['main.py', new TextEncoder().encode('print(2)')]]));
    assert.notEqual(a, b);
    assert.throws(() => specHash(spec), /files\[0\]\.src: context file "main.py" was not provided/);
  });

  it('parses the built-in specs', async () => {
    const { readFile } = await import('node:fs/promises');
    for (const name of ['base', 'code-interpreter']) {
      const spec = parseTemplateSpec(await readFile(new URL(`../../templates/${name}.yaml`, import.meta.url), 'utf8'));
      assert.equal(spec.user, 'user');
      assert.ok(spec.packages.includes('python3'));
    }
  });
});

describe('specs from an image or a template', () => {
  it('takes from: { image } and keeps the image defaults (no Debian user or workdir)', () => {
    const spec = parseTemplateSpec(
      'from: { image: "registry:5000/team/agent:1.4", insecure: true }\nenv: { A: "1" }\n',
    );
    assert.deepEqual(spec.from, { image: 'registry:5000/team/agent:1.4', insecure: true });
    assert.equal(spec.user, undefined);
    assert.equal(spec.workdir, undefined);
    assert.equal(parseTemplateSpec('from: { template: base }\nuser: "1000:1000"\n').user, '1000:1000');
  });

  it('refuses Debian packages on an image, and malformed bases, naming the field', () => {
    invalid('from: { image: "python:3.12" }\npackages: [jq]\n', /^packages: Debian packages install only on/);
    invalid('from: { image: "" }\n', /^from/);
    invalid('from: { template: "Not A Name" }\n', /^from/);
    invalid('from: { image: x, registry: y }\n', /registry/);
    invalid('from: debian:trixie\n', /^from/);
  });

  it('keeps the content hash of Debian specs as it was (built templates stay cached)', () => {
    // The hash of `packages: [jq]` before image bases existed: a changed hash would rebuild
    // every Debian template (the built-in ones included) after an upgrade.
    assert.equal(specHash(parseTemplateSpec('packages: [jq]\n')), '769167fcf6055114');
    assert.equal(specHash(parseTemplateSpec('packages: [jq]\nuser: user\nworkdir: /home/user\n')), '769167fcf6055114');
  });
});
