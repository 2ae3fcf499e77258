import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './stopChild.js';

/**
 * A real SMTP server for integration tests: Debian's aiosmtpd with its Mailbox handler,
 * which writes each accepted message into a Maildir. `messages()` reads them back,
 * parsed just enough to assert on (headers unfolded and decoded, body decoded).
 * /usr/bin/aiosmtpd runs under the system Python: the `python3` on PATH here may be a
 * pyenv one without the module.
 */
export const AIOSMTPD = '/usr/bin/aiosmtpd';

export interface ReceivedEmail {
  /** Header names lower-cased; RFC 2047 encoded words decoded; the first of repeated headers. */
  readonly headers: ReadonlyMap<string, string>;
  readonly subject: string;
  readonly from: string;
  readonly to: string;
  /** Transfer encoding (quoted-printable, base64) undone, read as UTF-8. */
  readonly body: string;
  readonly raw: string;
}

export interface SmtpTestServer {
  readonly host: string;
  readonly port: number;
  /** Every message accepted so far, oldest first. */
  messages(): Promise<readonly ReceivedEmail[]>;
  /** Resolves once `count` messages arrived; throws after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<readonly ReceivedEmail[]>;
  stop(): Promise<void>;
}

export async function startSmtpServer(options: { readonly binary?: string } = {}): Promise<SmtpTestServer> {
  const binary = options.binary ?? AIOSMTPD;
  try {
    await access(binary, constants.X_OK);
  } catch {
    throw new Error(`AIOSMTPD NOT INSTALLED: apt-get install python3-aiosmtpd (scripts/system-deps.sh); ${binary} is missing`);
  }
  const workDir = await mkdtemp(join(tmpdir(), 'kansoku-smtp-'));
  // Python's Maildir creates its new/cur/tmp only when the directory does not exist yet.
  const mailDir = join(workDir, 'maildir');
  const host = '127.0.0.1';
  const port = await freePort(host);
  const child = spawn(binary, ['-n', '-l', `${host}:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', mailDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitForBanner(child, host, port, 15_000, () => output);
  } catch (error) {
    await stopChild(child);
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }

  const messages = async (): Promise<readonly ReceivedEmail[]> => {
    const newDir = join(mailDir, 'new');
    let names: string[];
    try {
      names = await readdir(newDir);
    } catch {
      return [];
    }
    // Python's Maildir names carry a per-process counter (`Q<n>`): one server process, so it orders them as they arrived.
    const sequence = (name: string): number => Number(/Q(\d+)/.exec(name)?.[1] ?? 0);
    const ordered = names.sort((a, b) => sequence(a) - sequence(b));
    return Promise.all(ordered.map(async (name) => parseEmail(await readFile(join(newDir, name), 'utf8'))));
  };

  return {
    host,
    port,
    messages,
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadlineMs = Date.now() + timeoutMs;
      for (;;) {
        const received = await messages();
        if (received.length >= count) return received;
        if (Date.now() > deadlineMs) throw new Error(`aiosmtpd received ${received.length} messages, not ${count}, within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await stopChild(child, 5_000);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Until the server's 220 greeting arrives; fails early with its output if it exits. */
async function waitForBanner(child: ChildProcess, host: string, port: number, timeoutMs: number, output: () => string): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited with ${child.exitCode} before listening: ${output()}`);
    if (await greets(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`aiosmtpd did not listen on ${host}:${port} within ${timeoutMs} ms: ${output()}`);
}

function greets(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => {
      socket.write('QUIT\r\n');
      done(chunk.toString().startsWith('220'));
    });
  });
}

export function parseEmail(raw: string): ReceivedEmail {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headerText = split === -1 ? text : text.slice(0, split);
  const bodyText = split === -1 ? '' : text.slice(split + 2);
  const headers = new Map<string, string>();
  for (const line of headerText.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, decodeEncodedWords(line.slice(colon + 1).trim()));
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const body = encoding === 'quoted-printable' ? decodeQuotedPrintable(bodyText) : encoding === 'base64' ? Buffer.from(bodyText, 'base64').toString('utf8') : bodyText;
  return { headers, subject: headers.get('subject') ?? '', from: headers.get('from') ?? '', to: headers.get('to') ?? '', body, raw };
}

/** `=?UTF-8?Q?…?=` and `=?UTF-8?B?…?=`; blanks between adjacent encoded words are dropped, as RFC 2047 says. */
function decodeEncodedWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_all, _charset: string, kind: string, data: string) =>
    kind.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i] as string, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
