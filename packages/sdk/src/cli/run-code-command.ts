import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CodeLanguage, Result } from '../code-interpreter.js';
import type { ConnectionOptions } from '../connection.js';
import { attach } from './attach.js';
import { parseDurationMs } from './parse.js';

const LANGUAGES: readonly CodeLanguage[] = ['python', 'javascript', 'bash'];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Images of a result, as file extension and bytes. */
function imagesOf(result: Result): [string, Buffer][] {
  const images: [string, Buffer][] = [];
  if (result.png !== undefined) images.push(['png', Buffer.from(result.png, 'base64')]);
  if (result.jpeg !== undefined) images.push(['jpg', Buffer.from(result.jpeg, 'base64')]);
  if (result.svg !== undefined) images.push(['svg', Buffer.from(result.svg)]);
  return images;
}

/**
 * `paddock run-code ID [FILE]`: runs a cell (from FILE or stdin) in the sandbox's code
 * interpreter, streams its output, prints text results and saves images next to FILE
 * (or into --out). Exits 1 when the cell raised.
 */
export function registerRunCodeCommand(program: Command, conn: () => ConnectionOptions): void {
  program
    .command('run-code')
    .description('run code in a stateful kernel (python, javascript, bash); images are saved as files')
    .argument('<id>', 'sandbox id')
    .argument('[file]', 'file with the code (default: stdin)')
    .option(
      '-l, --language <language>',
      `one of ${LANGUAGES.join(', ')} (default: python, or from the file's extension)`,
    )
    .option('-c, --context <id>', 'code context id (from the SDK: codeContexts.create)')
    .option('--timeout <duration>', 'interrupt the cell after this long (0 = never)', parseDurationMs)
    .option('-o, --out <dir>', 'where to save images (default: next to the file, or the current dir)')
    .action(async (id: string, file: string | undefined, o: Record<string, unknown>) => {
      const language = (o.language as string | undefined) ?? languageOf(file);
      if (language !== undefined && !LANGUAGES.includes(language as CodeLanguage)) {
        throw new Error(`--language must be one of ${LANGUAGES.join(', ')}, got '${language}'`);
      }
      const code = file === undefined || file === '-' ? await readStdin() : await readFile(file, 'utf8');
      const sbx = await attach(id, conn(), 'auto');
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      const outDir = resolve((o.out as string | undefined) ?? (file && file !== '-' ? dirname(file) : '.'));
      const stem = file && file !== '-' ? basename(file, extname(file)) : 'result';
      let saved = 0;
      const ex = await sbx.runCode(code, {
        signal: controller.signal,
        ...(language !== undefined ? { language: language as CodeLanguage } : {}),
        ...(o.context !== undefined ? { context: o.context as string } : {}),
        ...(o.timeout !== undefined ? { timeoutMs: o.timeout as number } : {}),
        onStdout: (text) => process.stdout.write(text),
        onStderr: (text) => process.stderr.write(text),
      });
      for (const result of ex.results) {
        const images = imagesOf(result);
        if (images.length === 0 && result.text !== undefined) process.stdout.write(`${result.text}\n`);
        for (const [ext, bytes] of images) {
          saved += 1;
          await mkdir(outDir, { recursive: true });
          const path = join(outDir, `${stem}-${saved}.${ext}`);
          await writeFile(path, bytes);
          process.stderr.write(`paddock: saved ${path}\n`);
        }
      }
      if (ex.truncated) process.stderr.write('paddock: output was truncated\n');
      if (ex.error !== undefined) {
        process.stderr.write(`${ex.error.traceback || `${ex.error.name}: ${ex.error.value}`}\n`);
        if (ex.timedOut) process.stderr.write('paddock: the cell timed out and was interrupted\n');
        process.exitCode = 1;
      }
    });
}

function languageOf(file: string | undefined): CodeLanguage | undefined {
  const ext = file === undefined ? '' : extname(file);
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return 'javascript';
  if (ext === '.sh' || ext === '.bash') return 'bash';
  return undefined;
}
