// lb web dashboard: reads the same admin API as `lb monitor` (one contract), polls it at the chosen
// interval, and drives it. Every value from the API is inserted as text (textContent), never as HTML.
// No build step: plain browser JavaScript; uPlot (served by lb from node_modules) draws the charts.
'use strict';

(() => {
  const SERIES = 60;
  const $ = (id) => document.getElementById(id);
  const state = {
    intervalMs: 2000,
    paused: false,
    timer: null,
    polling: false,
    token: sessionStorage.getItem('lb-token'),
    previous: null,
    history: { t: [], rps: [], errors: [], latency: new Map(), active: new Map() },
    charts: {},
    seenEvents: new Set(),
    testTimer: null,
  };

  // ---- API ----

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = {};
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    // The admin API refuses changes without a JSON content type (what keeps other sites' pages out).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError('the balancer is unreachable', 0);
    }
    const data = await res.json().catch(() => null);
    if (res.status === 401) {
      askToken();
      throw new ApiError('the admin API needs its token', 401);
    }
    if (!res.ok) throw new ApiError((data && data.error && data.error.message) || `HTTP ${res.status}`, res.status);
    return data;
  }

  function askToken() {
    const dialog = $('token-dialog');
    if (!dialog.open) dialog.showModal();
  }

  // ---- helpers ----

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function toast(message, isError) {
    const node = el('div', message, isError ? 'toast error' : 'toast');
    node.setAttribute('role', isError ? 'alert' : 'status');
    $('toasts').append(node);
    setTimeout(() => node.remove(), isError ? 7000 : 4000);
  }

  async function act(what, call) {
    try {
      const result = await call();
      toast(result);
      await poll();
    } catch (err) {
      toast(`${what} failed: ${err.message}`, true);
    }
  }

  const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const pct = (rate) => `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
  function duration(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }
  const push = (array, value) => {
    array.push(value);
    if (array.length > SERIES) array.shift();
  };

  // ---- polling ----

  function schedule() {
    clearTimeout(state.timer);
    if (!state.paused) state.timer = setTimeout(poll, state.intervalMs);
  }

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    clearTimeout(state.timer);
    try {
      const stats = await api('GET', '/lb/stats');
      render(stats);
      setConnection('live', 'live');
      const history = await api('GET', '/lb/history');
      renderEvents(history.events);
    } catch (err) {
      setConnection(state.previous ? 'stale' : 'down', err.status === 401 ? 'token needed' : `unreachable: ${err.message}`);
    } finally {
      state.polling = false;
      schedule();
    }
  }

  function setConnection(kind, text) {
    const badge = $('connection');
    badge.className = `badge ${kind}`;
    badge.textContent = state.paused && kind === 'live' ? 'paused' : text;
  }

  // ---- rendering ----

  function render(stats) {
    const now = Date.now();
    const before = state.previous;
    const seconds = before ? (now - before.at) / 1000 : 0;
    const rate = (a, b) => (seconds > 0 && a >= b ? (a - b) / seconds : 0);
    const rps = before ? rate(stats.totals.requests, before.stats.totals.requests) : 0;
    const errorsPerSecond = before ? rate(stats.totals.failures, before.stats.totals.failures) : 0;
    const newRequests = before ? Math.max(0, stats.totals.requests - before.stats.totals.requests) : 0;
    const newFailures = before ? Math.max(0, stats.totals.failures - before.stats.totals.failures) : 0;
    state.previous = { at: now, stats };

    $('target').textContent = stats.url;
    $('ov-algorithm').textContent = stats.algorithm;
    $('ov-servers').textContent = `${stats.servers.filter((s) => s.state === 'up').length} / ${stats.servers.length}`;
    $('ov-rps').textContent = fmt(rps);
    $('ov-errors').textContent = pct(newRequests > 0 ? newFailures / newRequests : 0);
    $('ov-active').textContent = String(stats.totals.activeRequests);
    $('ov-total').textContent = String(stats.totals.requests);
    $('ov-sessions').textContent = stats.sessions.mode === 'off' ? 'off' : String(stats.sessions.active);
    const limits = stats.limits;
    $('ov-limited').textContent = limits.rateLimitPerSecond > 0 ? `${stats.totals.rateLimited} (${limits.rateLimitPerSecond}/s)` : 'off';
    $('ov-uptime').textContent = duration(stats.uptimeSeconds);

    const select = $('algorithm');
    if (select.options.length !== stats.algorithms.length) {
      select.replaceChildren(...stats.algorithms.map((name) => el('option', name)));
    }
    if (document.activeElement !== select) select.value = stats.algorithm;

    renderServers(stats.servers);
    renderDistribution(stats.servers);

    const h = state.history;
    push(h.t, now / 1000);
    push(h.rps, rps);
    push(h.errors, errorsPerSecond);
    for (const s of stats.servers) {
      if (!h.latency.has(s.id)) {
        h.latency.set(s.id, new Array(h.t.length - 1).fill(null));
        h.active.set(s.id, new Array(h.t.length - 1).fill(null));
      }
    }
    for (const [id, series] of h.latency) {
      const server = stats.servers.find((s) => s.id === id);
      if (!server) {
        h.latency.delete(id);
        h.active.delete(id);
        continue;
      }
      push(series, server.ewmaLatencyMs);
      push(h.active.get(id), server.activeRequests);
    }
    renderCharts();
  }

  function renderServers(servers) {
    const rows = servers.map((s) => {
      const tr = el('tr');
      tr.dataset.server = s.id;
      tr.append(
        el('td', s.id),
        el('td', s.state, `state ${s.state}`),
        el('td', s.activeRequests),
        el('td', s.totalRequests),
        el('td', s.totalFailures),
        el('td', pct(s.errorRate)),
        el('td', fmt(s.avgResponseTimeMs)),
        el('td', fmt(s.p99ResponseTimeMs)),
        el('td', s.weight),
        el('td', s.circuit),
      );
      const actions = el('td', null, 'actions');
      const draining = s.state === 'draining' || s.state === 'drained';
      const drain = el('button', draining ? 'Undrain' : 'Drain', 'secondary');
      drain.type = 'button';
      drain.addEventListener('click', () =>
        act('drain', async () => `${s.id}: ${(await api('PATCH', `/api/servers/${encodeURIComponent(s.id)}`, { drain: !draining })).server.state}`),
      );
      const weight = el('input');
      weight.value = String(s.weight);
      weight.setAttribute('aria-label', `weight of ${s.id}`);
      weight.inputMode = 'numeric';
      const setWeight = el('button', 'Set', 'secondary');
      setWeight.type = 'button';
      setWeight.addEventListener('click', () => {
        const value = Number(weight.value.trim());
        if (!Number.isInteger(value) || value < 1 || value > 1000) return toast('weight must be an integer 1-1000', true);
        act('set weight', async () => `${s.id}: weight ${(await api('PATCH', `/api/servers/${encodeURIComponent(s.id)}`, { weight: value })).server.weight}`);
      });
      const remove = el('button', 'Remove', 'danger');
      remove.type = 'button';
      remove.addEventListener('click', () => {
        if (!window.confirm(`Remove ${s.id}?`)) return;
        act('remove', async () => `removed ${(await api('DELETE', `/api/servers/${encodeURIComponent(s.id)}`)).removed.id}`);
      });
      actions.append(drain, weight, setWeight, remove);
      tr.append(actions);
      return tr;
    });
    // Keep a weight field the user is typing in: rebuild unless focus is in one of the table's inputs.
    const tbody = $('servers').querySelector('tbody');
    const typing = tbody.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
    if (!typing) tbody.replaceChildren(...rows);
    if (servers.length === 0) {
      const empty = el('td', 'no servers: add one below', 'muted');
      empty.colSpan = 11;
      const tr = el('tr');
      tr.append(empty);
      tbody.replaceChildren(tr);
    }
  }

  function renderDistribution(servers) {
    const total = servers.reduce((n, s) => n + s.totalRequests, 0);
    const rows = servers.map((s) => {
      const share = total === 0 ? 0 : s.totalRequests / total;
      const row = el('div', null, 'row');
      const track = el('div', null, 'track');
      const fill = el('div', null, 'fill');
      fill.style.width = `${(share * 100).toFixed(1)}%`;
      track.append(fill);
      row.append(el('span', s.id, 'name'), track, el('span', pct(share)));
      return row;
    });
    $('distribution').replaceChildren(...rows);
  }

  function chartWidth(id) {
    return Math.max(200, $(id).clientWidth || 320);
  }

  function makeChart(id, seriesNames) {
    const opts = {
      width: chartWidth(id),
      height: 180,
      legend: { show: true },
      axes: [{ stroke: '#8593a3', grid: { stroke: '#263241' } }, { stroke: '#8593a3', grid: { stroke: '#263241' } }],
      series: [{}, ...seriesNames.map((name, i) => ({ label: name, stroke: ['#58a6ff', '#f85149', '#3fb950', '#d2a8ff', '#d29922', '#79c0ff'][i % 6], width: 2 }))],
    };
    return new uPlot(opts, [[], ...seriesNames.map(() => [])], $(id));
  }

  function setChart(key, id, names, columns) {
    const signature = names.join('\u0000');
    let chart = state.charts[key];
    if (!chart || chart.signature !== signature) {
      if (chart) chart.plot.destroy();
      chart = { plot: makeChart(id, names), signature };
      state.charts[key] = chart;
    }
    chart.plot.setData([state.history.t, ...columns]);
  }

  function renderCharts() {
    if (typeof uPlot === 'undefined') return;
    const h = state.history;
    setChart('traffic', 'chart-traffic', ['req/s', 'errors/s'], [h.rps, h.errors]);
    setChart('latency', 'chart-latency', [...h.latency.keys()], [...h.latency.values()]);
    setChart('active', 'chart-active', [...h.active.keys()], [...h.active.values()]);
  }

  function renderEvents(events) {
    const list = $('events');
    for (const e of events) {
      const key = `${e.time}|${e.type}|${e.server}|${e.detail}`;
      if (state.seenEvents.has(key)) continue;
      state.seenEvents.add(key);
      const text = `${e.time.slice(11, 19)}  ${e.type}${e.server ? ` ${e.server}` : ''}${e.detail ? `: ${e.detail}` : ''}`;
      list.prepend(el('li', text));
    }
    while (list.children.length > 100) list.lastChild.remove();
  }

  // ---- forms and buttons ----

  $('add-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const host = $('add-host').value.trim();
    const portText = $('add-port').value.trim();
    const weightText = $('add-weight').value.trim();
    const port = Number(portText);
    const weight = weightText === '' ? undefined : Number(weightText);
    let problem = '';
    if (host === '' || /[\s/?#@]/.test(host)) problem = 'host must be a host name or IP address';
    else if (!Number.isInteger(port) || port < 1 || port > 65535) problem = 'port must be an integer 1-65535';
    else if (weight !== undefined && (!Number.isInteger(weight) || weight < 1 || weight > 1000)) problem = 'weight must be an integer 1-1000';
    $('add-error').textContent = problem;
    if (problem) return;
    act('add server', async () => {
      const body = weight === undefined ? { host, port } : { host, port, weight };
      const result = await api('POST', '/lb/add-server', body);
      $('add-form').reset();
      return `added ${result.server.id}`;
    });
  });

  $('apply-algorithm').addEventListener('click', () => {
    const algorithm = $('algorithm').value;
    act('switch algorithm', async () => {
      const result = await api('POST', '/lb/algorithm', { algorithm });
      return `algorithm: ${result.previous} -> ${result.algorithm}`;
    });
  });

  $('reset').addEventListener('click', () => {
    if (!window.confirm('Reset all counters?')) return;
    act('reset', async () => {
      await api('POST', '/lb/reset');
      state.previous = null;
      return 'counters reset';
    });
  });

  $('interval').addEventListener('change', () => {
    state.intervalMs = Number($('interval').value);
    schedule();
  });

  function togglePause() {
    state.paused = !state.paused;
    $('pause').textContent = state.paused ? 'Resume' : 'Pause';
    toast(state.paused ? 'auto-refresh paused' : 'auto-refresh resumed');
    if (state.paused) {
      clearTimeout(state.timer);
      setConnection($('connection').className.includes('live') ? 'live' : 'stale', 'paused');
    } else {
      poll();
    }
  }
  $('pause').addEventListener('click', togglePause);
  $('refresh').addEventListener('click', () => poll());

  document.addEventListener('keydown', (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (event.key === 'r' || event.key === 'R')) {
      event.preventDefault();
      poll();
    } else if (mod && (event.code === 'Space' || event.key === ' ')) {
      event.preventDefault();
      togglePause();
    }
  });

  $('token-form').addEventListener('submit', () => {
    state.token = $('token-input').value.trim() || null;
    if (state.token) sessionStorage.setItem('lb-token', state.token);
    poll();
  });

  // ---- built-in tests ----

  async function startTest(spec) {
    try {
      await api('POST', '/api/loadtest', spec);
      toast(`${spec.kind} test started`);
      watchTest();
    } catch (err) {
      toast(`test failed to start: ${err.message}`, true);
    }
  }

  $('test-load').addEventListener('click', () => startTest({ kind: 'load' }));
  $('test-stress').addEventListener('click', () => startTest({ kind: 'stress', durationSeconds: 30, concurrency: 20 }));
  $('test-custom').addEventListener('click', () => {
    const requests = Number($('custom-requests').value.trim());
    const concurrency = Number($('custom-concurrency').value.trim());
    if (!Number.isInteger(requests) || requests < 1 || requests > 10000) return toast('requests must be an integer 1-10000', true);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) return toast('concurrency must be an integer 1-100', true);
    startTest({ kind: 'custom', requests, concurrency });
  });
  $('test-stop').addEventListener('click', () => act('stop test', async () => (await api('POST', '/api/loadtest/stop'), 'stopping the test')));

  function watchTest() {
    clearTimeout(state.testTimer);
    const tick = async () => {
      let status;
      try {
        status = await api('GET', '/api/loadtest');
      } catch (err) {
        $('test-status').textContent = `cannot read the test: ${err.message}`;
        return;
      }
      renderTest(status);
      if (status.running) {
        state.testTimer = setTimeout(tick, 250);
        return;
      }
      if (status.summary) toast(`test done: ${status.summary.requests.succeeded} of ${status.summary.requests.issued} succeeded`);
      else if (status.error) toast(`test failed: ${status.error}`, true);
      poll(); // the counters now include the test's requests
    };
    tick();
  }

  function renderTest(status) {
    const running = status.running;
    for (const id of ['test-load', 'test-stress', 'test-custom']) $(id).disabled = running;
    $('test-stop').hidden = !running;
    const bar = $('test-progress');
    const p = status.progress;
    bar.hidden = !running;
    if (p) {
      bar.value = p.total ? p.done / p.total : p.durationMs ? Math.min(1, p.elapsedMs / p.durationMs) : 0;
      $('test-status').textContent = running
        ? `${status.spec.kind}: ${p.total ? `${p.done}/${p.total}` : `${Math.round(p.elapsedMs / 1000)}s/${Math.round(p.durationMs / 1000)}s`}, ${fmt(p.currentRps, 0)} req/s, ${p.errors} errors`
        : '';
    }
    const box = $('test-summary');
    if (!status.summary) {
      box.hidden = true;
      return;
    }
    const s = status.summary;
    const l = s.latencyMs;
    const head = el('div', `${status.spec.kind} test: ${s.requests.issued} requests in ${fmt(s.durationSeconds, 2)} s, ${fmt(s.throughputRps)} req/s, ${s.requests.succeeded} succeeded, ${s.requests.failed} failed (${pct(s.errorRate)})`);
    const latency = el('div', `latency mean ${fmt(l.meanMs, 2)} ms, p50 ${fmt(l.p50Ms, 2)}, p90 ${fmt(l.p90Ms, 2)}, p99 ${fmt(l.p99Ms, 2)}, max ${fmt(l.maxMs, 2)} ms`, 'muted');
    const table = el('table');
    const header = el('tr');
    for (const name of ['Server', 'Requests', 'Share', 'P99 ms', 'Errors']) header.append(el('th', name));
    table.append(header, ...s.servers.map((x) => {
      const tr = el('tr');
      tr.append(el('td', x.id), el('td', x.requests), el('td', pct(x.share)), el('td', fmt(x.p99Ms, 2)), el('td', x.errors));
      return tr;
    }));
    box.replaceChildren(head, latency, table);
    box.hidden = false;
  }

  window.addEventListener('resize', () => {
    for (const [key, chart] of Object.entries(state.charts)) {
      const id = { traffic: 'chart-traffic', latency: 'chart-latency', active: 'chart-active' }[key];
      chart.plot.setSize({ width: chartWidth(id), height: 180 });
    }
  });

  poll();
  api('GET', '/api/loadtest').then((status) => {
    if (status.running) watchTest();
    else renderTest(status);
  }).catch(() => undefined);
})();
