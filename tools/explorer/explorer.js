// The explorer page. It keeps the layer the person is building, sends it to /api/explain on every change, and
// draws what the tconv library answers: values, formulas, highlights, steps, matrices and code. No arithmetic
// of the transposed convolution happens here.
'use strict';

const $ = (id) => document.getElementById(id);
const prod = (a) => a.reduce((x, y) => x * y, 1);

const state = {
  rank: 2, ic: 1, oc: 1, groups: 1, isize: [2, 2], ksize: [3, 3],
  params: { stride: '2', padding: '1', output_padding: '0', dilation: '1' },
  input: [], kernel: [], bias: [0], useBias: false,
  example: null, cell: { channel: 0, position: [0, 0] }, step: 0, timer: null,
};
let examples = [];
let result = null;      // the last answer of /api/explain
let sent = 0;           // requests sent, to drop stale answers
let pending = null;     // debounce timer
let tab = 'pytorch';

// ------------------------------------------------------------------ small helpers

function fmt(v) {
  if (Number.isInteger(v)) return String(v);
  const s = Number(v).toPrecision(4);
  return s.includes('e') ? s : s.replace(/\.?0+$/, '');
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// "2" or "2,1" -> [2] or [2, 1]; null with a message when it is not that.
function parseInts(text, name) {
  const parts = String(text).split(',').map((s) => s.trim());
  if (parts.some((p) => !/^-?\d+$/.test(p))) throw new Error(`${name}: "${text}" is not a whole number or a comma-separated list of them`);
  return parts.map(Number);
}

function perAxis(text, name) {
  const v = parseInts(text, name);
  if (v.length !== 1 && v.length !== state.rank)
    throw new Error(`${name}: give one value or ${state.rank} (one per axis), got ${v.length}`);
  return v;
}

function sizes(text, name) {
  const v = perAxis(text, name);
  const full = v.length === 1 ? Array(state.rank).fill(v[0]) : v;
  for (const x of full) if (x < 1 || x > 64) throw new Error(`${name}: ${x} must lie in [1, 64]`);
  return full;
}

// Keeps the values that still have a place when a tensor's shape changes (new places get `fill`).
function resize(values, oldShape, newShape, fill) {
  const out = new Array(prod(newShape)).fill(fill);
  if (!values || !oldShape || oldShape.length !== newShape.length) return out;
  const n = newShape.length, idx = new Array(n).fill(0);
  for (let f = 0; f < out.length; f++) {
    let ok = true, of = 0;
    for (let a = 0; a < n; a++) {
      if (idx[a] >= oldShape[a]) { ok = false; break; }
      of = of * oldShape[a] + idx[a];
    }
    if (ok && of < values.length) out[f] = values[of];
    for (let a = n - 1; a >= 0; a--) { if (++idx[a] < newShape[a]) break; idx[a] = 0; }
  }
  return out;
}

const inputShape = () => [state.ic, ...state.isize];
const kernelShape = () => [state.ic, state.oc / state.groups, ...state.ksize];

// Multi-index of flat position f in shape.
function unflat(f, shape) {
  const idx = new Array(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) { idx[a] = f % shape[a]; f = Math.floor(f / shape[a]); }
  return idx;
}
const key = (pos) => pos.join(',');
const axisWords = () => (state.rank === 1 ? ['position'] : ['row', 'column']);

// ------------------------------------------------------------------ grids

// A grid of one 1-D or 2-D slice. opts: values (flat, this slice), shape (spatial), caption, name (data-grid),
// ch (data-ch), cls(pos) -> class list, cell(pos, value) -> content element (default the number),
// label(pos) -> aria label prefix.
function grid(opts) {
  const shape = opts.shape.length === 1 ? [1, opts.shape[0]] : opts.shape;
  const table = el('table', { class: 'grid', 'data-grid': opts.name, 'data-ch': opts.ch ?? 0 });
  for (let r = 0; r < shape[0]; r++) {
    const tr = el('tr');
    for (let c = 0; c < shape[1]; c++) {
      const pos = opts.shape.length === 1 ? [c] : [r, c];
      const f = r * shape[1] + c;
      const v = opts.values[f];
      const td = el('td', { 'data-pos': key(pos), 'data-value': v });
      const cls = opts.cls ? opts.cls(pos, f) : [];
      if (cls.length) td.className = cls.join(' ');
      td.append(opts.cell ? opts.cell(pos, v, f) : fmt(v));
      tr.append(td);
    }
    table.append(tr);
  }
  return el('figure', {}, el('figcaption', { text: opts.caption }), table);
}

// Frame classes for cells inside the box [lo, lo + size).
function frame(pos, lo, size) {
  const inside = pos.every((p, a) => p >= lo[a] && p < lo[a] + size[a]);
  if (!inside) return [];
  const cls = ['win'];
  const last = pos.length - 1;
  if (pos.length === 2) {
    if (pos[0] === lo[0]) cls.push('edge-t');
    if (pos[0] === lo[0] + size[0] - 1) cls.push('edge-b');
  } else {
    cls.push('edge-t', 'edge-b');
  }
  if (pos[last] === lo[last]) cls.push('edge-l');
  if (pos[last] === lo[last] + size[last] - 1) cls.push('edge-r');
  return cls;
}

// ------------------------------------------------------------------ the editable data

function editableGrids() {
  const ins = $('input-grids'), ker = $('kernel-grids'), bia = $('bias-grid');
  ins.replaceChildren(); ker.replaceChildren(); bia.replaceChildren();
  const sp = prod(state.isize), kp = prod(state.ksize);
  const edit = (arr, name) => (pos, v, f, base) => {
    const i = el('input', {
      value: fmt(v), inputmode: 'decimal', 'data-idx': base + f, 'aria-label': `${name} ${pos.map((p, a) => `${axisWords()[a]} ${p}`).join(' ')}`,
    });
    i.addEventListener('input', () => {
      const x = Number(i.value.trim());
      if (i.value.trim() === '' || !Number.isFinite(x)) { i.classList.add('bad'); return; }
      i.classList.remove('bad');
      i.parentElement.dataset.value = x;
      state[arr][base + f] = x;
      schedule();
    });
    return i;
  };
  for (let c = 0; c < state.ic; c++) {
    const base = c * sp;
    ins.append(grid({
      name: 'input-edit', ch: c, shape: state.isize, values: state.input.slice(base, base + sp),
      caption: `input${state.ic > 1 ? ` channel ${c}` : ''} x`,
      cell: (pos, v, f) => edit('input', `input channel ${c}`)(pos, v, f, base),
    }));
  }
  const ocg = state.oc / state.groups;
  for (let c = 0; c < state.ic; c++) {
    for (let o = 0; o < ocg; o++) {
      const base = (c * ocg + o) * kp;
      ker.append(grid({
        name: 'kernel-edit', ch: `${c},${o}`, shape: state.ksize, values: state.kernel.slice(base, base + kp),
        caption: `kernel w${state.ic * ocg > 1 ? `[${c},${o}]` : ''}`,
        cell: (pos, v, f) => edit('kernel', `kernel ${c},${o}`)(pos, v, f, base),
      }));
    }
  }
  if (state.useBias) {
    bia.append(grid({
      name: 'bias-edit', ch: 0, shape: [state.oc], values: state.bias, caption: 'bias b (one per output channel)',
      cell: (pos, v, f) => edit('bias', 'bias')(pos, v, f, 0),
    }));
  }
}

// ------------------------------------------------------------------ talking to the server

function request() {
  const p = state.params;
  return {
    input: { shape: inputShape(), values: state.input },
    kernel: { shape: kernelShape(), values: state.kernel },
    bias: state.useBias ? state.bias : null,
    stride: perAxis(p.stride, 'stride'), padding: perAxis(p.padding, 'padding'),
    output_padding: perAxis(p.output_padding, 'output padding'), dilation: perAxis(p.dilation, 'dilation'),
    groups: state.groups, cell: state.cell, example: state.example,
  };
}

let finished = 0;  // updates drawn or refused: data-version on the body, for tests and tools that wait
function done(stateName) {
  document.body.dataset.state = stateName;
  document.body.dataset.version = String(++finished);
}

function showError(msg) {
  clearTimeout(pending);
  const e = $('error');
  e.textContent = msg;
  e.hidden = false;
  done('error');
}

function schedule(now = false) {
  clearTimeout(pending);
  document.body.dataset.state = 'loading';
  pending = setTimeout(send, now ? 0 : 120);
}

async function send() {
  let body;
  try {
    body = JSON.stringify(request());
  } catch (err) {
    showError(err.message);
    return;
  }
  const mine = ++sent;
  let res, answer;
  try {
    res = await fetch('/api/explain', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    answer = await res.json();
  } catch (err) {
    if (mine === sent) showError(`The tconv server does not answer (${err.message}). Is tconv serve still running?`);
    return;
  }
  if (mine !== sent) return;
  if (!res.ok) { showError(answer.error || `HTTP ${res.status}`); return; }
  $('error').hidden = true;
  result = answer;
  render();
  done('ready');
}

// ------------------------------------------------------------------ drawing an answer

function termsOf(r) { return (r.cell && r.cell.terms) || []; }

function render() {
  const r = result;
  $('sizes').textContent = `problem ${r.problem.string}\n` + r.sizes.join('\n');
  renderOutput(r);
  renderCell(r);
  renderDistribute(r);
  state.step = Math.min(state.step, r.distribute.steps ? r.distribute.steps.length : 0);
  renderStep();
  renderCollect(r);
  renderMatrix(r);
  renderOverlap(r);
  renderTranslate();
}

function renderOutput(r) {
  const box = $('output-grids');
  box.replaceChildren();
  const shape = r.distribute.output.shape, sp = shape.slice(1), n = prod(sp);
  const vals = r.distribute.output.values;
  for (let c = 0; c < shape[0]; c++) {
    box.append(grid({
      name: 'output', ch: c, shape: sp, values: vals.slice(c * n, (c + 1) * n),
      caption: `output${shape[0] > 1 ? ` channel ${c}` : ''} y (${sp.join('\u00d7')})`,
      cls: (pos) => (c === r.cell.channel && key(pos) === key(r.cell.position) ? ['sel'] : []),
      cell: (pos, v) => el('button', {
        type: 'button', class: 'cell', 'data-oc': c, 'data-pos': key(pos), text: fmt(v),
        'aria-label': `output channel ${c} ${pos.map((p, a) => `${axisWords()[a]} ${p}`).join(' ')}: ${fmt(v)}`,
        'aria-pressed': String(c === r.cell.channel && key(pos) === key(r.cell.position)),
        onclick: () => { state.cell = { channel: c, position: pos }; schedule(true); },
        onkeydown: (ev) => moveFocus(ev, c, pos, sp),
      }),
    }));
  }
  $('agree').innerHTML = '';
  $('agree').append(r.agree
    ? el('span', { class: 'ok', text: 'Distribute, collect, the matrix and the gradient agree exactly.' })
    : el('span', { class: 'warn', text: `The four views differ by up to ${fmt(r.disagreement)}.` }));
  const seed = $('seed-check');
  seed.replaceChildren();
  if (r.seed) {
    if (r.seed.matches) seed.append(el('span', { class: 'ok', text: 'This is the output the seed prints.' }));
    else if (!r.seed.same_layer) seed.append(el('span', { class: 'hint', text: 'You changed the seed\u2019s layer; its printed output no longer applies.' }));
    else seed.append(el('span', { class: 'hint', text: `The seed prints ${r.seed.expected.map(fmt).join(', ')}; your values differ.` }));
  }
}

// Arrow keys move between output cells.
function moveFocus(ev, c, pos, sp) {
  const d = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }[ev.key];
  if (!d) return;
  const next = pos.length === 1 ? [pos[0] + d[1]] : [pos[0] + d[0], pos[1] + d[1]];
  if (next.some((p, a) => p < 0 || p >= sp[a])) return;
  ev.preventDefault();
  const b = document.querySelector(`#output-grids button[data-oc="${c}"][data-pos="${key(next)}"]`);
  if (b) b.focus();
}

function renderCell(r) {
  const f = r.formula;
  $('formula-sym').textContent = f.symbols;
  $('formula-num').textContent = f.numbers;
  const zt = f.zero_taps;
  $('zero-taps').textContent = `${f.terms_count} product${f.terms_count === 1 ? ' meets' : 's meet'} here. The collect view also `
    + `multiplies ${zt} zero${zt === 1 ? '' : 's'} (inserted zeros, padding or dilation holes) for this cell.`;
}

function renderDistribute(r) {
  const box = $('dist-grids');
  box.replaceChildren();
  const terms = termsOf(r);
  const p = r.problem, sp = prod(p.input), kp = prod(p.kernel), ocg = p.out_channels / p.groups;
  const oc = r.cell.channel, og = oc % ocg;
  const inHl = new Set(terms.map((t) => `${t.input_channel}|${key(t.input)}`));
  const kHl = new Set(terms.map((t) => `${t.input_channel}|${key(t.kernel)}`));
  for (let c = 0; c < p.in_channels; c++) {
    box.append(grid({
      name: 'dist-input', ch: c, shape: p.input, values: r.input.values.slice(c * sp, (c + 1) * sp),
      caption: `input${p.in_channels > 1 ? ` channel ${c}` : ''}`, cls: (pos) => (inHl.has(`${c}|${key(pos)}`) ? ['hl'] : []),
    }));
  }
  const icg = p.in_channels / p.groups, grp = Math.floor(oc / ocg);
  for (let c = grp * icg; c < (grp + 1) * icg; c++) {
    const base = (c * ocg + og) * kp;
    box.append(grid({
      name: 'dist-kernel', ch: c, shape: p.kernel, values: r.kernel.values.slice(base, base + kp),
      caption: `kernel w[${c},${og}] (to output channel ${oc})`, cls: (pos) => (kHl.has(`${c}|${key(pos)}`) ? ['hl'] : []),
    }));
  }
  // The full output of the clicked channel: the cropped part dimmed, the clicked cell marked.
  const full = r.distribute.full_shape, fp = prod(full);
  const at = r.cell.position.map((q, a) => q + p.pad_begin[a]);
  box.append(grid({
    name: 'dist-full', ch: oc, shape: full, values: r.distribute.full.values.slice(oc * fp, (oc + 1) * fp),
    caption: `full output, channel ${oc} (${full.join('\u00d7')}), before cropping`,
    cls: (pos) => {
      const cls = [];
      if (pos.some((x, a) => x < p.pad_begin[a] || x >= full[a] - p.pad_end[a])) cls.push('dim');
      if (key(pos) === key(at)) cls.push('sel');
      return cls;
    },
  }));
}

function renderStep() {
  const r = result;
  if (!r) return;
  const steps = r.distribute.steps || [];
  const n = steps.length, s = state.step;
  const box = $('step-grids');
  box.replaceChildren();
  const p = r.problem, full = r.distribute.full_shape, fp = prod(full), sp = prod(p.input);
  const words = axisWords();
  if (s === 0) {
    $('step-label').textContent = `Step 0 of ${n}: the full output starts at zero.`;
  } else {
    const st = steps[s - 1];
    $('step-label').textContent = `Step ${s} of ${n}: x[${st.channel}][${key(st.position)}] = ${fmt(st.value)} times the kernel, `
      + `added with its first weight at ${st.at.map((x, a) => `${words[a]} ${x}`).join(', ')} of the full output.`;
  }
  const cur = s > 0 ? steps[s - 1] : null;
  for (let c = 0; c < p.in_channels; c++) {
    box.append(grid({
      name: 'step-input', ch: c, shape: p.input, values: r.input.values.slice(c * sp, (c + 1) * sp),
      caption: `input${p.in_channels > 1 ? ` channel ${c}` : ''}`,
      cls: (pos, f) => {
        const order = c * sp + f + 1;  // steps go through the input in order
        if (cur && cur.channel === c && key(cur.position) === key(pos)) return ['hl'];
        return order < s ? [] : ['zero'];
      },
    }));
  }
  const placed = new Set(cur ? r.views.step_cells[s - 1].map(key) : []);
  const running = cur ? cur.running : new Array(p.out_channels * fp).fill(0);
  for (let o = 0; o < p.out_channels; o++) {
    box.append(grid({
      name: 'step-full', ch: o, shape: full, values: running.slice(o * fp, (o + 1) * fp),
      caption: `full output${p.out_channels > 1 ? ` channel ${o}` : ''} after step ${s}`,
      cls: (pos) => {
        const cls = [];
        if (placed.has(key(pos))) cls.push('step');
        if (pos.some((x, a) => x < p.pad_begin[a] || x >= full[a] - p.pad_end[a])) cls.push('dim');
        return cls;
      },
    }));
  }
  $('step-play').textContent = state.timer ? 'Pause' : 'Play';
  $('step-play').setAttribute('aria-label', state.timer ? 'pause' : 'play');
}

function setStep(s) {
  if (!result) return;
  const n = (result.distribute.steps || []).length;
  state.step = Math.max(0, Math.min(n, s));
  renderStep();
}

const stepCount = () => (result && result.distribute.steps ? result.distribute.steps.length : 0);

function stopPlay() {
  if (!state.timer) return;
  clearInterval(state.timer);
  state.timer = null;
  renderStep();
}

function togglePlay() {
  if (state.timer) { stopPlay(); return; }
  if (state.step >= stepCount()) state.step = 0;
  state.timer = setInterval(() => {
    if (state.step >= stepCount()) stopPlay();
    else setStep(state.step + 1);
  }, 700);
  renderStep();
}

function renderCollect(r) {
  const box = $('collect-grids');
  box.replaceChildren();
  const p = r.problem, terms = termsOf(r), oc = r.cell.channel;
  const pad = r.collect.padded, ps = pad.shape.slice(1), pp = prod(ps);
  const keff = p.kernel.map((k, a) => p.dilation[a] * (k - 1) + 1);
  const icg = p.in_channels / p.groups, ocg = p.out_channels / p.groups, grp = Math.floor(oc / ocg);
  const valHl = new Set(terms.map((t) => `${t.input_channel}|${key(t.padded)}`));
  for (let c = grp * icg; c < (grp + 1) * icg; c++) {
    box.append(grid({
      name: 'padded', ch: c, shape: ps, values: pad.values.slice(c * pp, (c + 1) * pp),
      caption: `zero-inserted, padded input${p.in_channels > 1 ? ` channel ${c}` : ''} (${ps.join('\u00d7')})`,
      cls: (pos, f) => {
        const cls = frame(pos, r.cell.position, keff);
        if (!r.views.padded_value[c * pp + f]) cls.push('zero');
        if (valHl.has(`${c}|${key(pos)}`)) cls.push('hl');
        return cls;
      },
    }));
  }
  const fl = r.collect.flipped, kp = prod(keff);
  const tapHl = new Set(terms.map((t) => `${t.input_channel - grp * icg}|${key(t.flipped)}`));
  for (let j = 0; j < icg; j++) {
    const base = (oc * icg + j) * kp;
    box.append(grid({
      name: 'flipped', ch: grp * icg + j, shape: keff, values: fl.values.slice(base, base + kp),
      caption: `kernel turned 180\u00b0${p.dilation.some((x) => x > 1) ? ', dilated' : ''} (input channel ${grp * icg + j} \u2192 output channel ${oc})`,
      cls: (pos, f) => {
        const cls = [];
        if (!r.views.flipped_tap[base + f]) cls.push('hole');
        if (tapHl.has(`${j}|${key(pos)}`)) cls.push('hl');
        return cls;
      },
    }));
  }
  box.append(el('p', { class: 'hint', text: `Zeros inserted between input values: ${p.stride.map((s) => s - 1).join(', ')} (per axis); `
    + `padding before: ${r.collect.lead.join(', ')}, after: ${r.collect.trail.join(', ')} (negative: cut off).` }));
}

function renderMatrix(r) {
  const box = $('matrix');
  box.replaceChildren();
  const m = r.matrix, rows = m.cols, cols = m.rows;  // C^T: one row per output cell, one column per input cell
  if (rows > 144 || cols > 64) {
    box.append(el('p', { class: 'hint', text: `C\u1d40 is ${rows}\u00d7${cols}: too large to show here (at most 144\u00d764). `
      + 'Use smaller sizes, or tconv matrix in a terminal.' }));
    return;
  }
  const dense = Array.from({ length: rows }, () => new Array(cols).fill(0));
  const nz = Array.from({ length: rows }, () => new Array(cols).fill(false));
  for (const [i, o, v] of m.C_triplets) { dense[o][i] = v; nz[o][i] = true; }
  const p = r.problem, oshape = [p.out_channels, ...p.output], ishape = [p.in_channels, ...p.input];
  const y = r.matrix.output.values, x = r.input.values;
  const table = el('table', { class: 'grid matrix', 'data-grid': 'ct' });
  const head = el('tr', {}, el('th', { text: 'C\u1d40' }));
  for (let c = 0; c < cols; c++) {
    const ix = unflat(c, ishape);
    head.append(el('th', { text: `x${p.in_channels > 1 ? `[${ix[0]}]` : ''}[${key(ix.slice(1))}]=${fmt(x[c])}` }));
  }
  head.append(el('th', { text: 'y' }));
  table.append(head);
  for (let rr = 0; rr < rows; rr++) {
    const ox = unflat(rr, oshape);
    const tr = el('tr', { 'data-row': rr, class: rr === r.formula.ct_row ? 'hl' : '' });
    tr.append(el('th', { text: `y${p.out_channels > 1 ? `[${ox[0]}]` : ''}[${key(ox.slice(1))}]` }));
    for (let c = 0; c < cols; c++) tr.append(el('td', { class: nz[rr][c] ? 'nz' : 'zero', text: fmt(dense[rr][c]) }));
    tr.append(el('td', { class: 'y', text: fmt(y[rr]) }));
    table.append(tr);
  }
  box.append(table);
}

function renderOverlap(r) {
  const box = $('overlap');
  box.replaceChildren();
  const ov = r.overlap;
  const shade = (v) => {
    const t = ov.max > 0 ? v / ov.max : 0;
    return `background: hsl(28, 95%, ${Math.round(97 - 45 * t)}%)`;
  };
  const g = grid({ name: 'overlap', ch: 0, shape: ov.shape, values: ov.values, caption: `taps per output cell (${ov.shape.join('\u00d7')})` });
  g.querySelectorAll('td').forEach((td) => td.setAttribute('style', shade(Number(td.dataset.value))));
  box.append(g);
  const pu = ov.pattern_unevenness;
  $('overlap-text').textContent = `From ${fmt(ov.min)} to ${fmt(ov.max)} taps per cell. Far from the borders the counts repeat `
    + `every ${ov.period.join('\u00d7')} cells as ${ov.pattern.map(fmt).join(', ')}: unevenness (max\u2212min)/max = ${fmt(pu)}`
    + (pu === 0 ? ', an even cover (no checkerboard; only the borders get fewer taps).' : ', a checkerboard pattern.');
}

function renderTranslate() {
  if (!result) return;
  document.querySelectorAll('#tabs [role=tab]').forEach((b) => {
    b.setAttribute('aria-selected', String(b.dataset.fw === tab));
    b.tabIndex = b.dataset.fw === tab ? 0 : -1;
  });
  const t = result.translate[tab];
  $('code').textContent = t.code;
  $('code-status').textContent = !t.representable ? 'Not representable in this framework (see the notes).'
    : t.exact ? `Exact: the same output shape (${t.output_shape.join(', ')}); weights stored as ${t.weights}.`
      : `With a recipe (see the notes); weights stored as ${t.weights}.`;
  const notes = $('code-notes');
  notes.replaceChildren(...t.notes.map((n) => el('li', { text: n })));
}

// ------------------------------------------------------------------ controls

function readControls() {
  state.rank = Number($('rank').value);
  state.isize = sizes($('isize').value, 'input size');
  state.ksize = sizes($('ksize').value, 'kernel size');
  for (const k of ['ic', 'oc', 'groups']) {
    const v = Number($(k).value);
    if (!Number.isInteger(v) || v < 1 || v > 4) throw new Error(`${k === 'ic' ? 'in channels' : k === 'oc' ? 'out channels' : 'groups'}: ${$(k).value} must be a whole number in [1, 4]`);
  }
  const ic = Number($('ic').value), oc = Number($('oc').value), g = Number($('groups').value);
  if (oc % g !== 0) throw new Error(`groups=${g} must divide out channels=${oc}`);
  if (ic % g !== 0) throw new Error(`groups=${g} must divide in channels=${ic}`);
  for (const k of Object.keys(state.params)) state.params[k] = $(k).value;
  const oldIn = inputShape(), oldK = kernelShape(), oldOc = state.oc;
  state.ic = ic; state.oc = oc; state.groups = g;
  state.input = resize(state.input, oldIn, inputShape(), 0);
  state.kernel = resize(state.kernel, oldK, kernelShape(), 0);
  state.bias = resize(state.bias, [oldOc], [oc], 0);
  state.useBias = $('use-bias').checked;
}

function writeControls() {
  $('rank').value = String(state.rank);
  $('isize').value = state.isize.join(',');
  $('ksize').value = state.ksize.join(',');
  $('ic').value = state.ic; $('oc').value = state.oc; $('groups').value = state.groups;
  for (const [k, v] of Object.entries(state.params)) $(k).value = v;
  $('use-bias').checked = state.useBias;
}

function resetCell() { stopPlay(); state.cell = { channel: 0, position: new Array(state.rank).fill(0) }; state.step = 0; }

function onControl() {
  try {
    const oldRank = state.rank, shapes = key(inputShape()) + '|' + key(kernelShape());
    readControls();
    if (state.rank !== oldRank) {  // a new rank: sizes per axis start over
      state.isize = new Array(state.rank).fill(state.isize[0]);
      state.ksize = new Array(state.rank).fill(state.ksize[0]);
      state.input = new Array(prod(inputShape())).fill(1);
      state.kernel = new Array(prod(kernelShape())).fill(1);
      writeControls();
    }
    if (shapes !== key(inputShape()) + '|' + key(kernelShape()) || state.rank !== oldRank) state.step = 0;
    resetCell();  // the output's shape may have changed
    editableGrids();
    schedule();
  } catch (err) {
    showError(err.message);
  }
}

function fill(kind) {
  try { readControls(); } catch (err) { showError(err.message); return; }
  const rnd = () => Math.floor(Math.random() * 7) - 3;
  const f = kind === 'ones' ? () => 1 : rnd;
  state.input = state.input.map(f);
  state.kernel = state.kernel.map(f);
  if (state.useBias) state.bias = state.bias.map(f);
  state.example = null;
  $('preset').value = '';
  $('preset-source').textContent = '';
  editableGrids();
  schedule(true);
}

function loadExample(name) {
  const ex = examples.find((e) => e.name === name);
  if (!ex) return;
  state.example = ex.name;
  state.rank = ex.rank;
  state.ic = ex.input.shape[0];
  state.isize = ex.input.shape.slice(1);
  state.groups = ex.groups;
  state.oc = ex.kernel.shape[1] * ex.groups;
  state.ksize = ex.kernel.shape.slice(2);
  state.input = ex.input.values.slice();
  state.kernel = ex.kernel.values.slice();
  state.useBias = !!ex.bias;
  state.bias = ex.bias ? ex.bias.slice() : new Array(state.oc).fill(0);
  const one = (v) => (v.every((x) => x === v[0]) ? String(v[0]) : v.join(','));
  state.params = { stride: one(ex.stride), padding: one(ex.padding), output_padding: one(ex.output_padding), dilation: one(ex.dilation) };
  $('preset-source').textContent = `${ex.source}: ${ex.description}`;
  resetCell();
  writeControls();
  editableGrids();
  schedule(true);
}

async function start() {
  const sel = $('preset');
  sel.append(el('option', { value: '', text: '(your own)' }));
  try {
    examples = await (await fetch('/api/examples')).json();
  } catch (err) {
    showError(`Cannot load the seeds' examples: ${err.message}`);
  }
  for (const ex of examples) sel.append(el('option', { value: ex.name, text: `${ex.name}: ${ex.description}` }));
  sel.addEventListener('change', () => {
    if (sel.value) loadExample(sel.value);
    else { state.example = null; $('preset-source').textContent = ''; schedule(true); }
  });
  $('fill-random').addEventListener('click', () => fill('random'));
  $('fill-ones').addEventListener('click', () => fill('ones'));
  for (const id of ['rank', 'isize', 'ksize', 'ic', 'oc', 'groups', 'stride', 'padding', 'output_padding', 'dilation', 'use-bias'])
    $(id).addEventListener(id === 'rank' || id === 'use-bias' ? 'change' : 'input', onControl);
  $('step-first').addEventListener('click', () => setStep(0));
  $('step-prev').addEventListener('click', () => setStep(state.step - 1));
  $('step-next').addEventListener('click', () => setStep(state.step + 1));
  $('step-last').addEventListener('click', () => setStep(Infinity));
  $('step-play').addEventListener('click', togglePlay);
  $('stepper').addEventListener('keydown', (ev) => {
    const act = { ArrowRight: () => setStep(state.step + 1), ArrowLeft: () => setStep(state.step - 1),
      Home: () => setStep(0), End: () => setStep(Infinity), ' ': togglePlay }[ev.key];
    if (!act || (ev.key === ' ' && ev.target.tagName === 'BUTTON')) return;
    ev.preventDefault();
    act();
  });
  const tabs = [...document.querySelectorAll('#tabs [role=tab]')];
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => { tab = b.dataset.fw; renderTranslate(); });
    b.addEventListener('keydown', (ev) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!d) return;
      const nb = tabs[(i + d + tabs.length) % tabs.length];
      tab = nb.dataset.fw; renderTranslate(); nb.focus();
    });
  });
  const first = examples.find((e) => e.name === 'seed000-2d');
  if (first) { sel.value = first.name; loadExample(first.name); }
  else { state.input = [1, 2, 3, 4]; state.kernel = new Array(9).fill(1); writeControls(); editableGrids(); schedule(true); }
}

start();
