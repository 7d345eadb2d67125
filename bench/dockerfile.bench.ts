/**
 * Dockerfile builds (issue 13's number): a no-op rebuild of a cached Dockerfile through the
 * API (goal < 1 s), FROM a Paddock template and FROM an image in a registry (whose tag is
 * checked again on every build); for scale, the first build and a rebuild after editing the
 * last line (only that step reruns). Needs root, the built templates, docker-registry.
 */
import { Template } from '@paddock/sdk';
import { baseTemplateImage } from '../test/support/base-image.js';
import { startTestRegistry } from '../test/support/test-registry.js';
import { withBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult, timeIt } from './stats.js';

const REBUILDS = 10;
const steps = (last: string) =>
  [
    'USER root',
    'ARG GREETING=hello',
    'ENV APP_HOME=/opt/app',
    'WORKDIR /opt/app',
    'COPY app.sh /opt/app/app.sh',
    'RUN chmod +x /opt/app/app.sh && echo "$GREETING" > /opt/app/greeting',
    'RUN seq 1 1000 > /opt/app/numbers',
    `RUN echo ${last} > /opt/app/last`,
    'CMD ["/opt/app/app.sh"]',
  ].join('\n');
const context = { 'app.sh': new TextEncoder().encode('#!/bin/sh\ncat /opt/app/greeting\n') };

const registry = await startTestRegistry({ auth: 'none' });
const rows: string[][] = [];
const result: Record<string, unknown> = {};
try {
  const image = await baseTemplateImage({ config: { User: 'user', WorkingDir: '/home/user' } });
  await registry.push(image.layoutDir, image.tag, 'bench/base:1');
  await image.cleanup();
  await withBenchServer({}, async (_server, conn) => {
    const froms = { template: 'FROM base', image: `FROM ${registry.refFor('bench/base', '1')}` };
    for (const [kind, from] of Object.entries(froms)) {
      const build = (last: string) =>
        Template.buildDockerfile(`bench-dockerfile-${kind}`, {
          ...conn,
          requestTimeoutMs: 0,
          dockerfile: `${from}\n${steps(last)}\n`,
          context,
          ...(kind === 'image' ? { insecureRegistry: true } : {}),
        });
      const first = await timeIt(() => build(`first-${Date.now()}`));
      const marker = `steady-${Date.now()}`;
      await build(marker);
      const noop: number[] = [];
      for (let i = 0; i < REBUILDS; i++) noop.push(await timeIt(() => build(marker)));
      const edited = await timeIt(() => build(`edited-${Date.now()}`));
      rows.push([`first build (FROM ${kind})`, fmtMs(first), '', '–']);
      rows.push([`no-op rebuild (FROM ${kind})`, fmtMs(percentile(noop, 50)), fmtMs(Math.max(...noop)), '< 1 s']);
      rows.push([`rebuild after editing the last RUN (FROM ${kind})`, fmtMs(edited), '', '–']);
      result[kind] = { firstMs: first, noopMs: noop, editedMs: edited };
      await Template.remove(`bench-dockerfile-${kind}`, conn);
    }
  });
} finally {
  await registry.close();
}
printTable(rows, ['measure', 'p50', 'max', 'goal']);
saveResult('dockerfile.json', result);
