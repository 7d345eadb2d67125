import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { dockerTransportRef, parseImageRef } from '../../packages/server/src/templates/images/image-ref.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageRef', () => {
  it('normalizes Docker Hub short names like docker does', () => {
    assert.deepEqual(parseImageRef('python:3.12-slim'), {
      registry: 'docker.io',
      repository: 'library/python',
      tag: '3.12-slim',
      canonical: 'docker.io/library/python:3.12-slim',
    });
    assert.equal(parseImageRef('ubuntu').canonical, 'docker.io/library/ubuntu:latest');
    assert.equal(parseImageRef('someone/tool').canonical, 'docker.io/someone/tool:latest');
    assert.equal(parseImageRef('index.docker.io/library/debian:12').canonical, 'docker.io/library/debian:12');
  });

  it('keeps a registry host with a port, a dot or localhost', () => {
    const ref = parseImageRef('registry:5000/team/agent:1.4');
    assert.equal(ref.registry, 'registry:5000');
    assert.equal(ref.repository, 'team/agent');
    assert.equal(ref.tag, '1.4');
    assert.equal(parseImageRef('ghcr.io/org/img').registry, 'ghcr.io');
    assert.equal(parseImageRef('localhost/img:x').registry, 'localhost');
    assert.equal(parseImageRef('198.18.20.10:5000/a/b:c').registry, '198.18.20.10:5000');
  });

  it('pins by digest, with or without a tag; skopeo gets the digest alone', () => {
    const pinned = parseImageRef(`registry:5000/team/agent@${DIGEST}`);
    assert.equal(pinned.digest, DIGEST);
    assert.equal(pinned.tag, undefined);
    const both = parseImageRef(`python:3.12@${DIGEST}`);
    assert.equal(both.canonical, `docker.io/library/python:3.12@${DIGEST}`);
    assert.equal(dockerTransportRef(both), `docker://docker.io/library/python@${DIGEST}`);
    assert.equal(dockerTransportRef(parseImageRef('python')), 'docker://docker.io/library/python:latest');
  });

  for (const bad of [
    '',
    ' python',
    'Python:3',
    'python:',
    'python:-x',
    `python@sha256:${'a'.repeat(63)}`,
    'python@md5:abc',
    'team//agent',
    'bad_host:x:5000/a',
    'a/b:c:d',
    `docker.io/${'a'.repeat(260)}`,
  ]) {
    it(`refuses ${JSON.stringify(bad)} with INVALID_ARGUMENT naming it`, () => {
      assert.throws(
        () => parseImageRef(bad),
        (error: unknown) =>
          error instanceof PaddockError && error.code === 'INVALID_ARGUMENT' && error.message.includes(`"${bad}"`),
      );
    });
  }
});
