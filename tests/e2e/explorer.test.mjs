// End-to-end tests of the explorer: `tconv serve` on a free port, Debian's Chromium driven by playwright-core.
// The page's numbers and highlights are checked against `tconv explain --json` (the library, through another
// door), and the server against bad requests.
//   TCONV_CLI      the tconv program (default ../../build/bin/tconv)
//   TCONV_E2E_OUT  where screenshots go (default ../../build/e2e)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const cli = process.env.TCONV_CLI || resolve(here, '../../build/bin/tconv');
const shots = process.env.TCONV_E2E_OUT || resolve(here, '../../build/e2e');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

let server, base, port, browser, page;
const pageErrors = [];

function library(args) {
  return JSON.parse(execFileSync(cli, ['explain', '--json', ...args], { encoding: 'utf8' }));
}

async function startServer() {
  server = spawn(cli, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((ok, fail) => {
    let buf = '';
    server.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) ok(buf.split('\n')[0]);
    });
    server.on('exit', (code) => fail(new Error(`tconv serve exited with ${code}`)));
    setTimeout(() => fail(new Error('tconv serve printed no address')), 10000);
  });
  const m = line.match(/http:\/\/([\d.]+):(\d+)\//);
  assert.ok(m, `unexpected first line: ${line}`);
  assert.equal(m[1], '127.0.0.1', 'the server listens on localhost by default');
  port = Number(m[2]);
  base = `http://127.0.0.1:${port}`;
}

// The last answer the page drew; waits until the page is ready after an action.
async function settled(previous) {
  await page.waitForFunction((v) => document.body.dataset.state !== 'loading' && document.body.dataset.version !== v,
    previous, { timeout: 10000 });
}
const version = () => page.evaluate(() => document.body.dataset.version);

async function act(fn) {
  const v = await version();
  await fn();
  await settled(v);
}

async function gridValues(name, ch) {
  return page.$$eval(`table[data-grid="${name}"][data-ch="${ch}"] td`, (tds) => tds.map((td) => Number(td.dataset.value)));
}
async function highlighted(name, ch) {
  return page.$$eval(`table[data-grid="${name}"][data-ch="${ch}"] td.hl`, (tds) => tds.map((td) => td.dataset.pos).sort());
}
async function outputValues(oc = 0) {
  return page.$$eval(`#output-grids button[data-oc="${oc}"]`, (bs) => bs.map((b) => Number(b.closest('td').dataset.value)));
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-proxy-server'],
  });
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(base + '/');
  await page.waitForSelector('body[data-state=ready]', { timeout: 15000 });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill();
});

test('the page opens on seed 000 and shows the library\'s output', async () => {
  const lib = library(['--example', 'seed000-2d']);
  assert.deepEqual(await outputValues(), lib.distribute.output.values);
  assert.match(await page.textContent('#seed-check'), /This is the output the seed prints/);
  assert.match(await page.textContent('#agree'), /agree exactly/);
  assert.equal(await page.textContent('#sizes').then((t) => t.split('\n')[0]), `problem ${lib.problem.string}`);
});

test('changing a kernel value updates the output at once, as the library computes it', async () => {
  await act(() => page.fill('table[data-grid="kernel-edit"] input[data-idx="4"]', '5'));
  const lib = library(['--input', '[[1,2],[3,4]]', '--kernel', '[[1,1,1],[0,5,0],[-1,-1,-1]]', '--stride', '2', '--padding', '1']);
  assert.deepEqual(await outputValues(), lib.distribute.output.values);
  assert.deepEqual(await gridValues('kernel-edit', '0,0'), [1, 1, 1, 0, 5, 0, -1, -1, -1]);
  assert.match(await page.textContent('#seed-check'), /your values differ/);
});

test('clicking an output cell shows its formula and highlights its terms in both views', async () => {
  await act(() => page.click('#output-grids button[data-oc="0"][data-pos="1,2"]'));
  const lib = library(['--input', '[[1,2],[3,4]]', '--kernel', '[[1,1,1],[0,5,0],[-1,-1,-1]]', '--stride', '2', '--padding', '1',
    '--cell', '1,2']);
  const terms = lib.cell.terms;
  const value = lib.distribute.output.values[1 * 3 + 2];
  assert.ok(terms.length > 0);
  assert.ok((await page.textContent('#formula-num')).endsWith(`= ${value}`));
  assert.equal(await page.getAttribute('#output-grids button[data-pos="1,2"]', 'aria-pressed'), 'true');
  const set = (f) => [...new Set(terms.map(f))].sort();
  assert.deepEqual(await highlighted('dist-input', 0), set((t) => t.input.join(',')));
  assert.deepEqual(await highlighted('dist-kernel', 0), set((t) => t.kernel.join(',')));
  assert.deepEqual(await highlighted('padded', 0), set((t) => t.padded.join(',')));
  assert.deepEqual(await highlighted('flipped', 0), set((t) => t.flipped.join(',')));
  // The flipped kernel is the kernel turned 180 degrees, and it is what the collect view shows.
  assert.deepEqual(await gridValues('flipped', 0), lib.collect.flipped.values);
  assert.deepEqual(await gridValues('padded', 0), lib.collect.padded.values);
  // The row of C^T for output cell (1, 2) of a 3x3 output: row 5, its non-zeros are the terms' weights.
  const row = await page.$$eval('table[data-grid="ct"] tr.hl', (trs) => trs.map((tr) => tr.dataset.row));
  assert.deepEqual(row, ['5']);
  const cells = await page.$$eval('table[data-grid="ct"] tr.hl td.nz', (tds) => tds.map((td) => Number(td.textContent)));
  const weights = lib.matrix.C_triplets.filter((t) => t[1] === 5).map((t) => t[2]);
  assert.deepEqual(cells, weights);
  await page.screenshot({ path: join(shots, 'explorer-cell.png'), fullPage: true });
});

test('the distribute view steps by keyboard through the library\'s steps', async () => {
  const lib = library(['--input', '[[1,2],[3,4]]', '--kernel', '[[1,1,1],[0,5,0],[-1,-1,-1]]', '--stride', '2', '--padding', '1']);
  await page.focus('#stepper');
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.match(await page.textContent('#step-label'), /^Step 2 of 4: x\[0\]\[0,1\] = 2 times the kernel/);
  assert.deepEqual(await gridValues('step-full', 0), lib.distribute.steps[1].running);
  assert.deepEqual(await highlighted('step-input', 0), ['0,1']);
  await page.keyboard.press('End');
  assert.match(await page.textContent('#step-label'), /^Step 4 of 4/);
  assert.deepEqual(await gridValues('step-full', 0), lib.distribute.full.values);
  await page.keyboard.press('ArrowLeft');
  assert.match(await page.textContent('#step-label'), /^Step 3 of 4/);
  // Play animates to the end.
  await page.click('#step-first');
  await page.click('#step-play');
  await page.waitForFunction(() => document.getElementById('step-label').textContent.startsWith('Step 4 of 4'), null, { timeout: 10000 });
});

test('every seed example can be reproduced from the presets', async () => {
  const names = JSON.parse(await (await fetch(base + '/api/examples')).text()).map((e) => e.name);
  const listed = execFileSync(cli, ['explain', '--list-examples'], { encoding: 'utf8' });
  for (const n of names) assert.ok(listed.includes(n), `${n} is a library example`);
  assert.ok(names.length >= 8);
  for (const name of names) {
    await act(() => page.selectOption('#preset', name));
    const lib = library(['--example', name]);
    const oc = lib.problem.out_channels;
    const got = [];
    for (let c = 0; c < oc; c++) got.push(...await outputValues(c));
    assert.deepEqual(got, lib.distribute.output.values, name);
    const seed = await page.textContent('#seed-check');
    if (seed) assert.match(seed, /This is the output the seed prints/, name);
    assert.match(await page.textContent('#agree'), /agree exactly/, name);
  }
  await act(() => page.selectOption('#preset', 'seed003'));
  await page.screenshot({ path: join(shots, 'explorer-seed003.png'), fullPage: true });
});

test('a bad layer is stated in the page, and fixing it recovers', async () => {
  await act(() => page.selectOption('#preset', 'seed000-2d'));
  await act(() => page.fill('#output_padding', '3'));
  assert.ok(await page.isVisible('#error'));
  assert.match(await page.textContent('#error'), /output_padding op\[0\]=3 must be smaller than stride/);
  await act(() => page.fill('#output_padding', '1'));
  assert.ok(!(await page.isVisible('#error')));
  assert.deepEqual((await outputValues()).length, 16);
  await act(() => page.fill('#padding', '4'));
  assert.match(await page.textContent('#error'), /output size .* must be positive/);
  await act(() => page.fill('#padding', '1'));
  await act(() => page.fill('#output_padding', '0'));
  assert.ok(!(await page.isVisible('#error')));
  // Not a number in a per-axis field: said in the page before anything is sent.
  await page.fill('#stride', '2,x');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /stride: "2,x" is not a whole number/);
  await act(() => page.fill('#stride', '2'));
});

test('1-D, channels, groups, dilation and bias go through the library', async () => {
  await act(() => page.selectOption('#rank', '1'));
  await act(() => page.fill('#isize', '3'));
  await act(() => page.fill('#ksize', '2'));
  await act(() => page.fill('#ic', '2'));
  await act(() => page.fill('#oc', '2'));
  await act(() => page.fill('#groups', '2'));
  await act(() => page.fill('#dilation', '2'));
  await act(() => page.check('#use-bias'));
  await act(() => page.click('#fill-random'));
  const x = await gridValues('input-edit', 0).then(async (a) => [a, await gridValues('input-edit', 1)]);
  const w = [[await gridValues('kernel-edit', '0,0')], [await gridValues('kernel-edit', '1,0')]];
  const b = await gridValues('bias-edit', 0);
  const lib = library(['--input', JSON.stringify(x), '--kernel', JSON.stringify(w), '--bias', JSON.stringify(b), '--stride', '2',
    '--padding', '1', '--groups', '2', '--dilation', '2', '--channel', '1', '--cell', '1']);
  assert.deepEqual([...await outputValues(0), ...await outputValues(1)], lib.distribute.output.values);
  await act(() => page.click('#output-grids button[data-oc="1"][data-pos="1"]'));
  assert.ok((await page.textContent('#formula-num')).endsWith(`= ${lib.distribute.output.values[lib.problem.output[0] + 1]}`));
  assert.equal(lib.cell.terms.length, 2);  // full position 2 = 2*0 + 2*1 = 2*1 + 2*0
  assert.deepEqual(await highlighted('dist-input', 1), [...new Set(lib.cell.terms.map((t) => t.input.join(',')))].sort());
  assert.deepEqual(await highlighted('dist-input', 0), []);  // the other group
  await page.screenshot({ path: join(shots, 'explorer-1d.png'), fullPage: true });
});

test('the translation tabs show the library\'s code', async () => {
  await act(() => page.selectOption('#preset', 'seed003-stride'));
  const shape = JSON.parse(execFileSync(cli, ['explain', '--json', '--example', 'seed003-stride'], { encoding: 'utf8' })).problem;
  const attrs = ['--attr', `stride=${shape.stride.join(',')}`, '--attr', `padding=${shape.pad_begin.join(',')}`,
    '--attr', `output_padding=${shape.output_padding.join(',')}`, '--attr', 'groups=1', '--attr', `dilation=${shape.dilation.join(',')}`];
  const lib = JSON.parse(execFileSync(cli, ['translate', '--json', '--input-shape', `1,${shape.in_channels},${shape.input.join(',')}`,
    '--weight-shape', `${shape.in_channels},${shape.out_channels},${shape.kernel.join(',')}`, ...attrs], { encoding: 'utf8' }));
  for (const [tab, fw] of [['PyTorch', 'pytorch'], ['TensorFlow', 'tensorflow'], ['ONNX', 'onnx'], ['JAX', 'jax']]) {
    await page.click(`#tabs [data-fw="${fw}"]`);
    assert.equal(await page.getAttribute(`#tabs [data-fw="${fw}"]`, 'aria-selected'), 'true', tab);
    assert.equal(await page.textContent('#code'), lib.targets[fw].code, tab);
  }
  // Arrow keys move between tabs.
  await page.focus('#tabs [data-fw="jax"]');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tabs [data-fw="pytorch"]', 'aria-selected'), 'true');
});

test('the server answers bad requests with a clear 4xx and keeps running', async () => {
  const post = (body) => fetch(base + '/api/explain', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  let r = await post('{"input": [1, 2');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /not valid JSON/);
  r = await post('[1, 2, 3]');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /expected a JSON object/);
  r = await post(JSON.stringify({ input: { shape: [1, 1e9, 1e9], values: [] }, kernel: { shape: [1, 1, 3, 3], values: Array(9).fill(1) } }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /input.shape=1000000000 must lie in \[1, 2048\]/);
  r = await post(JSON.stringify({ input: { shape: [1, 40, 40], values: Array(1600).fill(1) }, kernel: { shape: [1, 1, 3, 3], values: Array(9).fill(1) }, stride: 8 }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /too large|limit|at most/i);
  r = await post(JSON.stringify({ input: { shape: [1, 2], values: [1] }, kernel: { shape: [1, 1, 3], values: [1, 1, 1] } }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /input.values has 1 numbers; the shape \[1,2\] needs 2/);
  r = await post(JSON.stringify({ input: { shape: [1, 2], values: [1, 2] }, kernel: { shape: [1, 1, 3], values: [1, 1, 1] }, stride: 'two' }));
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /stride: expected an integer/);
  r = await post('x'.repeat(2 << 20));
  assert.equal(r.status, 413);
  r = await fetch(base + '/api/explain');
  assert.equal(r.status, 405);
  r = await fetch(base + '/no/such/page');
  assert.equal(r.status, 404);
  // Still serving, and still right.
  r = await post(JSON.stringify({ input: { shape: [1, 2], values: [2, 3] }, kernel: { shape: [1, 1, 3], values: [1, 2, 3] }, stride: 2 }));
  assert.equal(r.status, 200);
  assert.deepEqual((await r.json()).distribute.output.values, [2, 4, 9, 6, 9]);
  assert.equal(server.exitCode, null);
});

test('the server binds to localhost only by default', () => {
  // /proc/net/tcp lists listening sockets (state 0A) with their local address in hex: 0100007F is 127.0.0.1.
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[1].endsWith(':' + hex) && f[3] === '0A');
  assert.ok(rows.length >= 1, 'the listening socket is in /proc/net/tcp');
  for (const f of rows) assert.equal(f[1], `0100007F:${hex}`);
  const v6 = readFileSync('/proc/net/tcp6', 'utf8');
  assert.ok(!v6.split('\n').some((l) => l.includes(':' + hex + ' ') && l.includes(' 0A ')), 'no IPv6 listener');
});

test('no script errors on the page', () => {
  assert.deepEqual(pageErrors, []);
});
